"""The billing sync's re-read through Stripe's events, against the billing simulator.

A customer is compared as its newest event since the land left it, or as landed when no event names
it; the events of the sync's own writes say what each write replaced, and a value it was not planned
against (an edit made while the write was in flight) is put back. GETs remain where the events cannot
say enough: part of an address to write, a landed copy older than the events kept.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from customer_sync.sync.engine import decide
from customer_sync.sync.model import Operation
from customer_sync.sync.targets.billing import BillingClient, flatten
from tests.python.fixtures.simulators import Simulators, small_dataset

PERSONS = 40


@pytest.fixture(scope="module")
def sims(simulator_factory: Any) -> Simulators:
    """Hand-made customers, fast limits, no faults."""
    return simulator_factory(data=small_dataset(PERSONS), fast=True, search_lag_ms=0, export_hide_seconds=0)


def live_customers(sims: Simulators) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in sims.records("billing", "customers") if not c.get("deleted")}


def client(sims: Simulators) -> BillingClient:
    return BillingClient(sims.url("billing"), sims.token("billing"), limit_scale=400)


def operation(customer: dict[str, Any], new_values: dict[str, str], op_id: int, landed: float) -> Operation:
    """An operation planned from ``customer`` as landed at ``landed`` (epoch seconds)."""
    values = flatten(customer)
    return Operation(
        target="billing",
        object_type="customers",
        record_id=customer["id"],
        customer_id=f"G{op_id:010d}",
        new_values=new_values,
        old_values={name: values.get(name) for name in new_values},
        landed_updated_ms=None,
        landed_load_id=f"{landed:.6f}",
        op_id=op_id,
        idempotency_key=f"test-{secrets.token_hex(8)}",
    )


def edit(sims: Simulators, customer_id: str, **values: str) -> None:
    """A person edits the customer in Stripe's dashboard (an event, not an API write)."""
    sims.apply_edits([{"system": "billing", "table": "customers", "id": customer_id, "set": values}])


def test_customers_are_re_read_from_the_events_not_one_get_each(sims: Simulators) -> None:
    customers = list(live_customers(sims).values())[:20]
    landed = time.time()
    ops = [operation(c, {"phone": f"+6140000{i:04d}"}, i + 1, landed) for i, c in enumerate(customers)]
    # after the land: a person changes one customer's phone and deletes another
    edit(sims, customers[3]["id"], phone="+61 8 9999 0000")
    sims.apply_edits([{"system": "billing", "table": "customers", "id": customers[5]["id"], "op": "delete"}])
    billing = client(sims)
    billing.prepare(ops)
    current = billing.read(ops)
    billing.close()

    assert billing.gets == 0
    assert billing.requests_sent() == 1, "one page of events re-reads the whole batch"
    outcomes = {op.record_id: decide(op, current.get(op.key)) for op in ops}
    assert outcomes[customers[3]["id"]][0] == "deferred"
    assert outcomes[customers[5]["id"]][0] == "skipped"
    assert [cid for cid, outcome in outcomes.items() if outcome is None] == [
        c["id"] for i, c in enumerate(customers) if i not in (3, 5)
    ]


def test_a_write_that_overwrote_an_edit_in_flight_puts_it_back(sims: Simulators) -> None:
    customers = list(live_customers(sims).values())[20:25]
    landed = time.time()
    ops = [operation(c, {"phone": f"+6141111{i:04d}"}, 100 + i, landed) for i, c in enumerate(customers)]
    billing = client(sims)
    billing.prepare(ops)
    current = billing.read(ops)
    assert all(decide(op, current.get(op.key)) is None for op in ops)
    # between the re-read and the write, a person edits one of them
    racer = customers[1]["id"]
    edit(sims, racer, phone="+61 8 7777 1234")
    outcomes = billing.write(ops, current)
    billing.close()

    assert {op.record_id: outcomes[op.op_id or 0].status for op in ops} == {
        op.record_id: ("conflict" if op.record_id == racer else "applied") for op in ops
    }
    assert "phone" in outcomes[ops[1].op_id or 0].error
    now = live_customers(sims)
    assert now[racer]["phone"] == "+61 8 7777 1234", "the edit made in flight was lost"
    assert [now[op.record_id]["phone"] for op in ops if op.record_id != racer] == [
        op.new_values["phone"] for op in ops if op.record_id != racer
    ]
    assert billing.unchecked == 0


def test_part_of_an_address_is_written_with_the_other_parts_read_by_get(sims: Simulators) -> None:
    customer = list(live_customers(sims).values())[30]
    op = operation(customer, {"address[city]": "Fremantle"}, 200, time.time())
    billing = client(sims)
    billing.prepare([op])
    current = billing.read([op])
    outcomes = billing.write([op], current)
    billing.close()

    assert billing.gets == 1 and outcomes[200].status == "applied"
    address = live_customers(sims)[customer["id"]]["address"]
    assert address == {**customer["address"], "city": "Fremantle"}


def test_landed_copies_older_than_the_events_kept_are_read_by_get(sims: Simulators) -> None:
    customers = list(live_customers(sims).values())[31:34]
    month_ago = time.time() - 31 * 86_400
    ops = [operation(c, {"phone": "+61400009999"}, 300 + i, month_ago) for i, c in enumerate(customers)]
    billing = client(sims)
    billing.prepare(ops)
    current = billing.read(ops)
    billing.close()

    assert billing.feed is None and billing.gets == 3
    assert all(decide(op, current.get(op.key)) is None for op in ops)
