"""Plain data the sync passes around: operations, re-read records, write outcomes, the client protocol."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TARGETS = ("crm", "billing", "support", "erp")

# every operation ends in one of the final statuses; planned ones are open
OPEN_STATUSES = ("planned",)
FINAL_STATUSES = ("applied", "skipped", "deferred", "failed", "parked")


@dataclass
class Operation:
    """One record to update in one target: the fields, their values as landed and as wanted."""

    target: str
    object_type: str
    record_id: str
    customer_id: str
    new_values: dict[str, str]
    old_values: dict[str, str | None]
    landed_updated_ms: int | None
    landed_load_id: str | None = None
    op_id: int | None = None
    idempotency_key: str = ""
    attempts: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.object_type, self.record_id)

    @property
    def fields(self) -> list[str]:
        return sorted(self.new_values)


@dataclass
class CurrentRecord:
    """A target record as re-read just before writing."""

    values: dict[str, str | None]
    updated_ms: int | None
    exists: bool = True
    # whatever the writer needs to make its write conditional (e.g. the ERP's write_date)
    version: object = None


@dataclass
class WriteOutcome:
    """What became of one operation's write."""

    status: str  # applied | failed | ambiguous | conflict
    error: str = ""
    # the API answered a 5xx: on Stripe that answer is saved under the key, so the next try needs a new one
    rotate_key: bool = False
    # no answer in time: the server may still apply it, so re-read only after the settle time
    timed_out: bool = False

    @classmethod
    def from_ambiguous(cls, exc: Exception) -> WriteOutcome:
        return cls(
            "ambiguous",
            str(exc),
            rotate_key=bool(getattr(exc, "server_error", False)),
            timed_out=bool(getattr(exc, "timed_out", False)),
        )


@dataclass
class TargetStats:
    planned: int = 0
    applied: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    parked: int = 0
    requests: int = 0
    seconds: float = 0.0
    refused: str = ""
    by_field: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "planned": self.planned,
            "applied": self.applied,
            "skipped": self.skipped,
            "deferred": self.deferred,
            "failed": self.failed,
            "parked": self.parked,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }
        if self.refused:
            result["refused"] = self.refused
        return result


def time_ms(value: object) -> int | None:
    """Epoch milliseconds of an API timestamp: ISO 8601 (Z or offset), epoch-ms digits, or naive UTC."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        # integer arithmetic, as Postgres's numeric epoch: no float rounding at the millisecond
        return (moment - EPOCH) // timedelta(milliseconds=1)
    text = str(value).strip()
    if text.isdigit():
        number = int(text)
        return number if number > 10**11 else number * 1000
    try:
        return time_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


class TargetClient(Protocol):
    """How the engine talks to one target system."""

    name: str
    batch_size: int

    def prepare(self, ops: Iterable[Operation]) -> None:
        """One-off setup before writing ``ops``, every operation of the run (e.g. create the CRM's golden-id
        property). They may stream from the ledger: a client that looks at them must not keep them all."""

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        """Re-read the records of ``ops`` (at most batch_size), keyed by (object_type, record_id)."""

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        """Write ``ops`` (at most batch_size); outcome per op_id."""

    def requests_sent(self) -> int:
        """Requests sent so far."""

    def close(self) -> None:
        """Release connections."""


def same_value(current: str | None, wanted: str | None) -> bool:
    """Values compare as trimmed strings; null and empty are the same (an API may send either)."""
    a = "" if current is None else str(current).strip()
    b = "" if wanted is None else str(wanted).strip()
    return a == b
