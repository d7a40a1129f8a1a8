"""The ``crm`` source (HubSpot CRM v3): contacts and companies.

- First run: a full load through the list endpoint (``limit=100``, opaque ``after``), asking for every
  property staging reads (HubSpot returns only a few defaults otherwise).
- Later runs: the search endpoint, filtered ``GTE`` on the modified-date property (``lastmodifieddate``
  for contacts, ``hs_lastmodifieddate`` for companies) from the watermark minus a lookback that covers
  the search index lag, sorted ascending, 200 per page. The watermark is the newest modification landed
  or, when that is older, the time the last run's search started: everything modified a lookback before
  that was visible to it. So a burst of writes (the hub's own write-back) is re-read by one run, not by
  every run until the next change. Search stops at 10,000 results per query, so the query restarts
  from the last modification time it saw before it gets there.
- Every run: archived records (``archived=true`` list; search never returns them) land as rows with
  ``archived = true``. Nothing vanishes.

dlt's ``incremental`` filters out rows older than its last value and de-duplicates only rows sitting
exactly on it; a lookback window needs both "re-read older rows" and "skip the ones already landed",
so the watermark and the window of recently landed versions are kept by hand in the resource state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from customer_sync.errors import RunFailure
from pipelines.http import REQUEST_TIMEOUT_S, api_client, text_columns, typed_columns
from pipelines.paginators import HubSpotSearchPaginator

logger = logging.getLogger(__name__)

LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_MAX_RESULTS = 10_000
# "a few moments" of search index lag [V HS-SEARCH]; five minutes covers it with room to spare
LOOKBACK_S = 300.0
# under the documented limits: 100 requests per 10 s (Free/Starter private app) and 5 searches/s
REQUESTS_PER_SECOND = 9.0
SEARCHES_PER_SECOND = 4.0


@dataclass(frozen=True)
class ObjectType:
    """One HubSpot object type and the properties staging reads from it."""

    name: str
    modified_property: str
    properties: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/crm/v3/objects/{self.name}"

    def columns(self) -> dict[str, dict[str, Any]]:
        props = text_columns(*(f"properties__{name}" for name in self.properties))
        return {
            "id": {"data_type": "text", "nullable": False, "primary_key": True},
            **props,
            **typed_columns(created_at="timestamp", archived_at="timestamp", archived="bool"),
            # among several versions of one record in a load, the newest wins the merge
            "updated_at": {"data_type": "timestamp", "nullable": True, "dedup_sort": "desc"},
        }


CONTACTS = ObjectType(
    name="contacts",
    modified_property="lastmodifieddate",
    properties=(
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobilephone",
        "company",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "date_of_birth",
        "mdm_golden_id",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    ),
)
COMPANIES = ObjectType(
    name="companies",
    modified_property="hs_lastmodifieddate",
    properties=(
        "name",
        "domain",
        "phone",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "mdm_golden_id",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
)


@dlt.source(name="crm", section="crm")
def crm_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    request_timeout: float = REQUEST_TIMEOUT_S,
    requests_per_second: float = REQUESTS_PER_SECOND,
    searches_per_second: float = SEARCHES_PER_SECOND,
    lookback_seconds: float = LOOKBACK_S,
) -> Any:
    """HubSpot contacts and companies, merged on ``id``."""
    client = api_client(
        base_url,
        BearerTokenAuth(token=api_token),
        rate=requests_per_second,
        timeout=request_timeout,
        path_rates={f"{kind.path}/search": searches_per_second for kind in (CONTACTS, COMPANIES)},
    )
    for kind in (CONTACTS, COMPANIES):
        yield dlt.resource(
            _objects(client, kind, lookback_ms=int(lookback_seconds * 1000)),
            name=kind.name,
            primary_key="id",
            # dlt's default merge strategy (delete-insert) gives every landed row a new _dlt_id: the base
            # models' landed_row_hash relies on it (tests/python/test_staging.py checks it)
            write_disposition="merge",
            columns=kind.columns(),
        )


source = crm_source


def _objects(client: RESTClient, kind: ObjectType, lookback_ms: int) -> Iterator[list[dict[str, Any]]]:
    yield dlt.mark.materialize_table_schema()  # the table exists even before its first row
    state = dlt.current.resource_state()
    if state.get("watermark_ms") is None:
        yield from _full_load(client, kind, state, lookback_ms)
    else:
        yield from _changes(client, kind, state, lookback_ms)
    yield from _archived(client, kind, state)


def _full_load(
    client: RESTClient, kind: ObjectType, state: dict[str, Any], lookback_ms: int
) -> Iterator[list[dict[str, Any]]]:
    started_ms = int(time.time() * 1000)
    recent: dict[str, int] = {}
    params = {"limit": LIST_LIMIT, "properties": ",".join(kind.properties), "archived": "false"}
    paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
    for page in client.paginate(kind.path, params=params, paginator=paginator, data_selector="results"):
        for record in page:
            modified = _modified_ms(record, kind)
            if modified >= started_ms - lookback_ms:
                recent[record["id"]] = modified
        yield page
    # changes made while the list was read have a modification time after the start: the next run's
    # search (from the start minus the lookback) picks them up; versions already listed are skipped
    state["watermark_ms"] = started_ms
    state["recent"] = recent
    logger.info("crm %s: full load done, watermark %s", kind.name, started_ms)


def _changes(
    client: RESTClient, kind: ObjectType, state: dict[str, Any], lookback_ms: int
) -> Iterator[list[dict[str, Any]]]:
    watermark: int = state["watermark_ms"]
    searched_ms = int(time.time() * 1000)
    recent: dict[str, int] = dict(state.get("recent") or {})
    archived_ids: set[str] = set(state.get("archived_ids") or [])
    start = watermark - lookback_ms
    newest = watermark
    while True:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": kind.modified_property, "operator": "GTE", "value": str(start)}
                    ]
                }
            ],
            "sorts": [{"propertyName": kind.modified_property, "direction": "ASCENDING"}],
            "properties": list(kind.properties),
            "limit": SEARCH_LIMIT,
        }
        paginator = HubSpotSearchPaginator(limit=SEARCH_LIMIT, max_results=SEARCH_MAX_RESULTS)
        last_seen = start
        for page in client.paginate(
            f"{kind.path}/search", method="post", json=body, paginator=paginator, data_selector="results"
        ):
            fresh = []
            for record in page:
                modified = _modified_ms(record, kind)
                last_seen = max(last_seen, modified)
                if recent.get(record["id"]) == modified:
                    continue  # this version landed in an earlier run (or earlier in this one)
                recent[record["id"]] = modified
                archived_ids.discard(record["id"])  # restored since it was archived
                fresh.append(record)
            newest = max(newest, last_seen)
            yield fresh
        if not paginator.capped:
            break
        if last_seen <= start:
            raise RunFailure(
                f"crm {kind.name}: more than {SEARCH_MAX_RESULTS} records share the modification time "
                f"{start}; the search API cannot page through them"
            )
        # 10,000 results is the most one search returns: restart from the last modification time seen
        start = last_seen
    # versions modified a lookback before this search started were visible to it: the next run starts there
    state["watermark_ms"] = max(newest, searched_ms)
    state["recent"] = {rid: ms for rid, ms in recent.items() if ms >= state["watermark_ms"] - lookback_ms}
    state["archived_ids"] = sorted(archived_ids)


def _archived(client: RESTClient, kind: ObjectType, state: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Archived records never show in search; list them and land the ones not landed as archived yet."""
    known: set[str] = set(state.get("archived_ids") or [])
    params = {"limit": LIST_LIMIT, "properties": ",".join(kind.properties), "archived": "true"}
    paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
    for page in client.paginate(kind.path, params=params, paginator=paginator, data_selector="results"):
        fresh = [record for record in page if record["id"] not in known]
        for record in fresh:
            record["archived"] = True
            known.add(record["id"])
        yield fresh
    state["archived_ids"] = sorted(known)


def _modified_ms(record: dict[str, Any], kind: ObjectType) -> int:
    """The record's modification time in epoch ms (HubSpot dates are ISO 8601 or epoch-ms strings)."""
    value = (record.get("properties") or {}).get(kind.modified_property) or record.get("updatedAt")
    if value is None:
        return 0
    text = str(value)
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
