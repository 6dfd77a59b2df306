"""Search, export and replay use-cases: validate and scope once, then let the store page by keyset."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from cdrstats_ingest.domain import query as q
from cdrstats_ingest.store import CdrStore


@dataclasses.dataclass(frozen=True)
class SearchResult:
    cdrs: list[dict[str, Any]]
    next_cursor: str  # "" on the last page
    total: int | None  # when asked for


class CdrQueries:
    """Takes the store in its constructor; raises InvalidQuery / PermissionDenied for bad requests."""

    def __init__(self, store: CdrStore) -> None:
        self.store = store

    def search(
        self,
        scope: q.Scope,
        query: q.CdrQuery,
        *,
        sort_by: str = "",
        ascending: bool = False,
        page_size: int = 0,
        cursor: str = "",
        with_total: bool = False,
    ) -> SearchResult:
        size = q.page_size(page_size, default=q.DEFAULT_PAGE_SIZE, maximum=q.MAX_PAGE_SIZE, field="page_size")
        search = q.plan_search(scope, query, sort_by=sort_by, ascending=ascending, cursor=cursor)
        page = self.store.search_cdrs(search, size, with_total=with_total)
        next_cursor = q.encode_cursor(search, page.cdrs[-1]) if page.more and page.cdrs else ""
        return SearchResult(page.cdrs, next_cursor, page.total)

    def export(
        self,
        scope: q.Scope,
        query: q.CdrQuery,
        *,
        sort_by: str = "",
        ascending: bool = False,
        batch_size: int = 0,
        limit: int = 0,
    ) -> Iterator[list[dict[str, Any]]]:
        """Validates now (errors raise here, not at the first batch); the batches come lazily."""
        size = q.page_size(batch_size, default=q.DEFAULT_BATCH_SIZE, maximum=q.MAX_BATCH_SIZE, field="batch_size")
        if limit < 0:
            raise q.InvalidQuery(f"expected 0 (everything) or a positive number, got {limit}", field="limit")
        search = q.plan_search(scope, query, sort_by=sort_by, ascending=ascending)
        return self.store.export_cdrs(search, batch_size=size, limit=limit)

    def replay(self, after_id: str = "", batch_size: int = 0) -> Iterator[list[dict[str, Any]]]:
        """Every CDR stored after ``after_id`` in ingest order (for roll-up rebuilds; not tenant-scoped)."""
        size = q.page_size(batch_size, default=q.DEFAULT_BATCH_SIZE, maximum=q.MAX_BATCH_SIZE, field="batch_size")
        if len(after_id) > q.MAX_TEXT:
            raise q.InvalidQuery("is not a CDR id", field="after_id")
        return self.store.replay_cdrs(after_id, size)
