"""The list pages' paging: which rows a page's number asks for, and what the `pager` macro
(`_macros.html`) draws its links from — the page, the total, the page size and the filters
set, as a query string."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from switchboard.services.paging import Window

PAGE_SIZE = 25


def page_number(page: int) -> int:
    """The page an address asks for: anything before the first is the first."""
    return max(page, 1)


def rows_of(page: int) -> Window:
    """The rows page `page` (counted from 1) shows."""
    return Window(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)


def filter_query(filters: Mapping[str, str]) -> str:
    """The filters that are set, as the query string the pager's links keep."""
    return urlencode({name: value for name, value in filters.items() if value})


def pager(page: int, total: int) -> dict[str, int]:
    """The page's place among `total` rows, for the `pager` macro."""
    return {"total": total, "page": page, "page_size": PAGE_SIZE}


def filtered(filters: Mapping[str, str]) -> dict[str, Any]:
    """The filters as the page's form shows them and as the pager's links keep them."""
    return {"filters": filters, "query": filter_query(filters)}
