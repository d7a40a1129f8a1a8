"""HTTP plumbing shared by the API sources: dlt's retrying session plus client-side pacing.

Retries (429 with or without ``Retry-After``, 5xx, connection errors and timeouts, exponential backoff)
come from dlt's requests helper. dlt has no client-side rate limiter, so :class:`Pacer` spaces requests
under each API's documented limit; it is mounted as a requests transport adapter, so every attempt,
retries included, waits its turn.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

# transient failures worth another attempt; 4xx other than 429 are the caller's bug and fail at once
RETRY_STATUS = (429, 500, 502, 503, 504)
# the simulators' "slow" fault holds a response for 20 s, "longer than any sane client timeout"
REQUEST_TIMEOUT_S = 15.0
MAX_ATTEMPTS = 8
BACKOFF_FACTOR = 0.5
MAX_RETRY_DELAY_S = 30.0


@dataclass
class Pacer:
    """At most ``rate`` requests per second, spaced evenly (a leaky bucket of size one)."""

    rate: float
    _next_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next_at - now
            self._next_at = max(now, self._next_at) + 1.0 / self.rate
        if delay > 0:
            time.sleep(delay)


class PacedAdapter(HTTPAdapter):
    """A transport adapter that waits for its :class:`Pacer` before each send (each retry, too)."""

    def __init__(self, pacer: Pacer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacer = pacer

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.pacer.wait()
        return super().send(request, *args, **kwargs)


def api_client(
    base_url: str,
    auth: AuthConfigBase,
    rate: float,
    path_rates: dict[str, float] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT_S,
) -> RESTClient:
    """A dlt ``RESTClient`` on a retrying session paced at ``rate`` requests/s.

    ``path_rates`` maps a path prefix (e.g. ``/crm/v3/objects/contacts/search``) to its own, stricter
    rate; requests picks the adapter with the longest matching prefix.
    """
    base_url = base_url.rstrip("/")
    session = Client(
        request_timeout=timeout,
        raise_for_status=False,  # the RESTClient's response hook raises after retries are exhausted
        status_codes=RETRY_STATUS,
        request_max_attempts=MAX_ATTEMPTS,
        request_backoff_factor=BACKOFF_FACTOR,
        request_max_retry_delay=MAX_RETRY_DELAY_S,
        respect_retry_after_header=True,
    ).session
    session.mount(base_url + "/", PacedAdapter(Pacer(rate)))
    for prefix, prefix_rate in (path_rates or {}).items():
        session.mount(base_url + prefix, PacedAdapter(Pacer(prefix_rate)))
    return RESTClient(base_url=base_url, auth=auth, session=session, headers=headers)


def text_columns(*names: str) -> dict[str, dict[str, Any]]:
    """Column hints declaring ``names`` as nullable text."""
    return {name: {"data_type": "text", "nullable": True} for name in names}


def typed_columns(**types: str) -> dict[str, dict[str, Any]]:
    """Column hints from ``name=data_type`` pairs, all nullable."""
    return {name: {"data_type": data_type, "nullable": True} for name, data_type in types.items()}
