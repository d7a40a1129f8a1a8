"""Zendesk users and organizations: show_many to re-read, update_many jobs to write (100 per job).

update_many is asynchronous: it answers with a job_status that is polled until completed, and the
job's results say which records were updated. Zendesk has no idempotency key for users (APIS.md §3),
so after an ambiguous answer the engine re-reads before writing again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from customer_sync.sync.http import AmbiguousWrite, ApiClient, ApiError
from customer_sync.sync.model import CurrentRecord, Operation, WriteOutcome, time_ms
from customer_sync.sync.pacing import Pacer

log = logging.getLogger(__name__)

# Enterprise: 700 requests per minute per account; the X-Rate-Limit headers correct this once seen
DEFAULT_RATE = 700 / 60
RESOURCES = {"users": "user", "organizations": "organization"}
JOB_TIMEOUT_SECONDS = 120.0


# records per request (show_many, update_many) and requests of one engine batch: the jobs of a batch are
# queued together and polled together, so their processing overlaps. 20 of the 30 queued or running
# jobs Zendesk allows an account; a batch's re-read is 20 show_many requests, under 2 s at 700/min
CHUNK = 100
JOBS_PER_BATCH = 20


class SupportClient:
    name = "support"
    batch_size = CHUNK * JOBS_PER_BATCH

    def __init__(self, base_url: str, token: str) -> None:
        self.api = ApiClient(base_url, token, Pacer(DEFAULT_RATE, name="support"))

    def prepare(self, ops: Iterable[Operation]) -> None:
        """Nothing to set up: external_id is a standard field."""

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        found: dict[tuple[str, str], CurrentRecord] = {}
        for object_type, chunk in _chunks(ops):
            ids = ",".join(op.record_id for op in chunk)
            body = self.api.read("GET", f"/api/v2/{object_type}/show_many", params={"ids": ids})
            for item in (body or {}).get(object_type, []):
                values = {name: _text(item.get(name)) for name in ("name", "email", "phone", "external_id")}
                found[(object_type, str(item["id"]))] = CurrentRecord(
                    values=values,
                    updated_ms=time_ms(item.get("updated_at")),
                    exists=item.get("active", True) is not False,
                )
        return found

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        queued: list[tuple[list[Operation], dict[str, Any]]] = []
        for object_type, chunk in _chunks(ops):
            items = [{"id": int(op.record_id), **op.new_values} for op in chunk]
            try:
                _, answer = self.api.write(
                    "PUT", f"/api/v2/{object_type}/update_many", json={object_type: items}
                )
            except AmbiguousWrite as exc:
                # the job may have been queued and still run: wait the settle time before re-reading
                outcomes.update(
                    {op.op_id or 0: WriteOutcome("ambiguous", str(exc), timed_out=True) for op in chunk}
                )
                continue
            except ApiError as exc:
                outcomes.update({op.op_id or 0: WriteOutcome("failed", exc.body[:500]) for op in chunk})
                continue
            queued.append((chunk, (answer or {}).get("job_status") or {}))
        for chunk, job in queued:
            outcomes.update(self._job_outcomes(chunk, job))
        return outcomes

    def _job_outcomes(self, group: list[Operation], job: dict[str, Any]) -> dict[int, WriteOutcome]:
        """Wait for one queued job and turn its results into outcomes of its operations."""
        try:
            job = self._wait_for_job(job)
        except ApiError:
            job = None  # e.g. the job expired before we saw its end
        if job is None:
            # the job may still run: re-read decides
            error = "job status unknown"
            return {op.op_id or 0: WriteOutcome("ambiguous", error, timed_out=True) for op in group}
        # a result names its record by id; a failed item only by its index in the request
        results: dict[str, dict[str, Any]] = {}
        for result in job.get("results") or []:
            if not isinstance(result, dict):
                continue
            if result.get("id") is not None:
                results[str(result["id"])] = result
            elif isinstance(result.get("index"), int) and 0 <= result["index"] < len(group):
                results[group[result["index"]].record_id] = result
        outcomes = {}
        for op in group:
            result = results.get(op.record_id)
            if job.get("status") == "completed" and result is not None and result.get("success", True):
                outcomes[op.op_id or 0] = WriteOutcome("applied")
            else:
                detail = (result or {}).get("details") or (result or {}).get("error") or job.get("message")
                outcomes[op.op_id or 0] = WriteOutcome("failed", f"job {job.get('status')}: {detail}"[:500])
        return outcomes

    def _wait_for_job(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """Poll a job_status until it completes or fails; None if it never finished in time."""
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        delay = 0.1
        while job.get("status") not in ("completed", "failed", "killed"):
            if time.monotonic() > deadline or not job.get("id"):
                return None
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
            body = self.api.read("GET", f"/api/v2/job_statuses/{job['id']}")
            job = (body or {}).get("job_status") or {}
        return job

    def requests_sent(self) -> int:
        return self.api.requests_sent

    def close(self) -> None:
        self.api.close()


def _chunks(ops: list[Operation]) -> list[tuple[str, list[Operation]]]:
    """(object type, at most CHUNK operations) pieces of ``ops``."""
    groups: dict[str, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.object_type, []).append(op)
    return [
        (object_type, group[start : start + CHUNK])
        for object_type, group in groups.items()
        for start in range(0, len(group), CHUNK)
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
