"""HubSpot CRM v3: batch/read to re-read, batch/update to write (100 per request), golden-id property.

HubSpot has no idempotency header (APIS.md §1), so a write is never blindly repeated: after an
ambiguous answer the engine re-reads the records and writes only those not yet holding the values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from customer_sync.sync.http import AmbiguousWrite, ApiClient, ApiError
from customer_sync.sync.model import CurrentRecord, Operation, WriteOutcome, time_ms
from customer_sync.sync.pacing import Pacer

log = logging.getLogger(__name__)

# Free/Starter private apps: 100 requests per rolling 10 s; the headers correct this once seen
DEFAULT_RATE = 100 / 10
GOLDEN_ID_PROPERTY = "mdm_golden_id"
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}


class CrmClient:
    name = "crm"
    batch_size = 100

    def __init__(self, base_url: str, token: str) -> None:
        self.api = ApiClient(base_url, token, Pacer(DEFAULT_RATE, name="crm"))

    def prepare(self, ops: Iterable[Operation]) -> None:
        """Create the unique golden-id property on contacts and companies when it is missing."""
        for object_type in MODIFIED_PROPERTY:
            body = self.api.read("GET", f"/crm/v3/properties/{object_type}")
            names = {prop.get("name") for prop in (body or {}).get("results", [])}
            if GOLDEN_ID_PROPERTY in names:
                continue
            definition = {
                "name": GOLDEN_ID_PROPERTY,
                "label": "MDM golden id",
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation" if object_type == "contacts" else "companyinformation",
                "hasUniqueValue": True,
                "description": "Golden customer id set by customer-sync",
            }
            try:
                self.api.write("POST", f"/crm/v3/properties/{object_type}", json=definition)
                log.info("crm: created property %s on %s", GOLDEN_ID_PROPERTY, object_type)
            except ApiError as exc:
                if exc.status != 409:  # 409: someone created it meanwhile
                    raise
            except AmbiguousWrite:
                # checked again on the next prepare; the property create is idempotent by name (409)
                log.warning(
                    "crm: creating property %s on %s: no clear answer", GOLDEN_ID_PROPERTY, object_type
                )

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        found: dict[tuple[str, str], CurrentRecord] = {}
        for object_type, group in _by_object(ops).items():
            modified = MODIFIED_PROPERTY[object_type]
            properties = sorted({name for op in group for name in op.new_values} | {modified})
            body = self.api.read(
                "POST",
                f"/crm/v3/objects/{object_type}/batch/read",
                json={"inputs": [{"id": op.record_id} for op in group], "properties": properties},
            )
            for result in (body or {}).get("results", []):
                props = result.get("properties") or {}
                found[(object_type, str(result["id"]))] = CurrentRecord(
                    values={name: props.get(name) for name in properties},
                    # the same clock staging lands as source_updated_at (updatedAt = lastmodifieddate)
                    updated_ms=time_ms(result.get("updatedAt") or props.get(modified)),
                    exists=not result.get("archived", False),
                )
        return found

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        for object_type, group in _by_object(ops).items():
            outcomes.update(self._update(object_type, group))
        return outcomes

    def _update(self, object_type: str, group: list[Operation]) -> dict[int, WriteOutcome]:
        body = {"inputs": [{"id": op.record_id, "properties": dict(op.new_values)} for op in group]}
        try:
            status, answer = self.api.write("POST", f"/crm/v3/objects/{object_type}/batch/update", json=body)
        except AmbiguousWrite as exc:
            return {op.op_id or 0: WriteOutcome.from_ambiguous(exc) for op in group}
        except ApiError as exc:
            if len(group) > 1:
                # one bad input fails the whole batch: split it to find the culprit and write the rest
                half = len(group) // 2
                return {**self._update(object_type, group[:half]), **self._update(object_type, group[half:])}
            return {group[0].op_id or 0: WriteOutcome("failed", _message(exc.body))}
        done = {str(result.get("id")) for result in (answer or {}).get("results", [])}
        # a 207 names the inputs that failed in each error's context.ids
        errors_by_id: dict[str, str] = {}
        for error in (answer or {}).get("errors", []):
            for record_id in (error.get("context") or {}).get("ids") or []:
                errors_by_id[str(record_id)] = _message(error)
        outcomes = {}
        for op in group:
            if op.record_id in done:
                outcomes[op.op_id or 0] = WriteOutcome("applied")
            else:
                error = errors_by_id.get(op.record_id, f"HTTP {status}: not in the batch results")
                outcomes[op.op_id or 0] = WriteOutcome("failed", error)
        return outcomes

    def requests_sent(self) -> int:
        return self.api.requests_sent

    def close(self) -> None:
        self.api.close()


def _by_object(ops: list[Operation]) -> dict[str, list[Operation]]:
    groups: dict[str, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.object_type, []).append(op)
    return groups


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)[:500]
    return str(error)[:500]
