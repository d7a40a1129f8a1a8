"""Push back: the reverse-ETL writers, their ledger and locks (see docs/contracts.md §6).

``run_sync`` plans every target from ``reverse_etl.<target>_changes`` and applies the operations with
re-read-before-write, pacing, retries and idempotency keys, recording each in ``ops.sync_operations``.
``run_benchmark`` measures operations per second per target against the rate limits.
"""

from customer_sync.sync.bench import run_benchmark
from customer_sync.sync.model import TARGETS
from customer_sync.sync.runner import SyncResult, run_sync

__all__ = ["TARGETS", "SyncResult", "run_benchmark", "run_sync"]
