"""The billing simulator: Stripe customers, search and events (APIS.md section 2).

Quirks reproduced, as Stripe documents them:

- requests are form-encoded with bracket nesting (``address[line1]``, ``metadata[golden_id]``,
  ``expand[]``); responses are JSON; timestamps are integer Unix seconds; ids start with ``cus_``/``evt_``;
- lists are newest first, paged with ``starting_after``/``ending_before`` on an item id and ``has_more``;
- update leaves omitted parameters unchanged; an empty metadata value deletes that key;
- there is no ``updated`` timestamp: changes are captured through ``/v1/events`` (``customer.created``,
  ``customer.updated`` with ``previous_attributes``, ``customer.deleted``), kept 30 days;
- search is eventually consistent (``search_lag_ms``) and pages with ``next_page``;
- ``Idempotency-Key`` replays the first response, 500s included; the same key with other parameters is an
  ``idempotency_error``; a concurrent request with the same key is a 409; validation failures are not saved;
- 429 carries ``Stripe-Rate-Limited-Reason``; the sandbox allows 25 requests/s, search 20/s;
- a deleted customer reads back as ``{"id", "object": "customer", "deleted": true}``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

from customer_sync.simulators import storage
from customer_sync.simulators.web import HttpError, Request, Response, Service

EVENT_RETENTION_SECONDS = 30 * 86_400
MAX_LIMIT = 100
API_VERSION = "2024-06-20"
# the search index catches up with the stored record
INDEX_REFRESH = (
    "indexed_data = data, indexed_email = lower(json_extract(data, '$.email')),"
    " indexed_golden_id = json_extract(data, '$.metadata.golden_id'), index_due_ms = null"
)
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
UPDATABLE = ("name", "email", "phone", "description", "address", "metadata", "preferred_locales", "shipping")

DDL = [
    """create table customers (
        seq integer primary key autoincrement,
        id text not null unique,
        data text not null,
        email text,
        created integer not null,
        deleted integer not null default 0,
        indexed_data text,
        indexed_email text,
        indexed_golden_id text,
        index_due_ms integer
    )""",
    "create index customers_created on customers (created, seq)",
    "create index customers_indexed_email on customers (indexed_email)",
    "create index customers_indexed_golden_id on customers (indexed_golden_id)",
    "create index customers_email on customers (email)",
    """create table events (
        seq integer primary key autoincrement,
        id text not null unique,
        type text not null,
        created integer not null,
        data text not null
    )""",
    "create index events_created on events (created, seq)",
    """create table idempotency (
        key text primary key,
        fingerprint text not null,
        status integer not null,
        body text,
        created integer not null
    )""",
]


def error(status: int, message: str, kind: str = "invalid_request_error", **extra: Any) -> HttpError:
    """Stripe's error shape [V ST-ERR]."""
    return HttpError(status, {"error": {"type": kind, "message": message, **extra}})


