"""Paginators for the APIs whose paging dlt's built-in paginators do not cover.

Each subclasses dlt's ``BasePaginator`` (or a built-in one) and only adds what that API needs.
"""

from __future__ import annotations

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONResponseCursorPaginator
from requests import Request, Response


class HubSpotSearchPaginator(JSONResponseCursorPaginator):
    """HubSpot search: a numeric offset in the body's ``after``, and a hard cap of 10,000 results per query.

    dlt's cursor paginator would page into the cap and get a 400; this one stops before it and sets
    ``capped`` so the caller restarts the query from the last modification time it saw.
    """

    def __init__(self, limit: int, max_results: int = 10_000) -> None:
        super().__init__(cursor_path="paging.next.after", cursor_body_path="after")
        self.limit = limit
        self.max_results = max_results
        self.capped = False

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if self._next_reference is not None and int(self._next_reference) + self.limit > self.max_results:
            self.capped = True
            self._has_next_page = False


class StripeListPaginator(BasePaginator):
    """Stripe lists: ``has_more`` and ``starting_after=<id of the last item on the page>``."""

    def __init__(self) -> None:
        super().__init__()
        self._last_id: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        items = body.get("data") or []
        self._last_id = items[-1]["id"] if items else None
        self._has_next_page = bool(body.get("has_more")) and self._last_id is not None

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "starting_after": self._last_id}


class ZendeskCursorExportPaginator(BasePaginator):
    """Zendesk cursor-based incremental export: follow ``after_cursor`` until ``end_of_stream``.

    ``after_cursor`` of the last page is where the next run resumes, so it stays readable afterwards.
    """

    def __init__(self) -> None:
        super().__init__()
        self.after_cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        if body.get("after_cursor"):
            self.after_cursor = body["after_cursor"]
        self._has_next_page = not body.get("end_of_stream", True) and bool(body.get("after_cursor"))

    def update_request(self, request: Request) -> None:
        params = {k: v for k, v in (request.params or {}).items() if k != "start_time"}
        request.params = {**params, "cursor": self.after_cursor}


class ZendeskTimeExportPaginator(BasePaginator):
    """Zendesk time-based incremental export: the next page starts at this page's ``end_time``."""

    def __init__(self) -> None:
        super().__init__()
        self.end_time: int | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        end_time = body.get("end_time")
        advanced = end_time is not None and (self.end_time is None or int(end_time) > self.end_time)
        if end_time is not None:
            self.end_time = int(end_time)
        # a page that does not move end_time forward would repeat forever: treat it as the end
        self._has_next_page = not body.get("end_of_stream", True) and advanced

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "start_time": self.end_time}
