"""The support simulator: Zendesk Support users and organizations (APIS.md section 3).

Quirks reproduced, as Zendesk documents them:

- resource-wrapped bodies (``{"user": {..}}``, ``{"users": [..]}``); integer ids; ISO-second timestamps
  with ``Z``; the ``.json`` suffix on paths is optional;
- cursor pagination (``page[size]`` at most 100, ``page[after]``, ``meta``/``links``), and offset
  pagination that answers 400 past the first 10,000 records;
- ``create_or_update`` matches on ``external_id`` (case-insensitive; a match rewrites the stored case) or
  email, and answers 200 for an update, 201 for a create; organizations match on id or external_id only;
- ``PUT /users/{id}`` with ``email`` adds a secondary identity instead of replacing the primary email;
- single-user writes are limited to 5 per minute per user; the account to 700 requests per minute
  (``X-Rate-Limit``/``X-Rate-Limit-Remaining``; 429 with ``Retry-After`` in seconds);
- bulk writes are asynchronous ``job_status`` objects (queued -> working -> completed) that you poll;
  at most 30 jobs may be queued or running (``TooManyJobs``);
- incremental exports use Unix-second ``start_time``; the users export is cursor based, organizations
  time based; the most recent minute is never returned (``export_hide_seconds``) and a page can hold
  more than ``per_page`` items when records share a timestamp; deleted users come through with
  ``active: false``.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import secrets
import threading
import time
from typing import Any

from customer_sync.simulators import storage
from customer_sync.simulators.web import Context, HttpError, Request, Response, Service

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
MAX_BULK = 100
MAX_OFFSET_RECORDS = 10_000
EXPORT_PAGE = 1000
USER_FIELDS = (
    "name", "email", "phone", "external_id", "organization_id", "role", "details", "notes", "time_zone",
    "locale", "verified", "suspended", "tags", "alias", "signature", "shared_phone_number",
)  # fmt: skip
ORG_FIELDS = ("name", "external_id", "domain_names", "details", "notes", "group_id", "tags")

DDL = [
    """create table users (
        id integer primary key,
        data text not null,
        email text,
        external_id text,
        updated_at integer not null,
        active integer not null default 1
    )""",
    "create index users_updated on users (updated_at, id)",
    "create index users_email on users (email)",
    "create index users_external_id on users (external_id)",
    """create table user_identities (
        user_id integer not null,
        email text not null,
        is_primary integer not null default 0,
        primary key (user_id, email)
    )""",
    "create index user_identities_email on user_identities (email)",
    """create table organizations (
        id integer primary key,
        data text not null,
        name text not null,
        external_id text,
        updated_at integer not null
    )""",
    "create index organizations_updated on organizations (updated_at, id)",
    """create table jobs (
        id text primary key,
        status text not null,
        created_ms integer not null,
        changed_ms integer not null,
        payload text not null,
        data text not null
    )""",
]
# the job worker and the in-flight limit look jobs up by status many times a second: without this index
# each look-up read every job ever queued (thousands in a large sync, each with its items and results)
JOBS_BY_STATUS = "create index if not exists jobs_status on jobs (status, changed_ms)"
DDL.append(JOBS_BY_STATUS)


def zd_error(status: int, name: str, description: str, **extra: Any) -> HttpError:
    return HttpError(status, {"error": name, "description": description, **extra})


def record_invalid(field: str, description: str, code: str = "InvalidValue") -> HttpError:
    details = {field: [{"description": description, "error": code}]}
    return zd_error(422, "RecordInvalid", "Record validation errors", details=details)


def _epoch(value: Any) -> int:
    millis = storage.parse_instant_ms(value)
    return int(millis // 1000) if millis is not None else int(time.time())


def load(conn: storage.Connection, users: list[dict[str, Any]], organizations: list[dict[str, Any]]) -> None:
    conn.executemany(
        "insert into organizations (id, data, name, external_id, updated_at) values (?, ?, ?, ?, ?)",
        [
            (o["id"], storage.dumps(o), (o.get("name") or "").lower(), _lower(o.get("external_id")),
             _epoch(o.get("updated_at")))
            for o in organizations
        ],
    )  # fmt: skip
    conn.executemany(
        "insert into users (id, data, email, external_id, updated_at, active)"
                " values (?, ?, ?, ?, ?, ?)",
        [
            (u["id"], storage.dumps(u), _lower(u.get("email")), _lower(u.get("external_id")),
             _epoch(u.get("updated_at")), int(u.get("active", True)))
            for u in users
        ],
    )  # fmt: skip
    conn.executemany(
        "insert or ignore into user_identities (user_id, email, is_primary) values (?, ?, 1)",
        [(u["id"], u["email"].lower()) for u in users if u.get("email")],
    )


def _lower(value: Any) -> str | None:
    return str(value).lower() if value not in (None, "") else None


class SupportService(Service):
    system = "support"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        with self.write_lock, self.connect() as conn:
            conn.execute(JOBS_BY_STATUS)  # for data made before the index
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run_jobs, name="sim-support-jobs", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5)
        super().close()

    # --- plumbing -----------------------------------------------------------------------------------

    def routes(self) -> None:
        add = self.router.add
        add("GET", "/api/v2/users", self.list_users)
        add("POST", "/api/v2/users", self.create_user)
        add("GET", "/api/v2/users/show_many", self.show_many_users)
        add("POST", "/api/v2/users/create_or_update", self.create_or_update_user)
        add("POST", "/api/v2/users/create_or_update_many", self.create_or_update_many_users)
        add("PUT", "/api/v2/users/update_many", self.update_many_users)
        add("GET", "/api/v2/users/{user_id}", self.show_user)
        add("PUT", "/api/v2/users/{user_id}", self.update_user)
        add("DELETE", "/api/v2/users/{user_id}", self.delete_user)
        add("GET", "/api/v2/users/{user_id}/identities", self.list_identities)
        add("GET", "/api/v2/incremental/users/cursor", self.export_users_cursor)
        add("GET", "/api/v2/incremental/users", self.export_users_time)
        add("GET", "/api/v2/organizations", self.list_organizations)
        add("POST", "/api/v2/organizations", self.create_organization)
        add("GET", "/api/v2/organizations/show_many", self.show_many_organizations)
        add("POST", "/api/v2/organizations/create_or_update", self.create_or_update_organization)
        add("POST", "/api/v2/organizations/create_many", self.create_many_organizations)
        add("PUT", "/api/v2/organizations/update_many", self.update_many_organizations)
        add("GET", "/api/v2/organizations/{org_id}", self.show_organization)
        add("PUT", "/api/v2/organizations/{org_id}", self.update_organization)
        add("GET", "/api/v2/incremental/organizations", self.export_organizations)
        add("GET", "/api/v2/job_statuses/{job_id}", self.show_job)

    def normalize_path(self, path: str) -> str:
        return path.removesuffix(".json")

    def authenticate(self, request: Request) -> bool:
        token = self.ctx.tokens["support"]
        header = request.header("Authorization") or ""
        if header == f"Bearer {token}":
            return True
        if header.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            # API tokens authenticate as "{email}/token:{api_token}"
            return user.endswith("/token") and secret == token
        return False

    def unauthorized(self) -> Response:
        return Response(401, {"error": "Couldn't authenticate you"})

    def error(self, status: int, message: str) -> Response:
        name = {404: "InvalidEndpoint", 400: "InvalidValue"}.get(status, "InternalError")
        return Response(status, {"error": name, "description": message})

    def rate_limit(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        limits = self.ctx.config.limits
        allowed, remaining, reset = self.limiter.hit("account", limits.support_per_min, 60.0)
        headers = {"X-Rate-Limit": str(limits.support_per_min), "X-Rate-Limit-Remaining": str(remaining)}
        if not allowed:
            return self._limited(reset, headers), headers
        export_limit = None
        if request.path.startswith("/api/v2/incremental/users/cursor"):
            export_limit = ("incremental-exports-cursor", limits.support_cursor_exports_per_min)
        elif request.path.startswith("/api/v2/incremental/"):
            export_limit = ("incremental-exports", limits.support_incremental_exports_per_min)
        if export_limit:
            name, limit = export_limit
            allowed, remaining, reset = self.limiter.hit(name, limit, 60.0)
            headers[f"Zendesk-RateLimit-{name}"] = (
                f"total={limit}; remaining={remaining}; resets={math.ceil(reset)}"
            )
            if not allowed:
                return self._limited(reset, headers), headers
        return None, headers

    def _limited(self, reset: float, headers: dict[str, str]) -> Response:
        body = {
            "error": "APIRateLimitExceeded",
            "description": "Number of allowed API requests per minute exceeded",
        }
        return Response(429, body, {**headers, "Retry-After": str(max(1, math.ceil(reset)))})

    def too_many_requests(self) -> Response:
        limits = self.ctx.config.limits
        return self._limited(10, {"X-Rate-Limit": str(limits.support_per_min), "X-Rate-Limit-Remaining": "0"})

    def _user_write_allowed(self, key: str) -> dict[str, str]:
        """5 writes per minute per user on single-user endpoints; raises the 429 when exceeded."""
        limit = self.ctx.config.limits.support_user_writes_per_min
        allowed, remaining, reset = self.limiter.hit(f"user:{key}", limit, 60.0)
        header = {"Zendesk-RateLimit-create-update-user": f"total={limit}; remaining={remaining}; "
                  f"resets={math.ceil(reset)}"}  # fmt: skip
        if not allowed:
            response = self._limited(reset, header)
            raise HttpError(429, response.body, response.headers)
        return header

    # --- users: storage -----------------------------------------------------------------------------

    @staticmethod
    def _render_user(user: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
        host = request.header("Host") if request else None
        base = f"http://{host or '127.0.0.1'}"
        return {"url": f"{base}/api/v2/users/{user['id']}.json", **user}

    def _get_user(self, conn: storage.Connection, user_id: Any) -> dict[str, Any] | None:
        try:
            key = int(user_id)
        except (TypeError, ValueError):
            return None
        row = conn.execute("select data from users where id = ?", (key,)).fetchone()
        return json.loads(row["data"]) if row else None

    def _user_by_external_id(self, conn: storage.Connection, external_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            "select data from users where external_id = ? order by id", (external_id.lower(),)
        ).fetchone()
        return json.loads(row["data"]) if row else None

    def _user_by_email(self, conn: storage.Connection, email: str) -> dict[str, Any] | None:
        row = conn.execute(
            "select u.data from user_identities i join users u on u.id = i.user_id where i.email = ?"
            " order by i.is_primary desc, u.id limit 1",
            (email.lower(),),
        ).fetchone()
        return json.loads(row["data"]) if row else None

    def _save_user(self, conn: storage.Connection, user: dict[str, Any], new: bool = False) -> None:
        now = int(time.time())
        user["updated_at"] = storage.iso_s(now)
        if new:
            user.setdefault("created_at", storage.iso_s(now))
        row = (storage.dumps(user), _lower(user.get("email")), _lower(user.get("external_id")), now)
        if new:
            conn.execute(
                "insert into users (id, data, email, external_id, updated_at, active)"
                " values (?, ?, ?, ?, ?, ?)",
                (user["id"], *row, int(user.get("active", True))),
            )
        else:
            conn.execute(
                "update users set data = ?, email = ?, external_id = ?, updated_at = ?, active = ?"
                " where id = ?",
                (*row, int(user.get("active", True)), user["id"]),
            )
        if user.get("email"):
            conn.execute(
                "insert or ignore into user_identities (user_id, email, is_primary) values (?, ?, 1)",
                (user["id"], user["email"].lower()),
            )

    def _check_external_id(self, conn: storage.Connection, external_id: Any, own_id: int | None) -> None:
        if external_id in (None, ""):
            return
        row = conn.execute(
            "select id from users where external_id = ? and id != ?", (str(external_id).lower(), own_id or -1)
        ).fetchone()
        if row:
            raise record_invalid(
                "external_id", f"External ID: {external_id} has already been taken", "DuplicateValue"
            )

    def _create_user(self, conn: storage.Connection, fields: dict[str, Any]) -> dict[str, Any]:
        if not fields.get("name"):
            raise record_invalid("name", "Name: cannot be blank", "BlankValue")
        email = fields.get("email")
        if email and self._user_by_email(conn, email):
            raise record_invalid(
                "email", f"Email: {email} is already being used by another user", "DuplicateValue"
            )
        self._check_external_id(conn, fields.get("external_id"), None)
        start = (conn.execute("select max(id) as m from users").fetchone()["m"] or 360_000_000) + 1
        user: dict[str, Any] = {
            "id": storage.next_id(conn, "user_id", start),
            "name": None, "email": None, "phone": None, "external_id": None, "organization_id": None,
            "role": "end-user", "active": True, "verified": False, "suspended": False,
            "time_zone": "UTC", "locale": "en-US", "details": None, "notes": None, "tags": [],
            "user_fields": {},
        }  # fmt: skip
        self._merge_user(user, fields, adding=True)
        self._save_user(conn, user, new=True)
        return user

    def _merge_user(self, user: dict[str, Any], fields: dict[str, Any], adding: bool = False) -> list[str]:
        """Apply writable fields; returns the secondary emails to add (PUT email adds an identity)."""
        extra_emails = []
        for name, value in fields.items():
            if name == "user_fields" and isinstance(value, dict):
                user["user_fields"] = {**(user.get("user_fields") or {}), **value}
            elif name == "email" and not adding and user.get("email") and value:
                if str(value).lower() != str(user["email"]).lower():
                    extra_emails.append(str(value).lower())
            elif name in USER_FIELDS:
                user[name] = value
        return extra_emails

    def _update_user(self, conn: storage.Connection, user: dict[str, Any], fields: dict[str, Any]) -> bool:
        if "external_id" in fields:
            self._check_external_id(conn, fields["external_id"], user["id"])
        before = storage.dumps(user)
        extra_emails = self._merge_user(user, fields)
        added = False
        for email in extra_emails:
            owner = self._user_by_email(conn, email)
            if owner and owner["id"] != user["id"]:
                raise record_invalid(
                    "email", f"Email: {email} is already being used by another user", "DuplicateValue"
                )
            cursor = conn.execute(
                "insert or ignore into user_identities (user_id, email, is_primary) values (?, ?, 0)",
                (user["id"], email),
            )
            added = added or cursor.rowcount > 0
        if storage.dumps(user) == before and not added:
            return False
        self._save_user(conn, user)
        return True

    def _create_or_update(
        self, conn: storage.Connection, fields: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Match on external_id (case-insensitive) or email; returns (user, created)."""
        user = None
        if fields.get("external_id") not in (None, ""):
            user = self._user_by_external_id(conn, str(fields["external_id"]))
        if user is None and fields.get("email"):
            user = self._user_by_email(conn, str(fields["email"]))
        if user is None:
            return self._create_user(conn, fields), True
        # a match rewrites the stored external_id case to the request's
        self._update_user(conn, user, fields)
        return user, False

    # --- users: endpoints ---------------------------------------------------------------------------

    def list_users(self, request: Request) -> Response:
        where, args = ["active = 1"], []
        if request.arg("external_id"):
            where.append("external_id = ?")
            args.append(request.arg("external_id", "").lower())
        roles = request.args("role") + request.args("role[]")
        if roles:
            where.append("json_extract(data, '$.role') in (" + ", ".join("?" * len(roles)) + ")")
            args += roles
        return self._list(request, "users", "users", where, args, self._render_user)

    def show_user(self, request: Request) -> Response:
        with self.connect() as conn:
            user = self._get_user(conn, request.params["user_id"])
        if user is None:
            raise zd_error(404, "RecordNotFound", "Not found")
        return Response(200, {"user": self._render_user(user, request)})

    def list_identities(self, request: Request) -> Response:
        with self.connect() as conn:
            user = self._get_user(conn, request.params["user_id"])
            if user is None:
                raise zd_error(404, "RecordNotFound", "Not found")
            rows = conn.execute(
                "select rowid, email, is_primary from user_identities where user_id = ?"
                " order by is_primary desc, rowid",
                (user["id"],),
            ).fetchall()
        identities = [
            {
                "id": r["rowid"],
                "user_id": user["id"],
                "type": "email",
                "value": r["email"],
                "primary": bool(r["is_primary"]),
            }
            for r in rows
        ]
        return Response(
            200, {"identities": identities, "next_page": None, "previous_page": None, "count": len(rows)}
        )

    def show_many_users(self, request: Request) -> Response:
        ids = _csv(request.arg("ids"))
        external_ids = _csv(request.arg("external_ids"))
        if len(ids) > MAX_BULK or len(external_ids) > MAX_BULK:
            raise zd_error(400, "InvalidValue", f"at most {MAX_BULK} ids or external_ids")
        with self.connect() as conn:
            users = [u for u in (self._get_user(conn, i) for i in ids) if u]
            users += [u for u in (self._user_by_external_id(conn, e) for e in external_ids) if u]
        return Response(200, {"users": [self._render_user(u, request) for u in users], "count": len(users)})

    def create_user(self, request: Request) -> Response:
        fields = _wrapped(request, "user")
        with self.write_lock, self.connect() as conn:
            user = self._create_user(conn, fields)
        return Response(201, {"user": self._render_user(user, request)}, changed=[str(user["id"])])

    def create_or_update_user(self, request: Request) -> Response:
        fields = _wrapped(request, "user")
        key = str(fields.get("external_id") or fields.get("email") or "").lower()
        headers = self._user_write_allowed(key) if key else {}
        with self.write_lock, self.connect() as conn:
            user, created = self._create_or_update(conn, fields)
        status = 201 if created else 200
        return Response(
            status, {"user": self._render_user(user, request)}, headers, changed=[str(user["id"])]
        )

    def update_user(self, request: Request) -> Response:
        fields = _wrapped(request, "user")
        headers = self._user_write_allowed(request.params["user_id"])
        with self.write_lock, self.connect() as conn:
            user = self._get_user(conn, request.params["user_id"])
            if user is None:
                raise zd_error(404, "RecordNotFound", "Not found")
            changed = self._update_user(conn, user, fields)
        body = {"user": self._render_user(user, request)}
        return Response(200, body, headers, changed=[str(user["id"])] if changed else [])

    def delete_user(self, request: Request) -> Response:
        with self.write_lock, self.connect() as conn:
            user = self._get_user(conn, request.params["user_id"])
            if user is None or not user.get("active", True):
                raise zd_error(404, "RecordNotFound", "Not found")
            user["active"] = False
            self._save_user(conn, user)
        return Response(200, {"user": self._render_user(user, request)}, changed=[str(user["id"])])

    def create_or_update_many_users(self, request: Request) -> Response:
        users = _wrapped(request, "users", many=True)
        return self._enqueue(request, "users.create_or_update", [{"fields": u} for u in users])

    def update_many_users(self, request: Request) -> Response:
        body = request.json()
        ids, external_ids = _csv(request.arg("ids")), _csv(request.arg("external_ids"))
        if ids or external_ids:
            change = body.get("user")
            if not isinstance(change, dict):
                raise zd_error(400, "InvalidValue", "update_many with ids needs a 'user' object")
            items = [{"id": i, "fields": change} for i in ids]
            items += [{"external_id": e, "fields": change} for e in external_ids]
        else:
            users = _wrapped(request, "users", many=True)
            items = []
            for user in users:
                fields = {k: v for k, v in user.items() if k != "id"}
                if user.get("id") is not None:
                    items.append({"id": user["id"], "fields": fields})
                elif user.get("external_id"):
                    items.append({"external_id": user["external_id"], "fields": fields})
                else:
                    raise zd_error(400, "InvalidValue", "each user needs an id or external_id")
        return self._enqueue(request, "users.update", items)

    # --- organizations --------------------------------------------------------------------------------

    @staticmethod
    def _render_org(org: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
        host = request.header("Host") if request else None
        return {"url": f"http://{host or '127.0.0.1'}/api/v2/organizations/{org['id']}.json", **org}

    def _get_org(self, conn: storage.Connection, org_id: Any) -> dict[str, Any] | None:
        try:
            key = int(org_id)
        except (TypeError, ValueError):
            return None
        row = conn.execute("select data from organizations where id = ?", (key,)).fetchone()
        return json.loads(row["data"]) if row else None

    def _org_by_external_id(self, conn: storage.Connection, external_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            "select data from organizations where external_id = ? order by id", (external_id.lower(),)
        ).fetchone()
        return json.loads(row["data"]) if row else None

    def _save_org(self, conn: storage.Connection, org: dict[str, Any], new: bool = False) -> None:
        name = (org.get("name") or "").lower()
        clash = conn.execute(
            "select id from organizations where name = ? and id != ?", (name, org["id"])
        ).fetchone()
        if clash:
            raise record_invalid("name", f"Name: {org['name']} has already been taken", "DuplicateValue")
        now = int(time.time())
        org["updated_at"] = storage.iso_s(now)
        row = (storage.dumps(org), name, _lower(org.get("external_id")), now)
        if new:
            conn.execute(
                "insert into organizations (data, name, external_id, updated_at, id) values (?, ?, ?, ?, ?)",
                (*row, org["id"]),
            )
        else:
            conn.execute(
                "update organizations set data = ?, name = ?, external_id = ?, updated_at = ? where id = ?",
                (*row, org["id"]),
            )

    def _create_org(self, conn: storage.Connection, fields: dict[str, Any]) -> dict[str, Any]:
        if not fields.get("name"):
            raise record_invalid("name", "Name: cannot be blank", "BlankValue")
        start = (conn.execute("select max(id) as m from organizations").fetchone()["m"] or 900_000) + 1
        now = storage.iso_s(int(time.time()))
        org: dict[str, Any] = {
            "id": storage.next_id(conn, "org_id", start), "name": None, "external_id": None,
            "domain_names": [], "details": None, "notes": None, "group_id": None,
            "shared_tickets": False, "shared_comments": False,
            "tags": [], "organization_fields": {}, "created_at": now, "updated_at": now,
        }  # fmt: skip
        self._merge_org(org, fields)
        self._save_org(conn, org, new=True)
        return org

    @staticmethod
    def _merge_org(org: dict[str, Any], fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name == "organization_fields" and isinstance(value, dict):
                org["organization_fields"] = {**(org.get("organization_fields") or {}), **value}
            elif name in ORG_FIELDS:
                org[name] = value

    def _update_org(self, conn: storage.Connection, org: dict[str, Any], fields: dict[str, Any]) -> bool:
        before = storage.dumps(org)
        self._merge_org(org, fields)
        if storage.dumps(org) == before:
            return False
        self._save_org(conn, org)
        return True

    def list_organizations(self, request: Request) -> Response:
        where, args = ["1 = 1"], []
        if request.arg("external_id"):
            where.append("external_id = ?")
            args.append(request.arg("external_id", "").lower())
        return self._list(request, "organizations", "organizations", where, args, self._render_org)

    def show_organization(self, request: Request) -> Response:
        with self.connect() as conn:
            org = self._get_org(conn, request.params["org_id"])
        if org is None:
            raise zd_error(404, "RecordNotFound", "Not found")
        return Response(200, {"organization": self._render_org(org, request)})

    def show_many_organizations(self, request: Request) -> Response:
        ids, external_ids = _csv(request.arg("ids")), _csv(request.arg("external_ids"))
        if len(ids) > MAX_BULK or len(external_ids) > MAX_BULK:
            raise zd_error(400, "InvalidValue", f"at most {MAX_BULK} ids or external_ids")
        with self.connect() as conn:
            orgs = [o for o in (self._get_org(conn, i) for i in ids) if o]
            orgs += [o for o in (self._org_by_external_id(conn, e) for e in external_ids) if o]
        return Response(
            200, {"organizations": [self._render_org(o, request) for o in orgs], "count": len(orgs)}
        )

    def create_organization(self, request: Request) -> Response:
        fields = _wrapped(request, "organization")
        with self.write_lock, self.connect() as conn:
            org = self._create_org(conn, fields)
        return Response(201, {"organization": self._render_org(org, request)}, changed=[str(org["id"])])

    def create_or_update_organization(self, request: Request) -> Response:
        fields = _wrapped(request, "organization")
        with self.write_lock, self.connect() as conn:
            org = None
            if fields.get("id") is not None:
                org = self._get_org(conn, fields["id"])
            if org is None and fields.get("external_id"):
                org = self._org_by_external_id(conn, str(fields["external_id"]))
            if org is None:
                org = self._create_org(conn, fields)
                status = 201
            else:
                self._update_org(conn, org, fields)
                status = 200
        return Response(status, {"organization": self._render_org(org, request)}, changed=[str(org["id"])])

    def update_organization(self, request: Request) -> Response:
        fields = _wrapped(request, "organization")
        headers = self._user_write_allowed(f"org:{request.params['org_id']}")
        with self.write_lock, self.connect() as conn:
            org = self._get_org(conn, request.params["org_id"])
            if org is None:
                raise zd_error(404, "RecordNotFound", "Not found")
            changed = self._update_org(conn, org, fields)
        body = {"organization": self._render_org(org, request)}
        return Response(200, body, headers, changed=[str(org["id"])] if changed else [])

    def create_many_organizations(self, request: Request) -> Response:
        orgs = _wrapped(request, "organizations", many=True)
        return self._enqueue(request, "organizations.create", [{"fields": o} for o in orgs])

    def update_many_organizations(self, request: Request) -> Response:
        body = request.json()
        ids, external_ids = _csv(request.arg("ids")), _csv(request.arg("external_ids"))
        if ids or external_ids:
            change = body.get("organization") or {}
            items = [{"id": i, "fields": change} for i in ids] + [
                {"external_id": e, "fields": change} for e in external_ids
            ]
        else:
            orgs = _wrapped(request, "organizations", many=True)
            items = [{"id": o.get("id"), "external_id": o.get("external_id"), "fields": o} for o in orgs]
        return self._enqueue(request, "organizations.update", items)

    # --- pagination -----------------------------------------------------------------------------------

    def _list(
        self, request: Request, table: str, key: str, where: list[str], args: list[Any], render: Any
    ) -> Response:
        base = f"http://{request.header('Host') or '127.0.0.1'}/api/v2/{table}.json"
        cursor_mode = any(k.startswith("page[") for k in request.query)
        with self.connect() as conn:
            if cursor_mode:
                size = _int(request.arg("page[size]"), MAX_PAGE_SIZE, "page[size]")
                if not 1 <= size <= MAX_PAGE_SIZE:
                    raise zd_error(
                        400, "InvalidPaginationParameter", f"page[size] must be between 1 and {MAX_PAGE_SIZE}"
                    )
                after = request.arg("page[after]")
                if after:
                    where = [*where, "id > ?"]
                    args = [*args, _decode_cursor(after)["id"]]
                rows = conn.execute(
                    f"select data from {table} where {' and '.join(where)} order by id limit ?",
                    [*args, size + 1],
                ).fetchall()
                items = [json.loads(r["data"]) for r in rows[:size]]
                more = len(rows) > size
                after_cursor = _encode_cursor({"id": items[-1]["id"]}) if items else None
                before_cursor = _encode_cursor({"id": items[0]["id"]}) if items else None
                body = {
                    key: [render(i, request) for i in items],
                    "meta": {"has_more": more, "after_cursor": after_cursor, "before_cursor": before_cursor},
                    "links": {
                        "next": f"{base}?page[size]={size}&page[after]={after_cursor}" if more else None,
                        "prev": f"{base}?page[size]={size}&page[before]={before_cursor}"
                        if before_cursor
                        else None,
                    },
                }
                return Response(200, body)
            per_page = _int(request.arg("per_page"), 100, "per_page")
            page = _int(request.arg("page"), 1, "page")
            if not 1 <= per_page <= 100 or page < 1:
                raise zd_error(
                    400, "InvalidPaginationParameter", "per_page must be 1..100 and page at least 1"
                )
            if page * per_page > MAX_OFFSET_RECORDS:
                # offset pagination stops at the first 10,000 records (May 2024 change) [V ZD-PAG]
                raise zd_error(
                    400,
                    "InvalidPaginationParameter",
                    "Offset pagination is limited to the first 10000 records; use cursor pagination",
                )
            clause = " and ".join(where)
            count = conn.execute(f"select count(*) as n from {table} where {clause}", args).fetchone()["n"]
            rows = conn.execute(
                f"select data from {table} where {clause} order by id limit ? offset ?",
                [*args, per_page, (page - 1) * per_page],
            ).fetchall()
        has_next = page * per_page < count
        body = {
            key: [render(json.loads(r["data"]), request) for r in rows],
            "next_page": f"{base}?page={page + 1}&per_page={per_page}" if has_next else None,
            "previous_page": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None,
            "count": count,
        }
        return Response(200, body)

    # --- incremental exports --------------------------------------------------------------------------

    def _export_window(self, request: Request) -> tuple[int, int]:
        """(per_page, newest updated_at returned): the most recent ``export_hide_seconds`` stay hidden."""
        per_page = _int(request.arg("per_page"), EXPORT_PAGE, "per_page")
        if not 1 <= per_page <= EXPORT_PAGE:
            raise zd_error(400, "InvalidValue", f"per_page must be between 1 and {EXPORT_PAGE}")
        return per_page, int(time.time()) - self.ctx.config.export_hide_seconds

    def _start_time(self, request: Request) -> int:
        raw = request.arg("start_time")
        if raw is None:
            raise zd_error(400, "InvalidValue", "start_time is required")
        start = _int(raw, 0, "start_time")
        hide = self.ctx.config.export_hide_seconds
        if hide and start > int(time.time()) - hide:
            raise zd_error(400, "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute")
        return start

    def _export_rows(
        self, table: str, after: tuple[int, int], inclusive: bool, ceiling: int, per_page: int
    ) -> list[Any]:
        op = ">=" if inclusive else ">"
        with self.connect() as conn:
            rows = conn.execute(
                f"select id, data, updated_at from {table}"
                f" where (updated_at, id) {op} (?, ?) and updated_at <= ?"
                " order by updated_at, id limit ?",
                (*after, ceiling, per_page + 1),
            ).fetchall()
            if len(rows) > per_page:
                # records sharing the last timestamp all come in this page, so a page can exceed per_page
                last = rows[per_page - 1]["updated_at"]
                ties = conn.execute(
                    f"select id, data, updated_at from {table} where updated_at = ? and id > ? order by id",
                    (last, rows[per_page - 1]["id"]),
                ).fetchall()
                rows = [*rows[:per_page], *ties]
        return rows

    def export_users_cursor(self, request: Request) -> Response:
        per_page, ceiling = self._export_window(request)
        cursor = request.arg("cursor")
        if cursor:
            position = _decode_cursor(cursor)
            after, inclusive = (position["t"], position["id"]), False
        else:
            after, inclusive = (self._start_time(request), 0), True
        rows = self._export_rows("users", after, inclusive, ceiling, per_page)
        users = [json.loads(r["data"]) for r in rows]
        # the cursor remembers the last record returned, or where the (empty) stream stands now
        last = (rows[-1]["updated_at"], rows[-1]["id"]) if rows else after
        more = bool(rows) and self._has_more("users", last, ceiling)
        after_cursor = _encode_cursor({"t": last[0], "id": last[1]})
        base = f"http://{request.header('Host') or '127.0.0.1'}/api/v2/incremental/users/cursor.json"
        body = {
            "users": users,
            "after_cursor": after_cursor,
            "after_url": f"{base}?cursor={after_cursor}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": not more,
        }
        return Response(200, body)

    def _has_more(self, table: str, last: tuple[int, int], ceiling: int) -> bool:
        with self.connect() as conn:
            row = conn.execute(
                f"select 1 from {table} where (updated_at, id) > (?, ?) and updated_at <= ? limit 1",
                (*last, ceiling),
            ).fetchone()
        return row is not None

    def _export_time(self, request: Request, table: str, render: Any) -> Response:
        per_page, ceiling = self._export_window(request)
        start = self._start_time(request)
        rows = self._export_rows(table, (start, 0), True, ceiling, per_page)
        items = [render(json.loads(r["data"]), request) for r in rows]
        if rows:
            end_time = rows[-1]["updated_at"]
            if end_time == start and len(rows) >= per_page:
                end_time += 1  # a page of one timestamp: move on, or the next request repeats it forever
        else:
            end_time = start
        end_of_stream = len(rows) < per_page
        base = f"http://{request.header('Host') or '127.0.0.1'}/api/v2/incremental/{table}.json"
        body = {
            table: items,
            "count": len(items),
            "end_time": end_time,
            "next_page": f"{base}?start_time={end_time}",
            "end_of_stream": end_of_stream,
        }
        return Response(200, body)

    def export_users_time(self, request: Request) -> Response:
        return self._export_time(request, "users", lambda u, r: u)

    def export_organizations(self, request: Request) -> Response:
        return self._export_time(request, "organizations", self._render_org)

    # --- jobs -----------------------------------------------------------------------------------------

    def _enqueue(self, request: Request, kind: str, items: list[dict[str, Any]]) -> Response:
        if len(items) > MAX_BULK:
            raise zd_error(400, "InvalidValue", f"Too many items: at most {MAX_BULK} per request")
        limit = self.ctx.config.limits.support_max_jobs
        base = f"http://{request.header('Host') or '127.0.0.1'}/api/v2/job_statuses"
        with self.write_lock, self.connect() as conn:
            running = [
                r["id"] for r in conn.execute("select id from jobs where status in ('queued', 'working')")
            ]
            if len(running) >= limit:
                raise HttpError(
                    429,
                    {
                        "error": "TooManyJobs",
                        "description": f"Number of allowed queued or running jobs ({limit}) exceeded",
                        "current_job_ids": running,
                    },
                    {
                        "zendesk-ratelimit-inflight-jobs": f"total={limit}; remaining=0; resets=60",
                        "Retry-After": "60",
                    },
                )
            job_id = secrets.token_hex(16)
            job = {
                "id": job_id, "url": f"{base}/{job_id}.json", "status": "queued", "total": len(items),
                "progress": None, "message": None, "results": None, "job_type": kind,
            }  # fmt: skip
            now = storage.now_ms()
            conn.execute(
                "insert into jobs (id, status, created_ms, changed_ms, payload, data)"
                " values (?, 'queued', ?, ?, ?, ?)",
                (job_id, now, now, json.dumps({"kind": kind, "items": items}), json.dumps(job)),
            )
        remaining = limit - len(running) - 1
        headers = {"zendesk-ratelimit-inflight-jobs": f"total={limit}; remaining={remaining}; resets=60"}
        return Response(200, {"job_status": _public_job(job)}, headers)

    def show_job(self, request: Request) -> Response:
        with self.connect() as conn:
            row = conn.execute("select data from jobs where id = ?", (request.params["job_id"],)).fetchone()
        if row is None:
            raise zd_error(404, "RecordNotFound", "Not found")
        return Response(200, {"job_status": _public_job(json.loads(row["data"]))})

    def _run_jobs(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._advance_jobs()
            except Exception:  # the worker must survive one bad job
                log.exception("support job worker failed")

    def _advance_jobs(self) -> None:
        step = self.ctx.config.job_step_ms
        now = storage.now_ms()
        with self.write_lock, self.connect() as conn:
            queued = conn.execute(
                "select id, data from jobs where status = 'queued' and changed_ms <= ? order by created_ms",
                (now - step,),
            ).fetchall()
            for row in queued:
                job = json.loads(row["data"]) | {"status": "working", "progress": 0}
                conn.execute(
                    "update jobs set status = 'working', changed_ms = ?, data = ? where id = ?",
                    (now, json.dumps(job), row["id"]),
                )
            working = conn.execute(
                "select id, data, payload from jobs where status = 'working' and changed_ms <= ?"
                " order by created_ms",
                (now - step,),
            ).fetchall()
            finished = [(r["id"], json.loads(r["data"]), json.loads(r["payload"])) for r in working]
        for job_id, job, payload in finished:
            results, changed = self._execute(payload)
            job.update({"status": "completed", "progress": job["total"], "message": "Completed at " +
                        storage.iso_s(int(time.time())), "results": results})  # fmt: skip
            with self.write_lock, self.connect() as conn:
                conn.execute(
                    "update jobs set status = 'completed', changed_ms = ?, data = ? where id = ?",
                    (storage.now_ms(), json.dumps(job), job_id),
                )
                # the job's effects go to the write log too, under the job's own path
                storage.log_write(
                    conn,
                    {"system": self.system, "method": "JOB", "path": f"/api/v2/job_statuses/{job_id}",
                     "body": json.dumps(payload), "status": 200, "changed": changed},
                )  # fmt: skip

    def _execute(self, payload: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        results, changed = [], []
        for index, item in enumerate(payload["items"]):
            try:
                with self.write_lock, self.connect() as conn:
                    result = self._execute_item(conn, payload["kind"], item, index)
                results.append(result)
                if result.pop("_changed", False):
                    changed.append(str(result["id"]))
            except HttpError as exc:
                body = exc.body if isinstance(exc.body, dict) else {}
                results.append({"index": index, "error": body.get("error", "Error"),
                                "details": body.get("description", ""), "success": False})  # fmt: skip
        return results, changed

    def _execute_item(self, conn: storage.Connection, kind: str, item: dict[str, Any], index: int) -> dict:
        fields = item.get("fields") or {}
        if kind == "users.create_or_update":
            user, created = self._create_or_update(conn, fields)
            status = "Created" if created else "Updated"
            return {"id": user["id"], "index": index, "action": "create" if created else "update",
                    "status": status, "success": True, "_changed": True}  # fmt: skip
        if kind == "users.update":
            user = (
                self._get_user(conn, item["id"])
                if item.get("id") is not None
                else self._user_by_external_id(conn, str(item.get("external_id")))
            )
            if user is None:
                raise zd_error(
                    404, "RecordNotFound", f"User {item.get('id') or item.get('external_id')} not found"
                )
            did = self._update_user(conn, user, fields)
            return {
                "id": user["id"],
                "action": "update",
                "status": "Updated",
                "success": True,
                "_changed": did,
            }
        if kind == "organizations.create":
            org = self._create_org(conn, fields)
            return {"id": org["id"], "index": index, "action": "create", "status": "Created", "success": True,
                    "_changed": True}  # fmt: skip
        if kind == "organizations.update":
            org = self._get_org(conn, item["id"]) if item.get("id") is not None else None
            if org is None and item.get("external_id"):
                org = self._org_by_external_id(conn, str(item["external_id"]))
            if org is None:
                raise zd_error(404, "RecordNotFound", "Organization not found")
            did = self._update_org(conn, org, {k: v for k, v in fields.items() if k != "id"})
            return {
                "id": org["id"],
                "action": "update",
                "status": "Updated",
                "success": True,
                "_changed": did,
            }
        raise zd_error(400, "InvalidValue", f"unknown job kind {kind}")

    # --- admin ----------------------------------------------------------------------------------------

    def record_counts(self) -> dict[str, int]:
        with self.connect() as conn:
            return {
                table: conn.execute(f"select count(*) as n from {table}").fetchone()["n"]
                for table in ("users", "organizations", "jobs")
            }

    def dump(self, table: str) -> list[dict[str, Any]]:
        if table not in ("users", "organizations", "jobs"):
            raise HttpError(400, {"message": "table must be users, organizations or jobs"})
        with self.connect() as conn:
            rows = conn.execute(f"select data from {table} order by rowid").fetchall()
            items = [json.loads(r["data"]) for r in rows]
            if table == "users":
                identities: dict[int, list[str]] = {}
                for row in conn.execute("select user_id, email from user_identities where is_primary = 0"):
                    identities.setdefault(row["user_id"], []).append(row["email"])
                for user in items:
                    user["secondary_emails"] = identities.get(user["id"], [])
        return items

    def apply_edit(self, edit: dict[str, Any]) -> list[str]:
        """Edit as an agent in Zendesk's UI: the primary email is replaced, ``updated_at`` moves."""
        table = edit.get("table") or "users"
        op = edit.get("op", "update")
        fields = edit.get("set", {})
        with self.connect() as conn:
            if table == "organizations":
                if op == "create":
                    return [str(self._create_org(conn, fields)["id"])]
                org = self._get_org(conn, edit["id"])
                if org is None:
                    raise HttpError(404, {"message": f"support organization {edit['id']} not found"})
                return [str(org["id"])] if self._update_org(conn, org, fields) else []
            if op == "create":
                return [str(self._create_user(conn, fields)["id"])]
            user = self._get_user(conn, edit["id"])
            if user is None:
                raise HttpError(404, {"message": f"support user {edit['id']} not found"})
            if op == "delete":
                user["active"] = False
                self._save_user(conn, user)
                return [str(user["id"])]
            before = storage.dumps(user)
            for name, value in fields.items():
                if name in USER_FIELDS:
                    user[name] = value
            if storage.dumps(user) == before:
                return []
            if "email" in fields and fields["email"]:
                conn.execute("update user_identities set is_primary = 0 where user_id = ?", (user["id"],))
                conn.execute(
                    "insert or replace into user_identities (user_id, email, is_primary) values (?, ?, 1)",
                    (user["id"], str(fields["email"]).lower()),
                )
            self._save_user(conn, user)
            return [str(user["id"])]


# --- helpers --------------------------------------------------------------------------------------------


def _public_job(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k != "job_type"}


def _wrapped(request: Request, key: str, many: bool = False) -> Any:
    body = request.json()
    value = body.get(key) if isinstance(body, dict) else None
    if many:
        if not isinstance(value, list):
            raise zd_error(400, "InvalidValue", f'body must be {{"{key}": [...]}}')
        if len(value) > MAX_BULK:
            raise zd_error(400, "InvalidValue", f"Too many items: at most {MAX_BULK} per request")
        return value
    if not isinstance(value, dict):
        raise zd_error(400, "InvalidValue", f'body must be {{"{key}": {{...}}}}')
    return value


def _csv(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise zd_error(400, "InvalidValue", f"{name} must be an integer") from exc


def _encode_cursor(position: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> dict[str, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded))
        return {k: int(v) for k, v in position.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise zd_error(400, "InvalidPaginationParameter", "Invalid cursor") from exc