def parse_form(text: str) -> dict[str, Any]:
    """Decode form parameters with bracket nesting: ``a[b]=1`` -> {"a": {"b": "1"}}, ``e[]=x`` -> list."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        if not parts:
            continue
        node = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if last:
                if part == "[]":
                    continue
                node[part] = value
            elif nxt == "[]":
                node.setdefault(part, []).append(value)
                break
            else:
                node = node.setdefault(part, {})
    return result


def new_id(prefix: str) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(14))


def load(conn: storage.Connection, customers: list[dict[str, Any]]) -> None:
    """Store generated customers oldest first (so that ``seq`` breaks ties in ``created`` order)."""
    ordered = sorted(customers, key=lambda c: (c.get("created") or 0, c["id"]))
    conn.executemany(
        "insert into customers (id, data, email, created, deleted, indexed_data) values (?, ?, ?, ?, ?, ?)",
        [
            (c["id"], d, c.get("email"), int(c.get("created") or 0), int(bool(c.get("deleted"))), d)
            for c in ordered
            for d in [storage.dumps(c)]
        ],
    )
    conn.execute(f"update customers set {INDEX_REFRESH}")
    # an account has events for the last 30 days only: creations inside the retention window
    horizon = int(time.time()) - EVENT_RETENTION_SECONDS
    events = [
        _event_row("customer.created", c, None, int(c["created"]), None)
        for c in ordered
        if int(c.get("created") or 0) >= horizon
    ]
    conn.executemany("insert into events (id, type, created, data) values (?, ?, ?, ?)", events)


def _event_row(
    kind: str, customer: dict, previous: dict | None, created: int, idempotency_key: str | None
) -> tuple[str, str, int, str]:
    event_id = new_id("evt_")
    data: dict[str, Any] = {"object": customer}
    if previous is not None:
        data["previous_attributes"] = previous
    event = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {
            "id": new_id("req_") if idempotency_key is not None else None,
            "idempotency_key": idempotency_key,
        },
        "type": kind,
    }
    return event_id, kind, created, storage.dumps(event)


class BillingService(Service):
    system = "billing"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()

    def routes(self) -> None:
        add = self.router.add
        add("GET", "/v1/customers/search", self.search)
        add("GET", "/v1/customers", self.list_customers)
        add("POST", "/v1/customers", self.create)
        add("GET", "/v1/customers/{customer_id}", self.retrieve)
        add("POST", "/v1/customers/{customer_id}", self.update)
        add("DELETE", "/v1/customers/{customer_id}", self.delete)
        add("GET", "/v1/events", self.list_events)
        add("GET", "/v1/events/{event_id}", self.retrieve_event)

    def authenticate(self, request: Request) -> bool:
        token = self.ctx.tokens["billing"]
        header = request.header("Authorization") or ""
        if header == f"Bearer {token}":
            return True
        if header.startswith("Basic "):
            import base64

            try:
                user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except ValueError:
                return False
            return user == token
        return False

    def unauthorized(self) -> Response:
        body = {
            "error": {"message": "Invalid API Key provided: sk_test_****", "type": "invalid_request_error"}
        }
        return Response(401, body, {"Request-Id": new_id("req_")})

    def error(self, status: int, message: str) -> Response:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return Response(status, {"error": {"type": kind, "message": message}}, {"Request-Id": new_id("req_")})

    def rate_limit(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        limits = self.ctx.config.limits
        allowed, _, _ = self.limiter.hit("global", limits.billing_per_s, 1.0)
        if not allowed:
            return self._limited("global-rate"), {}
        if request.path == "/v1/customers/search":
            allowed, _, _ = self.limiter.hit("search", limits.billing_search_per_s, 1.0)
            if not allowed:
                return self._limited("endpoint-rate"), {}
        return None, {}

    def _limited(self, reason: str) -> Response:
        body = {
            "error": {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly. We recommend an exponential backoff "
                "of your requests.",
                "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
            }
        }
        return Response(429, body, {"Stripe-Rate-Limited-Reason": reason, "Request-Id": new_id("req_")})

    def too_many_requests(self) -> Response:
        return self._limited("global-rate")

    # --- idempotency --------------------------------------------------------------------------------

    def remember_failure(self, request: Request, response: Response) -> None:
        # Stripe saves the first response once the endpoint began executing, 500s included [V ST-IDEM]
        key = request.header("Idempotency-Key")
        if key and request.method == "POST":
            with self.write_lock, self.connect() as conn:
                self._save_response(conn, key, _fingerprint(request), response)

    def _save_response(
        self, conn: storage.Connection, key: str, fingerprint: str, response: Response
    ) -> None:
        conn.execute(
            "insert or ignore into idempotency (key, fingerprint, status, body, created)"
            " values (?, ?, ?, ?, ?)",
            (key, fingerprint, response.status, json.dumps(response.body), int(time.time())),
        )

    def dispatch(self, request: Request, handler: Any) -> Response:
        key = request.header("Idempotency-Key")
        if not key or request.method != "POST":
            response = handler(request)
            response.headers.setdefault("Request-Id", new_id("req_"))
            return response
        if len(key) > 255:
            raise error(400, "Idempotency-Key must be at most 255 characters")
        fingerprint = _fingerprint(request)
        with self.connect() as conn:
            saved = conn.execute("select * from idempotency where key = ?", (key,)).fetchone()
        if saved is not None:
            if saved["fingerprint"] != fingerprint:
                raise error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different "
                    "request.",
                    "idempotency_error",
                )
            body = json.loads(saved["body"]) if saved["body"] else None
            return Response(
                saved["status"], body, {"Idempotent-Replayed": "true", "Request-Id": new_id("req_")}
            )
        with self._in_flight_lock:
            if key in self._in_flight:
                raise error(
                    409,
                    "There is currently another in-progress request using this Stripe token (probably means "
                    "you clicked twice). Try again later.",
                    code="idempotency_key_in_use",
                )
            self._in_flight.add(key)
        try:
            try:
                response = handler(request)
            except HttpError as exc:
                if exc.status == 400 or exc.status == 404:
                    raise  # validation failures are not saved: no endpoint began executing
                response = Response(exc.status, exc.body, exc.headers)
            with self.write_lock, self.connect() as conn:
                self._save_response(conn, key, fingerprint, response)
            response.headers.setdefault("Request-Id", new_id("req_"))
            return response
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(key)

    # --- customers ----------------------------------------------------------------------------------

    def _get(self, conn: storage.Connection, customer_id: str) -> tuple[dict[str, Any], bool] | None:
        row = conn.execute("select data, deleted from customers where id = ?", (customer_id,)).fetchone()
        return (json.loads(row["data"]), bool(row["deleted"])) if row else None

    def _save(self, conn: storage.Connection, customer: dict[str, Any], deleted: bool = False) -> None:
        lag = self.ctx.config.search_lag_ms
        data = storage.dumps(customer)
        exists = conn.execute("select 1 from customers where id = ?", (customer["id"],)).fetchone()
        if exists:
            conn.execute(
                "update customers set data = ?, email = ?, deleted = ? where id = ?",
                (data, customer.get("email"), int(deleted), customer["id"]),
            )
        else:
            conn.execute(
                "insert into customers (id, data, email, created, deleted) values (?, ?, ?, ?, ?)",
                (customer["id"], data, customer.get("email"), customer["created"], int(deleted)),
            )
        if lag <= 0:
            conn.execute(
                f"update customers set {INDEX_REFRESH} where id = ?",
                (customer["id"],),
            )
        else:
            conn.execute(
                "update customers set index_due_ms = ? where id = ?", (storage.now_ms() + lag, customer["id"])
            )

    def _emit(
        self, conn: storage.Connection, kind: str, customer: dict, previous: dict | None, key: str | None
    ) -> None:
        row = _event_row(kind, customer, previous, int(time.time()), key)
        conn.execute("insert into events (id, type, created, data) values (?, ?, ?, ?)", row)

    def _create_customer(self, conn: storage.Connection, params: dict[str, Any], key: str | None) -> dict:
        _validate(params)
        customer: dict[str, Any] = {
            "id": new_id("cus_"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": int(time.time()),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "email": None,
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {},
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        _merge(customer, params)
        self._save(conn, customer)
        self._emit(conn, "customer.created", customer, None, key)
        return customer

    def _update_customer(
        self, conn: storage.Connection, customer: dict[str, Any], params: dict[str, Any], key: str | None
    ) -> bool:
        _validate(params)
        before = json.loads(storage.dumps(customer))
        _merge(customer, params)
        previous = {k: before.get(k) for k in customer if before.get(k) != customer.get(k)}
        if not previous:
            return False
        self._save(conn, customer)
        self._emit(conn, "customer.updated", customer, previous, key)
        return True

    def _delete_customer(self, conn: storage.Connection, customer: dict[str, Any], key: str | None) -> None:
        self._save(conn, customer, deleted=True)
        self._emit(conn, "customer.deleted", customer, None, key)

    def create(self, request: Request) -> Response:
        params = parse_form(request.body.decode())
        with self.write_lock, self.connect() as conn:
            customer = self._create_customer(conn, params, request.header("Idempotency-Key"))
        return Response(200, customer, changed=[customer["id"]])

    def retrieve(self, request: Request) -> Response:
        with self.connect() as conn:
            found = self._get(conn, request.params["customer_id"])
        if found is None:
            raise _missing(request.params["customer_id"])
        customer, deleted = found
        if deleted:
            return Response(200, {"id": customer["id"], "object": "customer", "deleted": True})
        return Response(200, customer)

    def update(self, request: Request) -> Response:
        params = parse_form(request.body.decode())
        with self.write_lock, self.connect() as conn:
            found = self._get(conn, request.params["customer_id"])
            if found is None or found[1]:
                raise _missing(request.params["customer_id"])
            customer = found[0]
            changed = self._update_customer(conn, customer, params, request.header("Idempotency-Key"))
        return Response(200, customer, changed=[customer["id"]] if changed else [])

    def delete(self, request: Request) -> Response:
        with self.write_lock, self.connect() as conn:
            found = self._get(conn, request.params["customer_id"])
            if found is None or found[1]:
                raise _missing(request.params["customer_id"])
            self._delete_customer(conn, found[0], request.header("Idempotency-Key"))
        customer_id = request.params["customer_id"]
        return Response(
            200, {"id": customer_id, "object": "customer", "deleted": True}, changed=[customer_id]
        )

    def list_customers(self, request: Request) -> Response:
        params = parse_form(_query_string(request))
        limit = _limit(params)
        where, args = ["deleted = 0"], []
        if params.get("email") is not None:
            where.append("email = ?")  # exact and case-sensitive
            args.append(params["email"])
        where, args = _created_filter(params.get("created"), where, args)
        return self._page(request, "customers", where, args, params, limit, "/v1/customers")

    def list_events(self, request: Request) -> Response:
        params = parse_form(_query_string(request))
        limit = _limit(params)
        horizon = int(time.time()) - EVENT_RETENTION_SECONDS
        where, args = ["created >= ?"], [horizon]
        types = params.get("types") or ([params["type"]] if params.get("type") else [])
        if types:
            clauses = []
            for kind in types:
                if kind.endswith(".*"):
                    clauses.append("type like ?")
                    args.append(kind[:-1] + "%")
                else:
                    clauses.append("type = ?")
                    args.append(kind)
            where.append("(" + " or ".join(clauses) + ")")
        where, args = _created_filter(params.get("created"), where, args)
        return self._page(request, "events", where, args, params, limit, "/v1/events")

    def retrieve_event(self, request: Request) -> Response:
        with self.connect() as conn:
            row = conn.execute(
                "select data from events where id = ?", (request.params["event_id"],)
            ).fetchone()
        if row is None:
            raise error(
                404, f"No such event: '{request.params['event_id']}'", code="resource_missing", param="id"
            )
        return Response(200, json.loads(row["data"]))

    def _page(
        self,
        request: Request,
        table: str,
        where: list[str],
        args: list[Any],
        params: dict[str, Any],
        limit: int,
        url: str,
    ) -> Response:
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise error(400, "You may only specify one of these parameters: ending_before, starting_after.")
        with self.connect() as conn:
            cursor_id = after or before
            if cursor_id:
                anchor = conn.execute(
                    f"select created, seq from {table} where id = ?", (cursor_id,)
                ).fetchone()
                if anchor is None:
                    param = "starting_after" if after else "ending_before"
                    raise error(404, f"No such object: '{cursor_id}'", code="resource_missing", param=param)
                op = "<" if after else ">"
                where = [*where, f"(created, seq) {op} (?, ?)"]
                args = [*args, anchor["created"], anchor["seq"]]
            # newest first; ending_before walks back towards newer items
            order = "asc" if before else "desc"
            rows = conn.execute(
                f"select data from {table} where {' and '.join(where)}"
                f" order by created {order}, seq {order} limit ?",
                [*args, limit + 1],
            ).fetchall()
        items = [json.loads(r["data"]) for r in rows[:limit]]
        if before:
            items.reverse()
        return Response(200, {"object": "list", "url": url, "has_more": len(rows) > limit, "data": items})

    def search(self, request: Request) -> Response:
        params = parse_form(_query_string(request))
        query = params.get("query")
        if not query:
            raise error(400, "Missing required param: query.", param="query")
        limit = _limit(params)
        clauses = _parse_search(query)
        offset = 0
        if params.get("page"):
            try:
                offset = int(params["page"].removeprefix("page_"))
            except ValueError as exc:
                raise error(400, "Invalid page cursor", param="page") from exc
        where, args = _search_sql(clauses)
        with self.write_lock, self.connect() as conn:
            # the index catches up with writes older than the configured lag
            conn.execute(
                f"update customers set {INDEX_REFRESH} where index_due_ms is not null and index_due_ms <= ?",
                (storage.now_ms(),),
            )
            base = f"from customers where deleted = 0 and indexed_data is not null and {where}"
            total = conn.execute(f"select count(*) as n {base}", args).fetchone()["n"]
            rows = conn.execute(
                f"select indexed_data {base} order by created desc, seq desc limit ? offset ?",
                [*args, limit, offset],
            ).fetchall()
        more = offset + limit < total
        body = {
            "object": "search_result",
            "url": "/v1/customers/search",
            "has_more": more,
            "next_page": f"page_{offset + limit}" if more else None,
            "total_count": total,
            "data": [json.loads(r["indexed_data"]) for r in rows],
        }
        return Response(200, body)

    # --- admin ----------------------------------------------------------------------------------------

    def record_counts(self) -> dict[str, int]:
        with self.connect() as conn:
            customers = conn.execute("select count(*) as n from customers").fetchone()["n"]
            events = conn.execute("select count(*) as n from events").fetchone()["n"]
        return {"customers": customers, "events": events}

    def dump(self, table: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            if table == "customers":
                rows = conn.execute("select data, deleted from customers order by seq").fetchall()
                return [json.loads(r["data"]) | ({"deleted": True} if r["deleted"] else {}) for r in rows]
            if table == "events":
                return [json.loads(r["data"]) for r in conn.execute("select data from events order by seq")]
        raise HttpError(400, {"message": "table must be customers or events"})

    def apply_edit(self, edit: dict[str, Any]) -> list[str]:
        """Edit as a person in Stripe's dashboard; events are emitted like for API writes."""
        op = edit.get("op", "update")
        params = _flatten_edit(edit.get("set", {}))
        with self.connect() as conn:
            if op == "create":
                return [self._create_customer(conn, params, None)["id"]]
            found = self._get(conn, str(edit["id"]))
            if found is None or found[1]:
                raise HttpError(404, {"message": f"billing customer {edit['id']} not found"})
            if op == "delete":
                self._delete_customer(conn, found[0], None)
                return [found[0]["id"]]
            return [found[0]["id"]] if self._update_customer(conn, found[0], params, None) else []


