"""The simulators behave like the real APIs: pagination, incremental reads, limits, idempotency, faults."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import psutil
import pytest
import requests

from customer_sync import processes
from customer_sync.simulators import control
from customer_sync.simulators.state import PROCESS_NAME, read_system_configs
from tests.python.fixtures.simulators import Simulators, small_dataset

PERSONS = 40


@pytest.fixture(scope="module")
def sims(simulator_factory: Any) -> Simulators:
    """Hand-made records (40 persons), fast limits, no search lag, exports hide nothing."""
    return simulator_factory(
        data=small_dataset(PERSONS), fast=True, search_lag_ms=0, export_hide_seconds=0, job_step_ms=100
    )


@pytest.fixture()
def restore(sims: Simulators) -> Any:
    yield sims
    sims.restore_config()


def crm_post(sims: Simulators, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(sims.url("crm") + path, json=body, headers=sims.auth("crm"), timeout=10)


def zendesk_auth(sims: Simulators) -> dict[str, str]:
    raw = f"agent@example.com/token:{sims.token('support')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def iso_ms(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


# --- CRM (HubSpot) ---------------------------------------------------------------------------------------


def test_crm_list_pages_cover_every_contact_once_with_default_properties(sims: Simulators) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        params = {"limit": 7} | ({"after": after} if after else {})
        page = requests.get(
            sims.url("crm") + "/crm/v3/objects/contacts", params=params, headers=sims.auth("crm")
        )
        assert page.status_code == 200
        body = page.json()
        pages += 1
        seen += [r["id"] for r in body["results"]]
        for record in body["results"]:
            assert set(record["properties"]) == {
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            }
            assert all(v is None or isinstance(v, str) for v in record["properties"].values())
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert not after.isdigit(), "the list cursor is opaque, not an id"
    stored = [r["id"] for r in sims.records("crm", "contacts") if not r.get("archived")]
    assert sorted(seen) == sorted(stored) and len(seen) == len(set(seen))
    assert pages == -(-len(stored) // 7)
    too_big = requests.get(sims.url("crm") + "/crm/v3/objects/contacts?limit=101", headers=sims.auth("crm"))
    assert too_big.status_code == 400


def test_crm_search_on_lastmodifieddate_returns_exactly_the_changed_contacts(sims: Simulators) -> None:
    watermark = int(time.time() * 1000) - 1
    contacts = sims.records("crm", "contacts")
    changed = [contacts[3]["id"], contacts[11]["id"], contacts[20]["id"]]
    sims.apply_edits(
        [{"system": "crm", "table": "contacts", "id": cid, "set": {"city": f"Town {cid}"}} for cid in changed]
    )
    archived = contacts[25]["id"]
    sims.apply_edits([{"system": "crm", "table": "contacts", "id": archived, "op": "delete"}])
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": str(watermark)}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["city", "email"],
        "limit": 2,
    }
    found, after = [], None
    while True:
        response = crm_post(
            sims, "/crm/v3/objects/contacts/search", body | ({"after": after} if after else {})
        )
        assert response.status_code == 200
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in response.headers)
        page = response.json()
        assert page["total"] == 3
        found += [(r["id"], r["properties"]["city"]) for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
        assert after.isdigit(), "search pages with a numeric offset"
    assert sorted(found) == sorted((cid, f"Town {cid}") for cid in changed)
    # ISO watermarks work too, and the archived contact never shows up in search
    iso_body = body | {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": iso_ms(watermark)},
                    {"propertyName": "hs_object_id", "operator": "IN", "values": [archived, changed[0]]},
                ]
            }
        ],
        "limit": 10,
    }
    assert [
        r["id"] for r in crm_post(sims, "/crm/v3/objects/contacts/search", iso_body).json()["results"]
    ] == [changed[0]]
    listed = requests.get(
        sims.url("crm") + "/crm/v3/objects/contacts?archived=true", headers=sims.auth("crm")
    )
    assert archived in [r["id"] for r in listed.json()["results"]]


def test_crm_search_rejects_paging_past_10000_and_more_than_200(sims: Simulators) -> None:
    assert (
        crm_post(sims, "/crm/v3/objects/contacts/search", {"limit": 100, "after": "9950"}).status_code == 400
    )
    assert crm_post(sims, "/crm/v3/objects/contacts/search", {"limit": 201}).status_code == 400
    assert (
        crm_post(sims, "/crm/v3/objects/contacts/search", {"limit": 200, "after": "9800"}).status_code == 200
    )


def test_crm_batch_limits_conflicts_and_unique_golden_id(sims: Simulators) -> None:
    too_many = crm_post(
        sims, "/crm/v3/objects/contacts/batch/read", {"inputs": [{"id": str(i)} for i in range(101)]}
    )
    assert too_many.status_code == 400
    assert too_many.json()["category"] == "VALIDATION_ERROR"
    assert "100" in too_many.json()["message"]
    contacts = sims.records("crm", "contacts")
    first, second = contacts[0], contacts[1]
    duplicate = crm_post(
        sims, "/crm/v3/objects/contacts", {"properties": {"email": first["properties"]["email"].upper()}}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["message"] == f"Contact already exists. Existing ID: {first['id']}"
    upsert = crm_post(
        sims,
        "/crm/v3/objects/contacts/batch/upsert",
        {
            "inputs": [
                {
                    "idProperty": "mdm_golden_id",
                    "id": "G0000000001",
                    "properties": {"email": first["properties"]["email"]},
                },
                {
                    "idProperty": "mdm_golden_id",
                    "id": "G0000000002",
                    "properties": {"firstname": "Brand", "email": "n@x.io"},
                },
            ]
        },
    )
    assert upsert.status_code == 207
    body = upsert.json()
    assert body["numErrors"] == 1 and body["errors"][0]["category"] == "CONFLICT"
    assert [r["new"] for r in body["results"]] == [True]
    by_golden = requests.get(
        sims.url("crm")
        + "/crm/v3/objects/contacts/G0000000002?idProperty=mdm_golden_id&properties=firstname",
        headers=sims.auth("crm"),
    )
    assert by_golden.status_code == 200 and by_golden.json()["properties"]["firstname"] == "Brand"
    clash = requests.patch(
        sims.url("crm") + f"/crm/v3/objects/contacts/{second['id']}",
        json={"properties": {"mdm_golden_id": "G0000000002"}},
        headers=sims.auth("crm"),
    )
    assert clash.status_code == 409
    unknown = requests.patch(
        sims.url("crm") + f"/crm/v3/objects/contacts/{second['id']}",
        json={"properties": {"no_such_property": "x"}},
        headers=sims.auth("crm"),
    )
    assert unknown.status_code == 400 and "PROPERTY_DOESNT_EXIST" in unknown.text


def test_crm_ten_second_limit_gives_429_with_policy_and_headers(restore: Simulators) -> None:
    sims = restore
    sims.set_config("crm", crm_per_10s=5)
    statuses, last = [], None
    for _ in range(7):
        last = requests.get(sims.url("crm") + "/crm/v3/objects/contacts", headers=sims.auth("crm"))
        statuses.append(last.status_code)
    assert statuses == [200] * 5 + [429] * 2
    assert last is not None
    assert last.json()["policyName"] == "TEN_SECONDLY_ROLLING" and last.json()["errorType"] == "RATE_LIMIT"
    assert last.headers["X-HubSpot-RateLimit-Max"] == "5"
    assert last.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert last.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_crm_search_index_lags_behind_writes(restore: Simulators) -> None:
    sims = restore
    sims.set_config("crm", search_lag_ms=800)
    contact = sims.records("crm", "contacts")[5]
    sims.apply_edits(
        [{"system": "crm", "table": "contacts", "id": contact["id"], "set": {"city": "Laggington"}}]
    )
    query = {
        "filterGroups": [{"filters": [{"propertyName": "city", "operator": "EQ", "value": "laggington"}]}]
    }
    assert crm_post(sims, "/crm/v3/objects/contacts/search", query).json()["total"] == 0
    time.sleep(1.0)
    assert [r["id"] for r in crm_post(sims, "/crm/v3/objects/contacts/search", query).json()["results"]] == [
        contact["id"]
    ]


# --- billing (Stripe) --------------------------------------------------------------------------------------


def stripe(sims: Simulators, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        sims.url("billing") + path,
        headers=sims.auth("billing") | kwargs.pop("headers", {}),
        timeout=10,
        **kwargs,
    )


def test_billing_list_is_newest_first_and_pages_cover_every_customer_once(sims: Simulators) -> None:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 9}
    while True:
        body = stripe(sims, "GET", "/v1/customers", params=params).json()
        seen += body["data"]
        if not body["has_more"]:
            break
        params = {"limit": 9, "starting_after": body["data"][-1]["id"]}
    live = [c for c in sims.records("billing", "customers") if not c.get("deleted")]
    assert sorted(c["id"] for c in seen) == sorted(c["id"] for c in live)
    assert len(seen) == len({c["id"] for c in seen})
    created = [c["created"] for c in seen]
    assert created == sorted(created, reverse=True)


def test_billing_events_capture_exactly_the_changes(sims: Simulators) -> None:
    since = int(time.time())
    customers = [c for c in sims.records("billing", "customers") if not c.get("deleted")]
    target, gone = customers[2], customers[7]
    sims.apply_edits(
        [
            {
                "system": "billing",
                "table": "customers",
                "id": target["id"],
                "set": {"address.city": "Fremantle"},
            },
            {"system": "billing", "table": "customers", "id": gone["id"], "op": "delete"},
        ]
    )
    created = stripe(
        sims, "POST", "/v1/customers", data={"email": "new@example.com", "metadata[golden_id]": "G1"}
    )
    assert created.status_code == 200 and created.json()["metadata"] == {"golden_id": "G1"}
    params = {"types[]": ["customer.created", "customer.updated", "customer.deleted"], "created[gte]": since}
    events = stripe(sims, "GET", "/v1/events", params=params).json()["data"]
    assert [(e["type"], e["data"]["object"]["id"]) for e in events] == [
        ("customer.created", created.json()["id"]),
        ("customer.deleted", gone["id"]),
        ("customer.updated", target["id"]),
    ]
    updated = events[2]
    assert updated["data"]["object"]["address"]["city"] == "Fremantle"
    assert updated["data"]["previous_attributes"] == {"address": target["address"]}
    assert stripe(sims, "GET", f"/v1/customers/{gone['id']}").json() == {
        "id": gone["id"],
        "object": "customer",
        "deleted": True,
    }
    # an empty metadata value deletes the key; omitted parameters stay as they were
    cleared = stripe(sims, "POST", f"/v1/customers/{created.json()['id']}", data={"metadata[golden_id]": ""})
    assert cleared.json()["metadata"] == {} and cleared.json()["email"] == "new@example.com"


def test_billing_search_finds_by_email_and_metadata(sims: Simulators) -> None:
    made = stripe(
        sims, "POST", "/v1/customers", data={"email": "find.me@example.com", "metadata[golden_id]": "G77"}
    )
    query = "email:'FIND.ME@example.com' AND metadata['golden_id']:'G77'"
    found = stripe(sims, "GET", "/v1/customers/search", params={"query": query}).json()
    assert found["object"] == "search_result" and [c["id"] for c in found["data"]] == [made.json()["id"]]
    assert stripe(sims, "GET", "/v1/customers/search", params={"query": "bogus"}).status_code == 400


def test_billing_idempotency_replays_and_rejects_other_parameters(sims: Simulators) -> None:
    before = len(sims.writes("billing"))
    params = {"name": "Ida Empotent", "email": "ida@example.com", "address[city]": "Perth"}
    first = stripe(sims, "POST", "/v1/customers", data=params, headers={"Idempotency-Key": "key-1"})
    again = stripe(sims, "POST", "/v1/customers", data=params, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    other = stripe(sims, "POST", "/v1/customers", data={"name": "Else"}, headers={"Idempotency-Key": "key-1"})
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    customers = [c for c in sims.records("billing", "customers") if c.get("email") == "ida@example.com"]
    assert len(customers) == 1
    log = sims.writes("billing")[before:]
    assert [(w["idempotency_key"], w["status"], w["changed"]) for w in log] == [
        ("key-1", 200, [first.json()["id"]]),
        ("key-1", 200, []),
        ("key-1", 400, []),
    ]


def test_billing_rate_limit_is_429_with_reason_header(restore: Simulators) -> None:
    sims = restore
    sims.set_config("billing", billing_per_s=3)
    responses = [stripe(sims, "GET", "/v1/customers") for _ in range(5)]
    assert [r.status_code for r in responses][:3] == [200, 200, 200]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "a fourth request within the second must be limited"
    assert limited[0].headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert limited[0].json()["error"]["code"] == "rate_limit"


# --- support (Zendesk) -------------------------------------------------------------------------------------


def test_support_cursor_pagination_covers_every_user_once(sims: Simulators) -> None:
    url = sims.url("support") + "/api/v2/users.json?page[size]=6"
    seen: list[int] = []
    while url:
        body = requests.get(url, headers=zendesk_auth(sims)).json()
        seen += [u["id"] for u in body["users"]]
        url = body["links"]["next"] if body["meta"]["has_more"] else None
    active = [u["id"] for u in sims.records("support", "users") if u.get("active", True)]
    assert sorted(seen) == sorted(active) and len(seen) == len(set(seen))
    too_far = requests.get(
        sims.url("support") + "/api/v2/users?page=101&per_page=100", headers=zendesk_auth(sims)
    )
    assert too_far.status_code == 400


def test_support_incremental_export_returns_exactly_the_changed_users(sims: Simulators) -> None:
    start = int(time.time())
    users = sims.records("support", "users")
    changed, deleted = users[4], users[9]
    sims.apply_edits(
        [
            {"system": "support", "table": "users", "id": changed["id"], "set": {"phone": "+61412345678"}},
            {"system": "support", "table": "users", "id": deleted["id"], "op": "delete"},
        ]
    )
    put = requests.put(
        sims.url("support") + f"/api/v2/users/{users[12]['id']}.json",
        json={"user": {"email": "second@example.com"}},
        headers=zendesk_auth(sims),
    )
    assert put.status_code == 200
    assert put.json()["user"]["email"] == users[12]["email"], "PUT email adds an identity, primary stays"
    exported: dict[int, dict[str, Any]] = {}
    url = sims.url("support") + f"/api/v2/incremental/users/cursor.json?start_time={start}&per_page=1"
    while True:
        body = requests.get(url, headers=zendesk_auth(sims)).json()
        exported |= {u["id"]: u for u in body["users"]}
        if body["end_of_stream"]:
            break
        url = body["after_url"]
    assert set(exported) == {changed["id"], deleted["id"], users[12]["id"]}
    assert exported[deleted["id"]]["active"] is False
    assert exported[changed["id"]]["phone"] == "+61412345678"


def test_support_export_hides_the_most_recent_minute(restore: Simulators) -> None:
    sims = restore
    sims.set_config("support", export_hide_seconds=60)
    start = int(time.time()) - 120
    user = sims.records("support", "users")[15]
    sims.apply_edits([{"system": "support", "table": "users", "id": user["id"], "set": {"notes": "fresh"}}])
    body = requests.get(
        sims.url("support") + f"/api/v2/incremental/users/cursor?start_time={start}",
        headers=zendesk_auth(sims),
    ).json()
    assert user["id"] not in [u["id"] for u in body["users"]]
    too_recent = requests.get(
        sims.url("support") + f"/api/v2/incremental/users/cursor?start_time={int(time.time())}",
        headers=zendesk_auth(sims),
    )
    assert too_recent.status_code == 400


def test_support_bulk_job_goes_queued_working_completed(sims: Simulators) -> None:
    users = sims.records("support", "users")
    payload = {
        "users": [
            {"external_id": "G-ABC", "email": users[20]["email"], "name": users[20]["name"]},
            {"name": "New Person", "email": "new.person@example.com"},
        ]
    }
    queued = requests.post(
        sims.url("support") + "/api/v2/users/create_or_update_many", json=payload, headers=zendesk_auth(sims)
    )
    assert queued.status_code == 200
    job = queued.json()["job_status"]
    assert job["status"] == "queued"
    states = [job["status"]]
    for _ in range(60):
        job = requests.get(job["url"], headers=zendesk_auth(sims)).json()["job_status"]
        if states[-1] != job["status"]:
            states.append(job["status"])
        if job["status"] == "completed":
            break
        time.sleep(0.05)
    assert states == ["queued", "working", "completed"]
    assert [(r["action"], r["status"]) for r in job["results"]] == [
        ("update", "Updated"),
        ("create", "Created"),
    ]
    assert job["results"][0]["id"] == users[20]["id"]
    # external_id matching is case-insensitive and rewrites the stored case
    matched = requests.post(
        sims.url("support") + "/api/v2/users/create_or_update",
        json={"user": {"external_id": "g-abc", "notes": "matched"}},
        headers=zendesk_auth(sims),
    )
    assert matched.status_code == 200
    assert (
        matched.json()["user"]["id"] == users[20]["id"] and matched.json()["user"]["external_id"] == "g-abc"
    )
    job_writes = [w for w in sims.writes("support") if w["method"] == "JOB"]
    assert job_writes and sorted(job_writes[-1]["changed"]) == sorted(str(r["id"]) for r in job["results"])


def test_support_bulk_endpoints_refuse_more_than_100_items(sims: Simulators) -> None:
    users = sims.records("support", "users")
    too_many = {"users": [{"id": users[0]["id"], "notes": f"n{i}"} for i in range(101)]}
    refused = requests.put(
        sims.url("support") + "/api/v2/users/update_many", json=too_many, headers=zendesk_auth(sims)
    )
    assert refused.status_code == 400 and refused.json()["error"] == "InvalidValue"
    ids = ",".join(str(n) for n in range(1, 102))
    shown = requests.get(
        sims.url("support") + f"/api/v2/users/show_many?ids={ids}", headers=zendesk_auth(sims)
    )
    assert shown.status_code == 400 and shown.json()["error"] == "InvalidValue"
    # the refused request changed nothing
    assert sims.records("support", "users")[0]["notes"] == users[0]["notes"]


def test_support_limits_jobs_and_per_user_writes(restore: Simulators) -> None:
    sims = restore
    sims.set_config("support", support_max_jobs=2, job_step_ms=5000, support_user_writes_per_min=5)
    user = sims.records("support", "users")[30]
    body = {"users": [{"id": user["id"], "notes": "bulk"}]}
    url = sims.url("support") + "/api/v2/users/update_many"
    statuses = [requests.put(url, json=body, headers=zendesk_auth(sims)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json()["error"] == "TooManyJobs"
    assert len(statuses[2].json()["current_job_ids"]) == 2
    put_url = sims.url("support") + f"/api/v2/users/{user['id']}"
    puts = [
        requests.put(put_url, json={"user": {"notes": f"n{i}"}}, headers=zendesk_auth(sims)) for i in range(6)
    ]
    assert [r.status_code for r in puts] == [200] * 5 + [429]
    assert int(puts[5].headers["Retry-After"]) >= 1
    assert puts[0].headers["X-Rate-Limit"] and "Zendesk-RateLimit-create-update-user" in puts[0].headers


def test_support_account_limit_is_429_with_retry_after(restore: Simulators) -> None:
    sims = restore
    sims.set_config("support", support_per_min=4)
    responses = [
        requests.get(sims.url("support") + "/api/v2/users", headers=zendesk_auth(sims)) for _ in range(5)
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert responses[3].headers["X-Rate-Limit-Remaining"] == "0"
    assert 1 <= int(responses[4].headers["Retry-After"]) <= 60


# --- ERP (Odoo tables in SQLite) ----------------------------------------------------------------------------


def test_erp_write_date_moves_and_incremental_reads_return_the_changed_rows(sims: Simulators) -> None:
    path = sims.endpoints["erp"]["sqlalchemy_url"].removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    try:
        (watermark,) = conn.execute("select max(write_date) from res_partner").fetchone()
        time.sleep(0.01)
        with conn:
            conn.execute("update res_partner set ref = 'G0000000001' where id in (3, 4)")
        sims.apply_edits([{"system": "erp", "table": "res_partner", "id": "9", "set": {"city": "Albany"}}])
        rows = conn.execute(
            "select id, ref, city from res_partner where write_date > ? order by write_date, id", (watermark,)
        ).fetchall()
        countries = conn.execute("select code from res_country").fetchall()
    finally:
        conn.close()
    assert rows == [(3, "G0000000001", "Perth"), (4, "G0000000001", "Perth"), (9, None, "Albany")]
    assert countries == [("AU",)]
    log = sims.writes("erp")
    assert [(w["method"], w["changed"]) for w in log] == [("UPDATE", ["3"]), ("UPDATE", ["4"])]


# --- across systems ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "path"),
    [("crm", "/crm/v3/objects/contacts"), ("billing", "/v1/customers"), ("support", "/api/v2/users.json")],
)
def test_wrong_token_is_401_with_the_service_error_body(sims: Simulators, system: str, path: str) -> None:
    response = requests.get(sims.url(system) + path, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    body = response.json()
    expected = {"crm": "category", "billing": "error", "support": "error"}[system]
    assert expected in body


def test_faults_fail_with_documented_statuses_and_lost_responses_are_logged(restore: Simulators) -> None:
    sims = restore
    sims.set_config("billing", fault_rate=1.0, slow_fault_seconds=0.6)
    before = len(sims.writes("billing"))
    outcomes: Counter[str] = Counter()
    for i in range(40):
        try:
            response = requests.post(
                sims.url("billing") + "/v1/customers",
                data={"email": f"fault{i}@example.com"},
                headers=sims.auth("billing") | {"Idempotency-Key": f"fault-{i}"},
                timeout=0.4,
            )
            outcomes[str(response.status_code)] += 1
            if response.status_code == 429:
                assert "Stripe-Rate-Limited-Reason" in response.headers
            if response.status_code == 500:
                assert response.json()["error"]["type"] == "api_error"
        except requests.ReadTimeout:
            outcomes["timeout"] += 1
        except requests.ConnectionError:
            outcomes["dropped"] += 1
    sims.set_config("billing", fault_rate=0.0)
    assert set(outcomes) <= {"429", "500", "timeout", "dropped"}
    assert {"429", "500", "timeout", "dropped"} <= set(outcomes), outcomes
    time.sleep(0.7)  # slow responses finish (and are logged) after the client gave up
    log = sims.writes("billing")[before:]
    assert len(log) == 40
    lost = [w for w in log if w["fault"] == "lost_response"]
    assert lost and all(w["status"] == 200 and len(w["changed"]) == 1 for w in lost)
    # a retry with the same key replays the applied write instead of writing twice
    key = lost[0]["idempotency_key"]
    body = lost[0]["body"]
    retry = requests.post(
        sims.url("billing") + "/v1/customers",
        data=body,
        headers=sims.auth("billing")
        | {"Idempotency-Key": key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert retry.status_code == 200 and retry.json()["id"] == lost[0]["changed"][0]
    email = retry.json()["email"]
    assert sum(c.get("email") == email for c in sims.records("billing", "customers")) == 1
    # a failed 500 is replayed for its key, as Stripe does
    failed = next(w for w in log if w["fault"] == "server_error")
    replay = requests.post(
        sims.url("billing") + "/v1/customers",
        data=failed["body"],
        headers=sims.auth("billing")
        | {"Idempotency-Key": failed["idempotency_key"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert replay.status_code == 500


def test_write_log_records_every_write_with_what_it_changed(sims: Simulators) -> None:
    before = {s: len(sims.writes(s)) for s in ("crm", "support")}
    contact = sims.records("crm", "contacts")[30]
    patched = requests.patch(
        sims.url("crm") + f"/crm/v3/objects/contacts/{contact['id']}",
        json={"properties": {"phone": "+61 8 9000 0000"}},
        headers=sims.auth("crm"),
    )
    same = requests.patch(
        sims.url("crm") + f"/crm/v3/objects/contacts/{contact['id']}",
        json={"properties": {"phone": "+61 8 9000 0000"}},
        headers=sims.auth("crm"),
    )
    crm_post(sims, "/crm/v3/objects/contacts/search", {"limit": 1})  # a read, not logged
    created = requests.post(
        sims.url("support") + "/api/v2/organizations.json",
        json={"organization": {"name": "Logged Org"}},
        headers=zendesk_auth(sims),
    )
    crm_log = sims.writes("crm")[before["crm"] :]
    assert [(w["method"], w["status"], w["changed"]) for w in crm_log] == [
        ("PATCH", 200, [contact["id"]]),
        ("PATCH", 200, []),
    ]
    assert json.loads(crm_log[0]["body"]) == {"properties": {"phone": "+61 8 9000 0000"}}
    assert patched.json()["properties"]["phone"] == "+61 8 9000 0000" and same.status_code == 200
    support_log = sims.writes("support")[before["support"] :]
    assert [(w["path"], w["status"], w["changed"]) for w in support_log] == [
        ("/api/v2/organizations", 201, [str(created.json()["organization"]["id"])])
    ]


def test_cli_edit_and_status(sims: Simulators) -> None:
    env = {**os.environ, "CUSTOMER_SYNC_HOME": str(sims.settings.home)}
    contact = sims.records("crm", "contacts")[35]
    edit = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_sync.cli",
            "simulate",
            "edit",
            "--system",
            "crm",
            "--id",
            contact["id"],
            "--set",
            "email=cli@example.com",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert edit.returncode == 0, edit.stderr
    assert json.loads(edit.stdout.splitlines()[-1])["results"][0]["changed"] == [contact["id"]]
    stored = next(r for r in sims.records("crm", "contacts") if r["id"] == contact["id"])
    assert stored["properties"]["email"] == "cli@example.com"
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_sync.cli",
            "simulate",
            "edit",
            "--system",
            "crm",
            "--id",
            "999999",
            "--set",
            "email=x@example.com",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2 and "not found" in missing.stderr
    status = subprocess.run(
        [sys.executable, "-m", "customer_sync.cli", "simulate", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    result = json.loads(status.stdout.splitlines()[-1])
    assert result["running"] is True
    assert (
        result["counts"]["support"]["users"] >= PERSONS and result["counts"]["erp"]["res_partner"] == PERSONS
    )


def test_each_service_runs_in_its_own_process_and_keeps_its_part_of_the_config(restore: Simulators) -> None:
    parent = psutil.Process(processes.running_pid(restore.settings, PROCESS_NAME))
    children = parent.children()
    assert sorted(child.cmdline()[-1] for child in children) == ["billing", "crm", "support"]
    # live changes saved by two processes: neither overwrites the other's part of config.json
    restore.set_config("billing", latency_ms=7)
    restore.set_config("crm", latency_ms=9)
    configs = read_system_configs(restore.settings.simulators_dir)
    assert {system: config.latency_ms for system, config in configs.items()} == {
        "billing": 7,
        "crm": 9,
        "support": 0,
    }


def test_cli_start_without_persons_reuses_the_data_there(simulator_factory: Any) -> None:
    sims = simulator_factory(persons=60, seed=3, fast=True)
    contact = sims.records("crm", "contacts")[5]
    control.apply_edits_each(
        sims.settings,
        [{"system": "crm", "table": "contacts", "id": contact["id"], "set": {"city": "Keptville"}}],
    )
    port_base = control.status(sims.settings)["config"]["port_base"]
    control.stop(sims.settings)
    env = {
        **os.environ,
        "CUSTOMER_SYNC_HOME": str(sims.settings.home),
        "CUSTOMER_SYNC_SIM_PORT_BASE": str(port_base),
    }
    started = subprocess.run(
        [sys.executable, "-m", "customer_sync.cli", "simulate", "start", "--fast", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.splitlines()[-1])["generated"] is False
    status = control.status(sims.settings)
    assert (status["config"]["persons"], status["config"]["seed"]) == (60, 3)
    stored = next(r for r in sims.records("crm", "contacts") if r["id"] == contact["id"])
    assert stored["properties"]["city"] == "Keptville", "the edit made before the stop is still there"


# --- with the generator's records -------------------------------------------------------------------------


def test_simulators_serve_the_generated_records_unchanged(simulator_factory: Any) -> None:
    from customer_sync.generate import generate

    # a fresh instance: the session's simulators are edited by the landing tests
    simulators = simulator_factory(persons=300, seed=7, fast=True)
    data = generate(300, 7)
    assert simulators.records("crm", "contacts") == sorted(data.crm_contacts, key=lambda r: int(r["id"]))
    assert simulators.records("crm", "companies") == sorted(data.crm_companies, key=lambda r: int(r["id"]))
    served = {c["id"]: c for c in simulators.records("billing", "customers")}
    assert served == {c["id"]: c for c in data.billing_customers}
    users = {
        u["id"]: {k: v for k, v in u.items() if k != "secondary_emails"}
        for u in simulators.records("support", "users")
    }
    assert users == {u["id"]: u for u in data.support_users}
    partners = simulators.records("erp", "res_partner")
    assert [p["id"] for p in partners] == sorted(p["id"] for p in data.erp_partners)
    assert {p["id"]: p["email"] for p in partners} == {p["id"]: p["email"] for p in data.erp_partners}
    assert simulators.status()["counts"]["support"]["organizations"] == len(data.support_organizations)


def test_edits_applied_one_by_one_go_on_past_a_refused_one(sims: Simulators) -> None:
    contacts = [c for c in sims.records("crm", "contacts") if c["properties"].get("email")][-2:]
    taken = contacts[1]["properties"]["email"]
    edits = [
        {"system": "crm", "table": "contacts", "id": contacts[0]["id"], "set": {"email": taken}},
        {"system": "crm", "table": "contacts", "id": contacts[0]["id"], "set": {"city": "Refusalville"}},
    ]
    applied, refused = control.apply_edits_each(sims.settings, edits)
    assert len(refused) == 1 and "already exists" in refused[0]
    assert [r["changed"] for r in applied] == [[contacts[0]["id"]]]
    stored = next(r for r in sims.records("crm", "contacts") if r["id"] == contacts[0]["id"])
    assert stored["properties"]["city"] == "Refusalville"
    assert stored["properties"]["email"] != taken


def test_random_edits_change_records_the_incremental_paths_then_see(simulator_factory: Any) -> None:
    sims = simulator_factory(persons=60, seed=3, fast=True, search_lag_ms=0, export_hide_seconds=0)
    since_s, since_ms = int(time.time()), int(time.time() * 1000)
    env = {**os.environ, "CUSTOMER_SYNC_HOME": str(sims.settings.home)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_sync.cli",
            "simulate",
            "edit",
            "--random",
            "24",
            "--seed",
            "5",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout.splitlines()[-1])["results"]
    assert len(results) == 24
    changed = {(r["system"], cid) for r in results for cid in r["changed"]}
    assert len(changed) >= 20, "nearly every planned edit changes a record"
    crm_changed = {cid for system, cid in changed if system == "crm"}
    search = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}]}
        ],
        "limit": 200,
    }
    found = crm_post(sims, "/crm/v3/objects/contacts/search", search).json()["results"]
    crm_deleted = {r["id"] for r in results if r["system"] == "crm" and r.get("op") == "delete"}
    assert {r["id"] for r in found} == crm_changed - crm_deleted
    events = stripe(sims, "GET", "/v1/events", params={"created[gte]": since_s, "limit": 100}).json()["data"]
    assert {e["data"]["object"]["id"] for e in events} == {
        cid for system, cid in changed if system == "billing"
    }
