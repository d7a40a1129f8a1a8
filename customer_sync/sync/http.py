"""One HTTP client per target: auth, pacing, 429 handling, and retries that never hide an ambiguous write.

Reads are safe to repeat, so timeouts and 5xx on reads are retried here with backoff. A write that times
out or gets a 5xx may or may not have been applied: it raises ``AmbiguousWrite`` and the sync engine
re-reads the records before deciding to write again. A 429 means the request was not processed, so it is
retried here for reads and writes alike, after Retry-After or a backoff.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from customer_sync.sync.pacing import Pacer, backoff_seconds, retry_after_seconds

log = logging.getLogger(__name__)

READ_ATTEMPTS = 8
THROTTLE_ATTEMPTS = 30


def default_timeout() -> float:
    """Seconds to wait for an answer (CUSTOMER_SYNC_HTTP_TIMEOUT, default 5)."""
    return float(os.environ.get("CUSTOMER_SYNC_HTTP_TIMEOUT", "5"))


class ApiError(Exception):
    """A definitive error response (4xx other than 429): the request was not applied."""

    def __init__(self, status: int, body: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status = status
        self.body = body


class AmbiguousWrite(Exception):
    """A write whose outcome is unknown (timeout, dropped connection, 5xx)."""

    def __init__(self, message: str, server_error: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        # a 5xx was answered (and, on Stripe, saved under the idempotency key)
        self.server_error = server_error
        # no answer in time: the server may still be working on it, so wait before re-reading
        self.timed_out = timed_out


class Unreachable(Exception):
    """Reads kept failing: the target is down or unreachable."""


@dataclass
class ApiClient:
    """requests.Session with the target's base URL, bearer token and pacer."""

    base_url: str
    token: str
    pacer: Pacer
    timeout: float = field(default_factory=default_timeout)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        self.requests_sent = 0

    def close(self) -> None:
        self.session.close()

    def read(self, method: str, path: str, **kwargs: Any) -> Any:
        """A safe request (GET, batch/read): retried on 429, 5xx and timeouts; returns the JSON body."""
        last_error = ""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                response = self._send(method, path, **kwargs)
            except requests.RequestException as exc:
                last_error = f"{exc.__class__.__name__}: {exc}"
                time.sleep(backoff_seconds(attempt))
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                time.sleep(backoff_seconds(attempt))
                continue
            return self._body(response, method, path)
        raise Unreachable(f"{method} {path} failed {READ_ATTEMPTS} times (last: {last_error})")

    def write(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A write, sent once per call (429s are retried: they were not processed).

        Returns (status, JSON body); raises AmbiguousWrite on a timeout, dropped connection or 5xx, and
        ApiError on any other 4xx.
        """
        try:
            response = self._send(method, path, **kwargs)
        except requests.Timeout as exc:
            raise AmbiguousWrite(f"{method} {path}: no answer in {self.timeout}s", timed_out=True) from exc
        except requests.RequestException as exc:
            raise AmbiguousWrite(f"{method} {path}: {exc.__class__.__name__}") from exc
        if response.status_code >= 500:
            raise AmbiguousWrite(f"{method} {path} -> {response.status_code}", server_error=True)
        return response.status_code, self._body(response, method, path)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send once, waiting out 429s; every attempt goes through the pacer."""
        url = self.base_url.rstrip("/") + path
        for attempt in range(1, THROTTLE_ATTEMPTS + 1):
            self.pacer.acquire()
            self.requests_sent += 1
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            self.pacer.observe(response.headers)
            if response.status_code != 429:
                return response
            wait = self.pacer.on_throttled(retry_after_seconds(response.headers), attempt)
            log.debug("%s %s throttled (429), waiting %.2fs", method, path, wait)
        return response

    @staticmethod
    def _body(response: requests.Response, method: str, path: str) -> Any:
        if response.status_code == 429 or (400 <= response.status_code < 500 and response.status_code != 207):
            raise ApiError(response.status_code, response.text, method, path)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