# --- helpers --------------------------------------------------------------------------------------------


def _query_string(request: Request) -> str:
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, values in request.query.items() for v in values])


def _fingerprint(request: Request) -> str:
    params = json.dumps(parse_form(request.body.decode()), sort_keys=True)
    return hashlib.sha256(f"{request.method} {request.path}\n{params}".encode()).hexdigest()


def _missing(customer_id: str) -> HttpError:
    return error(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")


def _limit(params: dict[str, Any]) -> int:
    try:
        limit = int(params.get("limit") or 10)
    except (TypeError, ValueError) as exc:
        raise error(400, "Invalid integer: limit", param="limit") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise error(400, f"This value must be between 1 and 100 (it currently is {limit}).", param="limit")
    return limit


def _created_filter(created: Any, where: list[str], args: list[Any]) -> tuple[list[str], list[Any]]:
    if created is None:
        return where, args
    ops = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    if isinstance(created, str):
        created = {"eq": created}
    for name, value in created.items():
        try:
            number = int(value)
        except ValueError as exc:
            raise error(400, f"Invalid integer: created[{name}]", param=f"created[{name}]") from exc
        where = [*where, f"created {ops.get(name, '=')} ?"]
        args = [*args, number]
    return where, args


def _validate(params: dict[str, Any]) -> None:
    unknown = [k for k in params if k not in UPDATABLE and k != "expand"]
    if unknown:
        raise error(400, f"Received unknown parameter: {unknown[0]}", param=unknown[0])
    metadata = params.get("metadata")
    if metadata is not None and metadata != "":
        if not isinstance(metadata, dict):
            raise error(400, "Invalid object", param="metadata")
        for key, value in metadata.items():
            if len(key) > 40:
                raise error(400, f"Metadata keys can have up to 40 characters: {key}", param="metadata")
            if len(str(value)) > 500:
                raise error(400, f"Metadata values can have up to 500 characters: {key}", param="metadata")
    address = params.get("address")
    if isinstance(address, dict):
        unknown_parts = [k for k in address if k not in ADDRESS_FIELDS]
        if unknown_parts:
            raise error(400, f"Received unknown parameter: address[{unknown_parts[0]}]", param="address")


def _merge(customer: dict[str, Any], params: dict[str, Any]) -> None:
    """Apply update parameters: omitted ones stay; ``""`` unsets; empty metadata values delete keys."""
    for key, value in params.items():
        if key == "expand":
            continue
        if key == "metadata":
            if value == "":
                customer["metadata"] = {}
                continue
            metadata = dict(customer.get("metadata") or {})
            for meta_key, meta_value in value.items():
                if meta_value == "":
                    metadata.pop(meta_key, None)
                else:
                    metadata[meta_key] = str(meta_value)
            if len(metadata) > 50:
                raise error(400, "Metadata can have up to 50 keys", param="metadata")
            customer["metadata"] = metadata
        elif key == "address":
            if value == "":
                customer["address"] = None
                continue
            address = dict(customer.get("address") or dict.fromkeys(ADDRESS_FIELDS))
            address.update({k: (v or None) for k, v in value.items()})
            customer["address"] = address
        elif key == "preferred_locales":
            customer[key] = value if isinstance(value, list) else []
        else:
            customer[key] = value or None


def _flatten_edit(values: dict[str, Any]) -> dict[str, Any]:
    """Edits name nested fields either nested (``{"address": {...}}``) or dotted (``address.city``)."""
    params: dict[str, Any] = {}
    for key, value in values.items():
        if "." in key:
            head, tail = key.split(".", 1)
            params.setdefault(head, {})[tail] = "" if value is None else value
        elif isinstance(value, dict):
            params[key] = {k: ("" if v is None else v) for k, v in value.items()}
        else:
            params[key] = "" if value is None else value
    return params


SEARCH_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?(?P<field>metadata\[['"](?P<meta>[^'"]+)['"]\]|\w+)\s*(?P<op>:|~|>=|<=|>|<)\s*"""
    r"""(?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<num>-?\d+))\s*"""
)


def _parse_search(query: str) -> list[tuple[bool, str, str | None, str, str]]:
    """Parse the subset of Stripe's query language we support: clauses joined by AND."""
    parts = re.split(r"\s+AND\s+", query.strip())
    if any(re.search(r"\s+OR\s+", p) for p in parts):
        raise error(
            400, "Mixing AND and OR is not supported; this simulator supports AND only.", param="query"
        )
    clauses = []
    for part in parts:
        found = SEARCH_CLAUSE.fullmatch(part)
        if not found:
            raise error(400, f"Invalid query: could not parse '{part}'", param="query")
        field = "metadata" if found["meta"] else found["field"]
        if field not in ("email", "name", "phone", "metadata", "created"):
            raise error(400, f"Field '{field}' is not supported for search on customers", param="query")
        value = (
            found["sq"]
            if found["sq"] is not None
            else found["dq"]
            if found["dq"] is not None
            else found["num"]
        )
        if found["op"] == "~" and len(value or "") < 3:
            raise error(400, "Substring matching requires at least 3 characters", param="query")
        clauses.append((bool(found["neg"]), field, found["meta"], found["op"], value or ""))
    return clauses


