"""Stripe customers: one GET to re-read and one form-encoded POST per customer, with Idempotency-Key.

Stripe has no batch endpoint for customers (APIS.md §2). Every update carries the operation's
idempotency key, so a retry after a lost answer replays the first answer instead of writing again.
Stripe saves 5xx answers under the key too: after a 5xx the engine re-reads and, if nothing changed,
writes with the operation's next key.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from customer_sync.sync.http import AmbiguousWrite, ApiClient, ApiError, Unreachable
from customer_sync.sync.model import CurrentRecord, Operation, WriteOutcome
from customer_sync.sync.pacing import Pacer

log = logging.getLogger(__name__)

# sandbox: 25 requests per second (live mode: 100); Stripe sends no rate-limit headers, only 429s,
# so the rate is configured: CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND
DEFAULT_RATE = 25.0
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
    batch_size = 25

    def __init__(self, base_url: str, token: str, limit_scale: float | None = None) -> None:
        """``limit_scale``: the endpoint's limit over the sandbox's (the local simulators say theirs);
        CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND, when set, wins."""
        default = DEFAULT_RATE * (limit_scale or 1.0)
        rate = float(os.environ.get("CUSTOMER_SYNC_BILLING_REQUESTS_PER_SECOND", default))
        self.api = ApiClient(base_url, token, Pacer(rate, name="billing"))
        self.pool = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="billing")

    def prepare(self) -> None:
        """Nothing to set up: metadata keys need no definition."""

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        found: dict[tuple[str, str], CurrentRecord] = {}
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
        # Stripe has no updated timestamp: the engine compares the landed values instead
        return CurrentRecord(
            values=flatten(customer), updated_ms=None, exists=not customer.get("deleted", False)
        )

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        results = self.pool.map(lambda op: self._post(op, current.get(op.key)), ops)
        return {op.op_id or 0: outcome for op, outcome in zip(ops, results, strict=True)}

    def _post(self, op: Operation, record: CurrentRecord | None) -> WriteOutcome:
        params = dict(op.new_values)
        if any(name.startswith("address[") for name in params) and record is not None:
            # send the whole address hash: the parts we do not change keep their current values
            for key in ADDRESS_KEYS:
                name = f"address[{key}]"
                if name not in params and record.values.get(name) is not None:
                    params[name] = record.values[name] or ""
        try:
            self.api.write(
                "POST",
                f"/v1/customers/{op.record_id}",
                data=params,
                headers={"Idempotency-Key": op.idempotency_key},
            )
        except AmbiguousWrite as exc:
            return WriteOutcome.from_ambiguous(exc)
        except ApiError as exc:
            return WriteOutcome("failed", _message(exc.body))
        return WriteOutcome("applied")

    def requests_sent(self) -> int:
        return self.api.requests_sent

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.api.close()


def _message(body: str) -> str:
    return body[:500]
