"""How a switch's CDRs are normalised: home country, time zone, number rules."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SwitchConfig:
    id: str
    name: str = ""
    type: str = "freeswitch"
    home_country: str = "US"  # ISO 3166 alpha-2, for numbers dialled without a country code
    time_zone: str = "UTC"  # for sources that write local times without a zone
    internal_extension_max_len: int = 5  # numbers this short (digits only) are extensions
    remove_prefixes: tuple[str, ...] = ()  # stripped before analysis, longest match first
    username: str = ""
    enabled: bool = True
