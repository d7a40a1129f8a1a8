"""Stripe's customer events, read as the billing sync's re-read (APIS.md section 2).

Stripe customers have no ``updated`` timestamp and no conditional update, so a sync must learn from
somewhere else whether a customer changed since it was landed. A GET per customer says it for one
customer; a page of the events list says it for up to 100 changes. The incremental land keeps each
landed copy current up to the land's read (it lands every customer an event names), so a customer
with no event since that land still holds its landed values, and one with events holds what its
newest event's ``data.object`` says.

:class:`EventFeed` reads the events of a window once (from the newest landed copy in play, less an
overlap for events that reach the list late), then, before each batch, only the events newer than
the newest it has seen. Writes come back as events too: each carries the idempotency key of its
request and, in ``previous_attributes``, the values it replaced (the changed top-level attributes,
each whole). :meth:`EventFeed.replaced` gives them to the client, which checks that a write replaced
the values it was planned against, and puts back the ones it was not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from customer_sync.sync.http import ApiClient

log = logging.getLogger(__name__)

PAGE_LIMIT = 100
EVENT_TYPES = ("customer.created", "customer.updated", "customer.deleted")
# Stripe keeps events 30 days; a window that starts within an hour of that edge is not read
RETENTION_SECONDS = 30 * 24 * 3600
RETENTION_MARGIN_SECONDS = 3600
# events of the last minutes may reach the list late: the window starts this long before the land
OVERLAP_SECONDS = 300

# a top-level attribute the write did not change: absent from previous_attributes
UNCHANGED = object()


@dataclass
class CustomerState:
    """A customer as its newest event left it."""

    customer: dict[str, Any]
    deleted: bool


@dataclass
class EventFeed:
    """The customers changed since ``since`` (epoch seconds), kept current one page at a time."""

    api: ApiClient
    since: int
    states: dict[str, CustomerState] = field(default_factory=dict)
    # the idempotency keys of the writes whose events are awaited, and what each write replaced
    awaited: set[str] = field(default_factory=set)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    newest_id: str | None = None
    _has_more: bool = field(default=False, repr=False)

    @classmethod
    def usable_since(cls, since: float) -> bool:
        """Whether the events list still holds every event from ``since`` on."""
        horizon = time.time() - RETENTION_SECONDS + RETENTION_MARGIN_SECONDS
        return since >= horizon

    def refresh(self) -> None:
        """Read the events newer than the newest seen (the whole window the first time)."""
        if self.newest_id is None:
            self._read_window()
        else:
            self._read_newer()

    def state(self, customer_id: str) -> CustomerState | None:
        """The customer as its newest event in the window left it, or None: unchanged since landed."""
        return self.states.get(customer_id)

    def expect(self, idempotency_keys: Iterable[str]) -> None:
        """Keep what the writes sent with these keys replace, when their events are read."""
        self.awaited.update(idempotency_keys)

    def replaced(self, idempotency_key: str) -> dict[str, Any] | None:
        """``previous_attributes`` of the write sent with ``idempotency_key``, once its event is read."""
        return self.by_key.get(idempotency_key)

    def forget(self, customer_id: str, idempotency_key: str) -> None:
        """Drop what is kept for a customer whose write was checked: the run does not read it again."""
        self.states.pop(customer_id, None)
        self.by_key.pop(idempotency_key, None)
        self.awaited.discard(idempotency_key)

    def _read_window(self) -> None:
        # newest first: the first event seen of a customer is its newest
        params: dict[str, Any] = {
            "limit": PAGE_LIMIT,
            "types[]": list(EVENT_TYPES),
            "created[gte]": self.since,
        }
        first = True
        while True:
            page = self._page(params)
            if first and page:
                self.newest_id = page[0]["id"]
                first = False
            for event in page:
                self._take(event, newest=False)
            if not page or not self._has_more:
                return
            params = {**params, "starting_after": page[-1]["id"]}

    def _read_newer(self) -> None:
        # ending_before walks towards newer events; each page comes newest first
        while True:
            params = {"limit": PAGE_LIMIT, "types[]": list(EVENT_TYPES), "ending_before": self.newest_id}
            page = self._page(params)
            if not page:
                return
            self.newest_id = page[0]["id"]
            for event in reversed(page):
                self._take(event, newest=True)
            if not self._has_more:
                return

    def _page(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        body = self.api.read("GET", "/v1/events", params=params) or {}
        self._has_more = bool(body.get("has_more"))
        return list(body.get("data") or [])

    def _take(self, event: dict[str, Any], newest: bool) -> None:
        """Record one event; ``newest``: it is newer than every event taken so far."""
        data = event.get("data") or {}
        customer = data.get("object") or {}
        customer_id = customer.get("id")
        if not customer_id:
            return
        if newest or customer_id not in self.states:
            deleted = event.get("type") == "customer.deleted" or bool(customer.get("deleted"))
            self.states[customer_id] = CustomerState(customer, deleted)
        key = (event.get("request") or {}).get("idempotency_key")
        if key in self.awaited and event.get("type") == "customer.updated":
            self.by_key[key] = dict(data.get("previous_attributes") or {})


def replaced_value(previous: dict[str, Any], name: str) -> Any:
    """The value a write replaced for a parameter name (``phone``, ``address[city]``), from
    ``previous_attributes``: :data:`UNCHANGED` when the write did not change it."""
    if "[" not in name:
        return previous.get(name, UNCHANGED)
    parent, child = name[:-1].split("[", 1)
    if parent not in previous:
        return UNCHANGED
    whole = previous[parent]
    return (whole or {}).get(child)
