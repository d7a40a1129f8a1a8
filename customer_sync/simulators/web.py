"""A tiny HTTP framework on the standard library: requests, responses, a router, a rolling limiter.

Each simulated service is a :class:`Service` subclass that declares its routes; :func:`serve` runs it
on a ``ThreadingHTTPServer``. The base class does what every service shares, in this order: admin
endpoints, latency, authentication, rate limits, injected faults, the handler, the write log.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from customer_sync.simulators import storage
from customer_sync.simulators.state import SimConfig

log = logging.getLogger(__name__)


class HttpError(Exception):
    """Raised by handlers to answer with ``status`` and a service-shaped error ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, {"message": f"invalid JSON body: {exc}"}) from exc

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # ids of the records this request changed, for the write log
    changed: list[str] = field(default_factory=list)


Handler = Callable[[Request], Response]


class Router:
    """Maps ``METHOD /path/{param}`` patterns to handlers, first match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        allowed = False
        for route_method, regex, handler in self._routes:
            found = regex.match(path)
            if found:
                if route_method == method:
                    return handler, found.groupdict()
                allowed = True
        if allowed:
            raise HttpError(405, {"message": f"method {method} not allowed on {path}"})
        return None


class RollingLimiter:
    """At most ``limit`` hits per ``window`` seconds per key, over a rolling window."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> tuple[bool, int, float]:
        """Count one hit; returns (allowed, remaining, seconds until a slot frees)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False, 0, max(0.0, hits[0] + window - now)
            hits.append(now)
            reset = hits[0] + window - now
            return True, limit - len(hits), reset

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


FAULT_KINDS = ("rate_limited", "server_error", "slow", "dropped", "lost_response")


class DropConnection(Exception):
    """Close the socket without answering (the client sees a connection reset)."""


@dataclass
class Context:
    """What a service needs from its process: where its data is, the live config, the tokens."""

    directory: Path
    config: SimConfig
    tokens: dict[str, str]
    save_config: Callable[[], None]
    rng: random.Random = field(default_factory=random.Random)
    rng_lock: threading.Lock = field(default_factory=threading.Lock)


class Service:
    """One simulated system. Subclasses fill in ``system``, routes and the system-specific bodies."""

    system = ""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.limiter = RollingLimiter()
        # one writer at a time per system: read-modify-write stays atomic, SQLite never reports busy
        self.write_lock = threading.RLock()
        self.pool = storage.ConnectionPool(ctx.directory, self.system)
        self.router = Router()
        self.admin = Router()
        self.admin.add("GET", "/_admin/health", self._admin_health)
        self.admin.add("GET", "/_admin/config", self._admin_config)
        self.admin.add("POST", "/_admin/config", self._admin_set_config)
        self.admin.add("GET", "/_admin/writes", self._admin_writes)
        self.admin.add("GET", "/_admin/records", self._admin_records)
        self.admin.add("POST", "/_admin/edit", self._admin_edit)
        self.routes()

    # --- hooks each service implements (crm.py, billing.py, support.py) ------------------------------
    # The base class serves HTTP, faults, latency and the write log; what a route, a token check, a
    # limit or an error body looks like is the service's own, so these raise until a subclass defines them.

    def routes(self) -> None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        raise NotImplementedError

    def rate_limit(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """A 429 response if over a limit, else None and the headers to add to the response."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        """A service-shaped error body (used for faults and unknown routes)."""
        raise NotImplementedError

    def is_write(self, request: Request) -> bool:
        return request.method in ("POST", "PUT", "PATCH", "DELETE")

    def apply_edit(self, edit: dict[str, Any]) -> list[str]:
        """Apply one live edit as a person in the UI would; returns the changed record ids."""
        raise NotImplementedError

    def dump(self, table: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def record_counts(self) -> dict[str, int]:
        raise NotImplementedError

    def normalize_path(self, path: str) -> str:
        return path

    def remember_failure(self, request: Request, response: Response) -> None:
        """An injected 500 happened while the endpoint ran; services that save responses record it."""

    def dispatch(self, request: Request, handler: Handler) -> Response:
        """Run the handler; services wrap this (Stripe adds idempotency)."""
        return handler(request)

    # --- shared machinery ---------------------------------------------------------------------------

    def connect(self) -> AbstractContextManager[storage.Connection]:
        """A pooled connection to this system's database, in a transaction."""
        return self.pool.connection()

    def close(self) -> None:
        self.pool.close()

    def handle(self, request: Request) -> Response:
        request.path = self.normalize_path(request.path)
        if request.path.startswith("/_admin/"):
            return self._handle_admin(request)
        config = self.ctx.config
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000.0)
        if not self.authenticate(request):
            return self.unauthorized()
        limited, limit_headers = self.rate_limit(request)
        is_write = self.is_write(request)
        if limited is not None:
            if is_write:
                self._log_write(request, limited, fault=None)
            return limited
        fault = self._pick_fault()
        if fault in ("rate_limited", "server_error", "dropped"):
            response = self._fault_response(fault, limit_headers)
            if fault == "server_error":
                self.remember_failure(request, response)
            if is_write:
                self._log_write(request, response, fault=fault)
            if fault == "dropped":
                raise DropConnection
            return response
        if fault == "slow":
            # the response comes, but only after the client has given up
            time.sleep(config.slow_fault_seconds)
        response = self._run(request)
        response.headers = {**limit_headers, **response.headers}
        if is_write:
            self._log_write(request, response, fault=fault)
        if fault == "lost_response":
            # the write was applied; the client never hears so, and must retry safely
            raise DropConnection
        return response

    def _run(self, request: Request) -> Response:
        try:
            found = self.router.match(request.method, request.path)
            if found is None:
                return self.error(404, f"no route for {request.method} {request.path}")
            handler, request.params = found
            return self.dispatch(request, handler)
        except HttpError as exc:
            return Response(exc.status, exc.body, exc.headers)

    def _pick_fault(self) -> str | None:
        rate = self.ctx.config.fault_rate
        if rate <= 0:
            return None
        with self.ctx.rng_lock:
            if self.ctx.rng.random() >= rate:
                return None
            return self.ctx.rng.choice(FAULT_KINDS)

    def _fault_response(self, fault: str, headers: dict[str, str]) -> Response:
        if fault == "rate_limited":
            return self.too_many_requests()
        response = self.error(500, "An internal error occurred (injected fault)")
        response.headers = {**headers, **response.headers}
        return response

    def too_many_requests(self) -> Response:
        """The 429 this service sends when a limit is hit (also used for injected 429s)."""
        raise NotImplementedError

    def _log_write(self, request: Request, response: Response, fault: str | None) -> None:
        entry = {
            "system": self.system,
            "method": request.method,
            "path": request.path,
            "query": {k: v if len(v) > 1 else v[0] for k, v in request.query.items()},
            "body": request.body.decode("utf-8", errors="replace"),
            "idempotency_key": request.header("Idempotency-Key"),
            "status": response.status,
            "changed": response.changed,
            "fault": fault,
        }
        with self.write_lock, self.connect() as conn:
            storage.log_write(conn, entry)

    # --- admin --------------------------------------------------------------------------------------

    def _handle_admin(self, request: Request) -> Response:
        expected = "Bearer " + self.ctx.tokens["admin"]
        if request.header("Authorization") != expected:
            return Response(401, {"message": "admin token required"})
        try:
            found = self.admin.match(request.method, request.path)
            if found is None:
                return Response(404, {"message": f"no admin route {request.path}"})
            handler, request.params = found
            return handler(request)
        except HttpError as exc:
            return Response(exc.status, exc.body, exc.headers)
        except (ValueError, KeyError, TypeError) as exc:
            return Response(400, {"message": f"{exc.__class__.__name__}: {exc}"})

    def _admin_health(self, request: Request) -> Response:
        return Response(200, {"status": "ok", "system": self.system, "records": self.record_counts()})

    def _admin_config(self, request: Request) -> Response:
        return Response(200, self.ctx.config.to_dict())

    def _admin_set_config(self, request: Request) -> Response:
        changes = request.json()
        if not isinstance(changes, dict):
            raise HttpError(400, {"message": "body must be a JSON object of settings"})
        with self.ctx.rng_lock:
            changed = self.ctx.config.update(changes)
            self.ctx.save_config()
        # new limits start from an empty window, so a test sees exactly the limit it set
        self.limiter.reset()
        return Response(200, {"changed": changed, "config": self.ctx.config.to_dict()})

    def _admin_writes(self, request: Request) -> Response:
        with self.connect() as conn:
            return Response(200, {"writes": storage.read_writes(conn, self.system)})

    def _admin_records(self, request: Request) -> Response:
        table = request.arg("table") or ""
        return Response(200, {"records": self.dump(table)})

    def _admin_edit(self, request: Request) -> Response:
        body = request.json()
        edits = body.get("edits", []) if isinstance(body, dict) else []
        results = []
        for edit in edits:
            with self.write_lock:
                changed = self.apply_edit(edit)
            results.append({**edit, "changed": changed})
        return Response(200, {"results": results})


def iso_now_seconds() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def correlation_id() -> str:
    return str(uuid.uuid4())


# --- the HTTP server --------------------------------------------------------------------------------


def make_handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class SimulatorHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms per request
        disable_nagle_algorithm = True
        server_version = f"customer-sync-{service.system}-simulator"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("%s %s", service.system, format % args)

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=split.path.rstrip("/") or "/",
                query=parse_qs(split.query, keep_blank_values=True),
                headers=self.headers,
                body=body,
            )
            try:
                response = service.handle(request)
            except DropConnection:
                self.close_connection = True
                self.connection.close()
                return
            except Exception:
                log.exception("%s: unhandled error on %s %s", service.system, self.command, self.path)
                response = service.error(500, "internal simulator error")
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return SimulatorHandler


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(service: Service, port: int) -> SimulatorServer:
    """Bind ``service`` on 127.0.0.1:``port`` and serve it from a daemon thread."""
    server = SimulatorServer(("127.0.0.1", port), make_handler(service))
    thread = threading.Thread(target=server.serve_forever, name=f"sim-{service.system}", daemon=True)
    thread.start()
    return server
