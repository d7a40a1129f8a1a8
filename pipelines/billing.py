"""The ``billing`` source (Stripe): customers.

- First run: a full load through ``GET /v1/customers`` (newest first, ``starting_after`` the last id),
  plus the customers that ``customer.deleted`` events still know (the list never shows deleted ones).
- Later runs: Stripe customers have no ``updated`` timestamp, so changes come from ``GET /v1/events``
  (``customer.created``, ``customer.updated``, ``customer.deleted``) created since the watermark minus
  an overlap; events already applied are skipped by id, and each customer lands once per run, as its
  newest event left it. The watermark is the newest event applied or, when that is older, the time the
  last run started reading, so a burst of events is re-read by one run, not by every run until the
  next event. A ``customer.deleted`` event lands the customer with ``deleted = true``.

The event-id window and the watermark are kept by hand in the resource state: dlt's ``incremental``
cannot re-read an overlap while skipping what it already landed (it de-duplicates only on its last
value), and events must be collapsed per customer before they are merged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from pipelines.http import REQUEST_TIMEOUT_S, api_client, text_columns, typed_columns
from pipelines.paginators import StripeListPaginator

logger = logging.getLogger(__name__)

PAGE_LIMIT = 100
EVENT_TYPES = ("customer.created", "customer.updated", "customer.deleted")
# events of the last minutes may still be on their way into the list; re-read them and skip by id
OVERLAP_S = 300
# under Stripe's sandbox limit of 25 requests/s (live mode allows 100/s)
REQUESTS_PER_SECOND = 20.0

CUSTOMER_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False, "primary_key": True},
    **text_columns(
        "name",
        "email",
        "phone",
        "description",
        "address__line1",
        "address__line2",
        "address__city",
        "address__state",
        "address__postal_code",
        "address__country",
        "metadata__golden_id",
        "currency",
        "test_clock",
    ),
    # an object or null; kept whole rather than flattened, staging does not read it
    **typed_columns(created="bigint", deleted="bool", shipping="json"),
}


@dlt.source(name="billing", section="billing")
def billing_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    request_timeout: float = REQUEST_TIMEOUT_S,
    requests_per_second: float = REQUESTS_PER_SECOND,
    overlap_seconds: int = OVERLAP_S,
) -> Any:
    """Stripe customers, merged on ``id``; deletes as ``deleted = true``."""
    client = api_client(
        base_url, BearerTokenAuth(token=api_token), rate=requests_per_second, timeout=request_timeout
    )
    yield dlt.resource(
        _customers(client, overlap_seconds),
        name="customers",
        primary_key="id",
        # dlt's default merge strategy (delete-insert) gives every landed row a new _dlt_id: the base
        # models' landed_row_hash relies on it (tests/python/test_staging.py checks it)
        write_disposition="merge",
        columns=CUSTOMER_COLUMNS,
    )


source = billing_source


def _customers(client: RESTClient, overlap_s: int) -> Iterator[list[dict[str, Any]]]:
    yield dlt.mark.materialize_table_schema()  # the table exists even before its first row
    state = dlt.current.resource_state()
    if state.get("watermark") is None:
        yield from _full_load(client, state, overlap_s)
    else:
        yield from _changes(client, state, overlap_s)


def _full_load(client: RESTClient, state: dict[str, Any], overlap_s: int) -> Iterator[list[dict[str, Any]]]:
    started = int(time.time())
    params = {"limit": PAGE_LIMIT}
    paginator = StripeListPaginator()
    for page in client.paginate("/v1/customers", params=params, paginator=paginator, data_selector="data"):
        yield [_as_row(customer, deleted=False) for customer in page]
    # the list never shows deleted customers: land the ones the events still know (30 days) as deleted
    deleted: dict[str, dict[str, Any]] = {}
    applied: dict[str, int] = {}
    for event in _events(client, since=0, types=("customer.deleted",)):
        customer = (event.get("data") or {}).get("object") or {}
        if customer.get("id") and int(event["created"]) < started:
            deleted.setdefault(customer["id"], _as_row(customer, deleted=True))
    if deleted:
        yield list(deleted.values())
    # events from before the listing started are reflected in it: remember them as applied, so the next
    # run's overlap does not land them again; later events are left for the next run
    for event in _events(client, since=started - overlap_s):
        if int(event["created"]) < started:
            applied[event["id"]] = int(event["created"])
    state["watermark"] = started
    state["applied_events"] = applied
    logger.info("billing customers: full load done, watermark %s", started)


def _changes(client: RESTClient, state: dict[str, Any], overlap_s: int) -> Iterator[list[dict[str, Any]]]:
    watermark: int = state["watermark"]
    read_at = int(time.time())
    applied: dict[str, int] = dict(state.get("applied_events") or {})
    newest_first: dict[str, dict[str, Any]] = {}
    newest = watermark
    for event in _events(client, since=watermark - overlap_s):
        created = int(event["created"])
        newest = max(newest, created)
        if event["id"] in applied:
            continue
        applied[event["id"]] = created
        customer = (event.get("data") or {}).get("object") or {}
        if not customer.get("id"):
            continue
        # the list is newest first: the first event seen for a customer is its latest state
        newest_first.setdefault(
            customer["id"], _as_row(customer, deleted=event["type"] == "customer.deleted")
        )
    if newest_first:
        yield list(newest_first.values())
    # events created an overlap before this read started were in the list it read: start there next time
    state["watermark"] = max(newest, read_at)
    state["applied_events"] = {
        eid: created for eid, created in applied.items() if created >= state["watermark"] - overlap_s
    }


def _events(client: RESTClient, since: int, types: tuple[str, ...] = EVENT_TYPES) -> Iterator[dict[str, Any]]:
    params = {"limit": PAGE_LIMIT, "types[]": list(types), "created[gte]": since}
    for page in client.paginate(
        "/v1/events", params=params, paginator=StripeListPaginator(), data_selector="data"
    ):
        yield from page


def _as_row(customer: dict[str, Any], deleted: bool) -> dict[str, Any]:
    row = dict(customer)
    row["deleted"] = bool(row.get("deleted")) or deleted
    if row.get("address") is None:
        # a customer without an address: its address__* columns stay null, no untyped "address" column
        row.pop("address", None)
    return row
