"""Readable names for codes the reports show: ISO 3166 countries (Q.850 causes: cdrstats_common.q850)."""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def country(alpha_2: str) -> tuple[str, str]:
    """(name, ISO numeric) of an alpha-2 code; the numeric id is how world-atlas names its shapes."""
    found = pycountry.countries.get(alpha_2=alpha_2.upper()) if len(alpha_2) == 2 else None
    if found is None:
        return (alpha_2 or "Unknown", "")
    return (str(getattr(found, "common_name", found.name)), str(found.numeric))
