"""Pacing under an API's rate limit, and backoff for retries.

Each target client owns one ``Pacer``. It spaces requests at a rate just under the API's documented
limit and adjusts to what the API says in its rate-limit headers (HubSpot ``X-HubSpot-RateLimit-*``,
Zendesk ``X-Rate-Limit*`` / ``ratelimit-reset``); Stripe sends no such headers, so its documented rate is
kept and only 429s slow it down.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# share of the advertised limit the pacer aims at: close to the limit, with room for clock jitter
TARGET_SHARE = 0.95


@dataclass
class Pacer:
    """Spaces requests ``1 / rate`` seconds apart, thread-safe; rate in requests per second."""

    rate: float
    name: str = ""
    _next_at: float = 0.0
    _paused_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    waited_seconds: float = 0.0
    throttled: int = 0

    def acquire(self) -> None:
        """Block until the next request may be sent."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_at, self._paused_until)
            self._next_at = start + 1.0 / self.rate
        delay = start - now
        if delay > 0:
            self.waited_seconds += delay
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        """No request before ``seconds`` from now (a 429 or an exhausted window)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adjust to rate-limit headers: the advertised rate, and a pause when the window is used up."""
        limit, interval_s, remaining, reset_s = _read_limit_headers(headers)
        if limit and interval_s:
            advertised = TARGET_SHARE * limit / interval_s
            if abs(advertised - self.rate) / self.rate > 0.01:
                log.debug("%s: pacing at %.2f req/s from headers", self.name, advertised)
                self.rate = advertised
        if remaining is not None and remaining <= 0:
            self.pause(reset_s if reset_s is not None else (interval_s or 1.0) / max(limit or 1, 1))

    def on_throttled(self, retry_after: float | None, attempt: int) -> float:
        """A 429: pause for Retry-After (or a backoff) and slow down a little. Returns the wait."""
        self.throttled += 1
        wait = retry_after if retry_after is not None else backoff_seconds(attempt)
        self.pause(wait)
        with self._lock:
            self.rate = max(self.rate * 0.9, 0.5)
        return wait


def backoff_seconds(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter for retry ``attempt`` (1-based)."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0))) + base / 2


def _read_limit_headers(
    headers: Mapping[str, str],
) -> tuple[float | None, float | None, float | None, float | None]:
    """(limit, interval seconds, remaining, reset seconds) from HubSpot or Zendesk headers."""
    lower = {k.lower(): v for k, v in headers.items()}

    def number(key: str) -> float | None:
        try:
            return float(lower[key])
        except (KeyError, ValueError):
            return None

    if "x-hubspot-ratelimit-max" in lower:
        interval_ms = number("x-hubspot-ratelimit-interval-milliseconds") or 10_000.0
        return (
            number("x-hubspot-ratelimit-max"),
            interval_ms / 1000.0,
            number("x-hubspot-ratelimit-remaining"),
            None,
        )
    if "x-rate-limit" in lower:
        # Zendesk: requests per minute for the account
        return number("x-rate-limit"), 60.0, number("x-rate-limit-remaining"), number("ratelimit-reset")
    return None, None, None, None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (Zendesk sends seconds; an HTTP date is not used by these APIs)."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None