def _search_sql(clauses: list[tuple[bool, str, str | None, str, str]]) -> tuple[str, list[Any]]:
    """Parsed clauses as SQL on the search index (``:`` exact, case-insensitive; ``~`` substring)."""
    parts, args = [], []
    for negate, field, meta_key, op, value in clauses:
        if op == ":" and not negate and (field == "email" or (field, meta_key) == ("metadata", "golden_id")):
            # the two lookups the sync makes, served from indexed columns
            column = "indexed_email" if field == "email" else "indexed_golden_id"
            parts.append(f"{column} = ?")
            args.append(value.lower() if field == "email" else value)
            continue
        if field == "metadata":
            column = "json_extract(indexed_data, '$.metadata.' || ?)"
            args.append(json.dumps(meta_key))
        else:
            column = f"json_extract(indexed_data, '$.{field}')"
        if op == ":":
            sql = f"lower({column}) = lower(?)"
            args.append(value)
        elif op == "~":
            sql = f"instr(lower({column}), lower(?)) > 0"
            args.append(value)
        else:
            sql = f"cast({column} as integer) {op} ?"
            args.append(int(value))
        parts.append(f"not coalesce({sql}, 0)" if negate else f"coalesce({sql}, 0)")
    return " and ".join(parts) or "1", args
