"""One sync per target at a time: a Postgres session advisory lock held for the whole target sync.

A session lock is released by Postgres when the holder's connection ends, so a killed sync never leaves
a stale lock behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2.extensions

from customer_sync import db as database
from customer_sync.errors import RunFailure

LOCK_NAMESPACE = "customer_sync.sync"


class TargetBusy(RunFailure):
    """Another sync holds the target's lock."""


@contextmanager
def target_lock(db: database.Database, target: str) -> Iterator[psycopg2.extensions.connection]:
    """Hold the lock of ``target`` (on its own connection, yielded) or raise TargetBusy at once."""
    with database.connect(db, role="cs_sync", autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (LOCK_NAMESPACE, target))
            (acquired,) = cur.fetchone()
        if not acquired:
            raise TargetBusy(f"another sync of target {target} is running; try again when it has finished")
        try:
            yield conn
        finally:
            with conn.cursor() as cur:
                cur.execute("select pg_advisory_unlock(hashtext(%s), hashtext(%s))", (LOCK_NAMESPACE, target))
