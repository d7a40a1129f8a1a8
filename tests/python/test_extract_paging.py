"""Paging edge cases: HubSpot's 10,000-result search cap, Stripe and Zendesk cursors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import dlt
import pytest
import requests

import pipelines.billing as billing
import pipelines.crm as crm
from customer_sync import db as database
from customer_sync.extract import land_source
from pipelines.paginators import (
    HubSpotSearchPaginator,
    StripeListPaginator,
    ZendeskCursorExportPaginator,
    ZendeskTimeExportPaginator,
)
from tests.python.fixtures.landing import fetch_rows
from tests.python.fixtures.simulators import Simulators, small_dataset


def response(body: dict[str, Any]) -> requests.Response:
    made = requests.Response()
    made.status_code = 200
    made._content = json.dumps(body).encode()
    return made


def test_search_paginator_stops_before_the_result_cap() -> None:
    paginator = HubSpotSearchPaginator(limit=200, max_results=10_000)
    paginator.update_state(response({"results": [], "paging": {"next": {"after": "9600"}}}))
    assert paginator.has_next_page and not paginator.capped
    paginator.update_state(response({"results": [], "paging": {"next": {"after": "9800"}}}))
    assert paginator.has_next_page  # 9800 + 200 is exactly the cap: still allowed
    paginator.update_state(response({"results": [], "paging": {"next": {"after": "10000"}}}))
    assert not paginator.has_next_page and paginator.capped


def test_stripe_paginator_uses_the_last_id_while_has_more() -> None:
    paginator = StripeListPaginator()
    paginator.update_state(response({"data": [{"id": "cus_3"}, {"id": "cus_2"}], "has_more": True}))
    request = requests.Request("GET", "http://x/v1/customers", params={"limit": 2})
    paginator.update_request(request)
    assert paginator.has_next_page and request.params == {"limit": 2, "starting_after": "cus_2"}
    paginator.update_state(response({"data": [{"id": "cus_1"}], "has_more": False}))
    assert not paginator.has_next_page


def test_zendesk_paginators_follow_cursor_and_end_time() -> None:
    cursor = ZendeskCursorExportPaginator()
    cursor.update_state(response({"users": [{}], "after_cursor": "abc", "end_of_stream": False}))
    request = requests.Request("GET", "http://x", params={"start_time": 0, "per_page": 1000})
    cursor.update_request(request)
    assert request.params == {"per_page": 1000, "cursor": "abc"}
    cursor.update_state(response({"users": [], "after_cursor": "abd", "end_of_stream": True}))
    assert not cursor.has_next_page and cursor.after_cursor == "abd"

    timed = ZendeskTimeExportPaginator()
    timed.update_state(response({"organizations": [{}], "end_time": 100, "end_of_stream": False}))
    assert timed.has_next_page
    # a page that does not move end_time forward would be asked for again forever
    timed.update_state(response({"organizations": [{}], "end_time": 100, "end_of_stream": False}))
    assert not timed.has_next_page


@pytest.mark.e2e
def test_search_restarts_from_the_last_modification_time_at_the_cap(
    simulator_factory: Callable[..., Simulators],
    scratch_pipeline: Callable[[str], dlt.Pipeline],
    warehouse: database.Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sims = simulator_factory(data=small_dataset(40), fast=True, search_lag_ms=0, export_hide_seconds=0)
    pipeline = scratch_pipeline("crm_cap")

    def source() -> Any:
        return crm.crm_source(
            base_url=sims.url("crm"), api_token=sims.token("crm"), requests_per_second=500.0
        )

    land_source(pipeline, source(), "crm")
    contacts = [c for c in sims.records("crm", "contacts") if not c.get("archived")][:30]
    sims.apply_edits(
        [
            {"system": "crm", "table": "contacts", "id": c["id"], "set": {"firstname": f"Capped{i}"}}
            for i, c in enumerate(contacts)
        ]
    )
    # a cap of 20 results per query with pages of 10: 30 changes need at least one restart
    monkeypatch.setattr(crm, "SEARCH_LIMIT", 10)
    monkeypatch.setattr(crm, "SEARCH_MAX_RESULTS", 20)
    result = land_source(pipeline, source(), "crm")

    assert result.tables["contacts"] == 30
    landed = dict(fetch_rows(warehouse, "select id, properties__firstname from raw_test_crm_cap.contacts"))
    assert {landed[c["id"]] for c in contacts} == {f"Capped{i}" for i in range(30)}


@pytest.mark.e2e
def test_a_burst_of_changes_is_read_again_by_one_run_not_by_every_run(
    simulator_factory: Callable[..., Simulators],
    scratch_pipeline: Callable[[str], dlt.Pipeline],
    warehouse: database.Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window re-read for index lag starts from the newest change landed or, when nothing changed
    since, from the last run's start: a burst (the hub's write-back) is not read again on every run."""
    sims = simulator_factory(data=small_dataset(40), fast=True, search_lag_ms=0, export_hide_seconds=0)
    crm_pipeline, billing_pipeline = scratch_pipeline("crm_window"), scratch_pipeline("billing_window")
    read = {"crm": 0, "billing": 0}
    modified_ms, events = crm._modified_ms, billing._events

    def counted_modified_ms(record: dict[str, Any], kind: crm.ObjectType) -> int:
        read["crm"] += 1
        return modified_ms(record, kind)

    def counted_events(*args: Any, **kwargs: Any) -> Any:
        for event in events(*args, **kwargs):
            read["billing"] += 1
            yield event

    monkeypatch.setattr(crm, "_modified_ms", counted_modified_ms)
    monkeypatch.setattr(billing, "_events", counted_events)

    def land() -> dict[str, int]:
        read.update(crm=0, billing=0)
        crm_source = crm.crm_source(
            base_url=sims.url("crm"),
            api_token=sims.token("crm"),
            requests_per_second=500.0,
            lookback_seconds=1.0,
        )
        billing_source = billing.billing_source(
            base_url=sims.url("billing"),
            api_token=sims.token("billing"),
            requests_per_second=500.0,
            overlap_seconds=1,
        )
        landed = {
            "crm": land_source(crm_pipeline, crm_source, "crm").tables["contacts"],
            "billing": land_source(billing_pipeline, billing_source, "billing").tables["customers"],
        }
        time.sleep(2.1)  # past the one-second window (Stripe's event times are whole seconds)
        return landed

    land()
    contacts = [c for c in sims.records("crm", "contacts") if not c.get("archived")][:12]
    customers = [c for c in sims.records("billing", "customers") if not c.get("deleted")][:8]
    burst = [
        *[
            {"system": "crm", "table": "contacts", "id": c["id"], "set": {"firstname": f"Burst{i}"}}
            for i, c in enumerate(contacts)
        ],
        *[
            {"system": "billing", "table": "customers", "id": c["id"], "set": {"name": f"Burst {i}"}}
            for i, c in enumerate(customers)
        ],
    ]
    sims.apply_edits(burst)
    time.sleep(2.1)

    assert land() == {"crm": 12, "billing": 8}
    assert read == {"crm": 12, "billing": 8}  # the burst, read once
    assert land() == {"crm": 0, "billing": 0}
    assert read == {"crm": 0, "billing": 0}  # not read again: nothing changed since the last run
    sims.apply_edits([burst[0] | {"set": {"firstname": "Later"}}, burst[-1] | {"set": {"name": "Later"}}])
    assert land() == {"crm": 1, "billing": 1}  # a later change still lands
