"""Who may see what: the scope of a request as roll-up filters, and the search seam for filters roll-ups lack."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from cdrstats_reporting.domain.errors import PermissionDenied
from cdrstats_reporting.domain.rollup import Filters


class CdrSearch(Protocol):
    """Ingest's search (ExportCdrs) for filters with no roll-up dimension; ``query`` is opaque here."""

    def export(self, filters: Filters, query: Any, start_us: int, end_us: int) -> Iterator[dict[str, Any]]: ...


def scoped_accountcodes(scope_admin: bool, allowed_accountcodes: list[str]) -> list[str] | None:
    """None (no filter) for admins; a customer must name the account codes it may see."""
    if scope_admin:
        return None
    codes = sorted({code for code in allowed_accountcodes if code})
    if not codes:
        raise PermissionDenied("scope: a non-admin query needs allowed_accountcodes")
    return codes


def selection(scope_admin: bool, allowed: list[str], switch_id: str = "", accountcodes: Iterable[str] = ()) -> Filters:
    """The roll-up filters of a request: its scope, narrowed by a switch and account codes within the scope."""
    codes = scoped_accountcodes(scope_admin, allowed)
    wanted = sorted({code for code in accountcodes if code})
    if wanted:
        outside = [code for code in wanted if codes is not None and code not in codes]
        if outside:
            raise PermissionDenied(f"accountcode: {', '.join(outside)} not in the caller's scope")
        codes = wanted
    return Filters(switch_ids=[switch_id] if switch_id else None, accountcodes=codes)
