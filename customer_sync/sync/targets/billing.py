"""Stripe customers: re-read through the events list, one form-encoded POST per customer, with
Idempotency-Key.

Stripe has no batch endpoint for customers and no conditional update (APIS.md section 2). Before each
batch the client reads the customer events newer than those it has seen (:mod:`.stripe_events`): a
customer they name is compared as its newest event left it, any other as it was landed. That is one
request per 100 changes where a GET per customer was one per customer. A customer is still read with a
GET when the events cannot say enough: no landed copy time, a window past the events' 30 days, an
operation tried before, or a write of part of an address (the other parts are sent too, with their
current values).

After a batch is written, the events of its writes are read back. Each says, in
``previous_attributes``, what the write replaced; a write that replaced a value other than the one it
was planned against overwrote an edit made while it was in flight. That value is put back, and the
operation is deferred, so no update is lost even in the moment between the re-read and the write.

Every update carries the operation's idempotency key, so a retry after a lost answer replays the first
answer instead of writing again. Stripe saves 5xx answers under the key too: after a 5xx the engine
re-reads and, if nothing changed, writes with the operation's next key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from customer_sync.sync.http import AmbiguousWrite, ApiClient, ApiError, Unreachable
from customer_sync.sync.model import CurrentRecord, Operation, WriteOutcome, same_value
from customer_sync.sync.pacing import Pacer
from customer_sync.sync.targets.stripe_events import OVERLAP_SECONDS, UNCHANGED, EventFeed, replaced_value

log = logging.getLogger(__name__)

# sandbox: 25 requests per second (live mode: 100); Stripe sends no rate-limit headers, only 429s,
# so the rate is configured: CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND
DEFAULT_RATE = 25.0
DEFAULT_BATCH_SIZE = 100
ADDRESS_KEYS = ("line1", "line2", "city", "postal_code", "state", "country")
# requests in flight at once: the pacer keeps the rate, a few threads hide each request's latency
CONCURRENCY = 4


def flatten(customer: dict[str, Any]) -> dict[str, str | None]:
    """A Stripe customer as the parameter names the sync writes (address[line1], metadata[golden_id])."""
    values: dict[str, str | None] = {
        "name": customer.get("name"),
        "email": customer.get("email"),
        "phone": customer.get("phone"),
    }
    address = customer.get("address") or {}
    for key in ADDRESS_KEYS:
        values[f"address[{key}]"] = address.get(key)
    for key, value in (customer.get("metadata") or {}).items():
        values[f"metadata[{key}]"] = value
    return values


class BillingClient:
    name = "billing"

    def __init__(self, base_url: str, token: str, limit_scale: float | None = None) -> None:
        """``limit_scale``: the endpoint's limit over the sandbox's (the local simulators say theirs);
        CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND, when set, wins."""
        default = DEFAULT_RATE * (limit_scale or 1.0)
        rate = float(os.environ.get("CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND", default))
        self.api = ApiClient(base_url, token, Pacer(rate, name="billing"))
        # one events page re-reads a batch; smaller batches record progress in the ledger more often
        self.batch_size = int(os.environ.get("CUSTOMER_SYNC_BILLING_BATCH_SIZE", DEFAULT_BATCH_SIZE))
        self.pool = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="billing")
        self.feed: EventFeed | None = None
        self.gets = 0
        self.unchecked = 0

    def prepare(self, ops: Iterable[Operation]) -> None:
        """Open the events window at the newest landed copy of ``ops`` (less the overlap)."""
        newest = max((seconds for op in ops if (seconds := landed_seconds(op)) is not None), default=None)
        if newest is None:
            log.info("billing: no landed copy times, every customer is re-read with a GET")
            return
        since = newest - OVERLAP_SECONDS
        if not EventFeed.usable_since(since):
            log.info("billing: the landed copies are older than the events kept, re-reading with GETs")
            return
        self.feed = EventFeed(self.api, int(since))

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        if self.feed is None:
            return self._get_each(ops)
        self.feed.refresh()
        found: dict[tuple[str, str], CurrentRecord] = {}
        by_get: list[Operation] = []
        for op in ops:
            state = self.feed.state(op.record_id)
            if state is not None:
                found[op.key] = _current(state.customer, state.deleted)
            elif op.attempts > 0 or landed_seconds(op) is None or _writes_part_of_address(op):
                by_get.append(op)
            else:
                # no event since the land: the customer holds its landed values
                found[op.key] = CurrentRecord(values=dict(op.old_values), updated_ms=None)
        found.update(self._get_each(by_get))
        return found

    def _get_each(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        found: dict[tuple[str, str], CurrentRecord] = {}
        self.gets += len(ops)
        for op, record in zip(ops, self.pool.map(self._get, ops), strict=True):
            if record is not None:
                found[op.key] = record
        return found

    def _get(self, op: Operation) -> CurrentRecord | None:
        try:
            customer = self.api.read("GET", f"/v1/customers/{op.record_id}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise Unreachable(str(exc)) from exc
        return _current(customer, bool(customer.get("deleted", False)))

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        if self.feed is not None:
            self.feed.expect(op.idempotency_key for op in ops)
        sent = list(self.pool.map(lambda op: self._post(op, current.get(op.key)), ops))
        outcomes = {op.op_id or 0: outcome for op, (outcome, _) in zip(ops, sent, strict=True)}
        if self.feed is not None:
            applied = [
                (op, expected)
                for op, (outcome, expected) in zip(ops, sent, strict=True)
                if outcome.status == "applied"
            ]
            self._check_replaced(self.feed, applied, outcomes)
        return outcomes

    def _post(
        self, op: Operation, record: CurrentRecord | None
    ) -> tuple[WriteOutcome, dict[str, str | None]]:
        """Send one update; returns its outcome and the value each sent parameter is expected to replace."""
        params = dict(op.new_values)
        expected: dict[str, str | None] = {name: op.old_values.get(name) for name in params}
        if any(name.startswith("address[") for name in params) and record is not None:
            # send the whole address hash: the parts we do not change keep their current values
            for key in ADDRESS_KEYS:
                name = f"address[{key}]"
                if name not in params and record.values.get(name) is not None:
                    params[name] = record.values[name] or ""
                    expected[name] = record.values[name]
        try:
            self.api.write(
                "POST",
                f"/v1/customers/{op.record_id}",
                data=params,
                headers={"Idempotency-Key": op.idempotency_key},
            )
        except AmbiguousWrite as exc:
            return WriteOutcome.from_ambiguous(exc), expected
        except ApiError as exc:
            return WriteOutcome("failed", _message(exc.body)), expected
        return WriteOutcome("applied"), expected

    def _check_replaced(
        self,
        feed: EventFeed,
        applied: list[tuple[Operation, dict[str, str | None]]],
        outcomes: dict[int, WriteOutcome],
    ) -> None:
        """Read the batch's own events; put back any value a write replaced that it was not planned
        against (an edit made while the write was in flight) and defer that operation."""
        if not applied:
            return
        feed.refresh()
        for op, expected in applied:
            previous = feed.replaced(op.idempotency_key)
            if previous is None:
                # no event: the write changed nothing, or its event is not listed yet
                self.unchecked += 1
                continue
            overwritten = {
                name: value
                for name in expected
                if (value := replaced_value(previous, name)) is not UNCHANGED
                and not same_value(value, expected[name])
            }
            feed.forget(op.record_id, op.idempotency_key)
            if overwritten:
                outcomes[op.op_id or 0] = self._put_back(op, previous, overwritten)

    def _put_back(self, op: Operation, previous: dict[str, Any], overwritten: dict[str, Any]) -> WriteOutcome:
        """Write back the values an update overwrote; the operation ends deferred (or failed)."""
        params = {name: "" if value is None else str(value) for name, value in overwritten.items()}
        if any(name.startswith("address[") for name in params):
            # the address goes whole: every part as the overwriting write found it
            for key, value in (previous.get("address") or {}).items():
                params[f"address[{key}]"] = "" if value is None else str(value)
        names = ", ".join(sorted(overwritten))
        log.warning("billing: %s of %s changed while it was written; putting it back", names, op.record_id)
        try:
            self.api.write(
                "POST",
                f"/v1/customers/{op.record_id}",
                data=params,
                headers={"Idempotency-Key": f"{op.idempotency_key}:put-back"},
            )
        except (AmbiguousWrite, ApiError) as exc:
            return WriteOutcome(
                "failed", f"{names} changed in billing while written; putting back failed: {exc}"
            )
        return WriteOutcome(
            "conflict", f"{names} changed in billing while written; put back, the next cycle lands it first"
        )

    def requests_sent(self) -> int:
        return self.api.requests_sent

    def close(self) -> None:
        if self.unchecked:
            log.info("billing: %d writes not checked, their events were not listed yet", self.unchecked)
        self.pool.shutdown(wait=True)
        self.api.close()


def landed_seconds(op: Operation) -> float | None:
    """When the operation's landed copy was loaded: dlt's load id is the load's epoch seconds."""
    try:
        return float(op.landed_load_id) if op.landed_load_id else None
    except ValueError:
        return None


def _current(customer: dict[str, Any], deleted: bool) -> CurrentRecord:
    # Stripe has no updated timestamp: the engine compares the landed values instead
    return CurrentRecord(values=flatten(customer), updated_ms=None, exists=not deleted)


def _writes_part_of_address(op: Operation) -> bool:
    parts = [name for name in op.new_values if name.startswith("address[")]
    return 0 < len(parts) < len(ADDRESS_KEYS)


def _message(body: str) -> str:
    return body[:500]
