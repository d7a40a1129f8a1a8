"""The CRM simulator: HubSpot CRM v3 contacts and companies (APIS.md section 1).

Quirks reproduced, as the real API documents them:

- every ``properties`` value is a string or null; top-level ``id`` is a string; ``createdAt`` and
  ``updatedAt`` are ISO 8601 with milliseconds and ``Z``;
- only the default properties come back unless ``properties=`` asks for more; unknown names in
  ``properties=`` are silently ignored, unknown or read-only names in a write are a 400;
- contacts carry ``lastmodifieddate``, companies ``hs_lastmodifieddate`` (both kept current on writes);
- list pages use an opaque ``after`` and omit ``paging`` on the last page; ``limit`` is at most 100;
- search uses a numeric-offset ``after``, at most 200 per page, 400 past 10,000 results, 5 requests/s,
  no rate-limit headers, never returns archived records, and lags behind writes (``search_lag_ms``);
- batch endpoints take at most 100 inputs and answer 207 with ``numErrors``/``errors`` on partial failure;
- a rolling 10-second limit (429 ``TEN_SECONDLY_ROLLING`` with ``X-HubSpot-RateLimit-*`` headers) and a
  daily cap (429 ``DAILY``);
- a duplicate contact email on create is a 409 ``CONFLICT``; properties with ``hasUniqueValue`` (the
  golden id ``mdm_golden_id``) are enforced unique and usable as ``idProperty``.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from customer_sync.simulators import storage
from customer_sync.simulators.web import HttpError, Request, Response, Service, correlation_id

OBJECT_TYPES = {"contacts": "contacts", "0-1": "contacts", "companies": "companies", "0-2": "companies"}
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
SINGULAR = {"contacts": "contact", "companies": "company"}
# [V HS-SEARCH] the properties returned when a request names none
DEFAULT_PROPERTIES = {
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "companies": ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"],
}
WRITABLE_PROPERTIES = {
    "contacts": [
        "firstname", "lastname", "email", "phone", "mobilephone", "company", "address", "city", "state",
        "zip", "country", "date_of_birth", "mdm_golden_id",
    ],
    "companies": ["name", "domain", "phone", "address", "city", "state", "zip", "country", "mdm_golden_id"],
}  # fmt: skip
READ_ONLY_PROPERTIES = {
    "contacts": {"createdate", "lastmodifieddate", "hs_object_id"},
    "companies": {"createdate", "hs_lastmodifieddate", "hs_object_id"},
}
# text searched by the free-text ``query`` of a search request
QUERY_PROPERTIES = {
    "contacts": ["firstname", "lastname", "email", "phone", "company"],
    "companies": ["name", "domain", "phone", "website"],
}
MAX_BATCH = 100
MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
MAX_SEARCH_BODY = 3000
# the search index catches up with the stored record
INDEX_REFRESH = (
    "indexed_data = data, indexed_modified_ms = modified_ms, indexed_email = email, index_due_ms = null"
)
PROPERTY_NAME = re.compile(r"^[a-z0-9_]+$")
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY"}
OPERATORS |= {"NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}

DDL = [
    """create table objects (
        object_type text not null,
        id integer not null,
        data text not null,
        email text,
        golden_id text,
        archived integer not null default 0,
        created_ms integer not null,
        modified_ms integer not null,
        indexed_data text,
        indexed_modified_ms integer,
        indexed_email text,
        index_due_ms integer,
        primary key (object_type, id)
    )""",
    "create index objects_indexed_modified on objects (object_type, indexed_modified_ms, id)",
    "create index objects_email on objects (object_type, email)",
    "create index objects_golden_id on objects (object_type, golden_id)",
    "create index objects_indexed_email on objects (object_type, indexed_email)",
    "create index objects_index_due on objects (index_due_ms) where index_due_ms is not null",
    """create table properties (
        object_type text not null,
        name text not null,
        definition text not null,
        primary key (object_type, name)
    )""",
]


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error shape [V HS-ERR]."""
    body = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    return body | extra


def property_definition(object_type: str, name: str, unique: bool = False) -> dict[str, Any]:
    now = storage.iso_ms(storage.now_ms())
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation" if object_type == "contacts" else "companyinformation",
        "hasUniqueValue": unique,
        "hidden": False,
        "formField": True,
        "calculated": False,
        "externalOptions": False,
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        "createdAt": now,
        "updatedAt": now,
        "archived": False,
    }


def _string(value: Any) -> str | None:
    """HubSpot stores every property as a string; ``""`` clears the property."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load(conn: storage.Connection, contacts: list[dict[str, Any]], companies: list[dict[str, Any]]) -> None:
    """Store generated records as they are (native HubSpot shape) and create the property catalogue."""
    for object_type in ("contacts", "companies"):
        definitions = [property_definition(object_type, n) for n in WRITABLE_PROPERTIES[object_type]]
        for definition in definitions:
            definition["hasUniqueValue"] = definition["name"] == "mdm_golden_id"
        conn.executemany(
            "insert into properties (object_type, name, definition) values (?, ?, ?)",
            [(object_type, d["name"], json.dumps(d)) for d in definitions],
        )
    rows = []
    for object_type, records in (("contacts", contacts), ("companies", companies)):
        modified_key = MODIFIED_PROPERTY[object_type]
        for record in records:
            props = record["properties"]
            created = storage.parse_instant_ms(record.get("createdAt") or props.get("createdate")) or 0
            modified = storage.parse_instant_ms(props.get(modified_key) or record.get("updatedAt")) or created
            email = (props.get("email") or "").lower() or None if object_type == "contacts" else None
            data = storage.dumps(record)
            archived = 1 if record.get("archived") else 0
            golden = props.get("mdm_golden_id")
            keys = (object_type, int(record["id"]), data, email, golden, archived)
            rows.append((*keys, created, modified, data, modified, email))
    conn.executemany(
        "insert into objects (object_type, id, data, email, golden_id, archived, created_ms, modified_ms,"
        " indexed_data, indexed_modified_ms, indexed_email) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


class CrmService(Service):
    system = "crm"

    # --- plumbing -----------------------------------------------------------------------------------

    def routes(self) -> None:
        add = self.router.add
        base = "/crm/v3/objects/{object_type}"
        for action in ("read", "create", "update", "upsert", "archive"):
            add("POST", f"{base}/batch/{action}", getattr(self, f"batch_{action}"))
        add("POST", f"{base}/search", self.search)
        add("GET", base, self.list_objects)
        add("POST", base, self.create)
        add("GET", f"{base}/{{record_id}}", self.get_object)
        add("PATCH", f"{base}/{{record_id}}", self.update)
        add("DELETE", f"{base}/{{record_id}}", self.archive)
        add("GET", "/crm/v3/properties/{object_type}", self.list_properties)
        add("POST", "/crm/v3/properties/{object_type}", self.create_property)
        add("GET", "/crm/v3/properties/{object_type}/{name}", self.get_property)

    def authenticate(self, request: Request) -> bool:
        return request.header("Authorization") == f"Bearer {self.ctx.tokens['crm']}"

    def unauthorized(self) -> Response:
        body = error_body(
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
            "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )
        return Response(401, body)

    def error(self, status: int, message: str) -> Response:
        category = {404: "OBJECT_NOT_FOUND", 400: "VALIDATION_ERROR"}.get(status, "INTERNAL_ERROR")
        return Response(status, error_body(message, category))

    def is_write(self, request: Request) -> bool:
        # search and batch/read are POSTs that change nothing
        if request.path.endswith(("/search", "/batch/read")):
            return False
        return super().is_write(request)

    def rate_limit(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        limits = self.ctx.config.limits
        if request.method == "POST" and request.path.endswith("/search"):
            # search has its own per-second limit and sends none of the rate-limit headers [S HS-USAGE]
            allowed, _, _ = self.limiter.hit("search", limits.crm_search_per_s, 1.0)
            if not allowed:
                body = error_body(
                    "You have reached your secondly limit.", "RATE_LIMITS", errorType="RATE_LIMIT"
                )
                body["policyName"] = "SECONDLY"  # [U] search's policy name is not documented
                return Response(429, body), {}
            return None, {}
        daily_key = "daily:" + datetime.now(UTC).strftime("%Y-%m-%d")
        allowed_day, remaining_day, _ = self.limiter.hit(daily_key, limits.crm_daily, 86_400.0)
        headers = {"X-HubSpot-RateLimit-Daily": str(limits.crm_daily)}
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(remaining_day)
        if not allowed_day:
            return self._limited("DAILY", "daily", headers), headers
        allowed, remaining, _ = self.limiter.hit("burst", limits.crm_per_10s, 10.0)
        headers["X-HubSpot-RateLimit-Max"] = str(limits.crm_per_10s)
        headers["X-HubSpot-RateLimit-Remaining"] = str(remaining)
        headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = "10000"
        if not allowed:
            return self._limited("TEN_SECONDLY_ROLLING", "ten_secondly_rolling", headers), headers
        return None, headers

    def _limited(self, policy: str, name: str, headers: dict[str, str]) -> Response:
        body = {
            "status": "error",
            "message": f"You have reached your {name} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": policy,
            "groupName": "api-calls",
        }
        return Response(429, body, dict(headers))

    def too_many_requests(self) -> Response:
        limits = self.ctx.config.limits
        headers = {
            "X-HubSpot-RateLimit-Max": str(limits.crm_per_10s),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
        return self._limited("TEN_SECONDLY_ROLLING", "ten_secondly_rolling", headers)

    # --- storage helpers ----------------------------------------------------------------------------

    @staticmethod
    def _type(request: Request) -> str:
        object_type = OBJECT_TYPES.get(request.params["object_type"])
        if object_type is None:
            raise HttpError(
                400, error_body(f"Unknown object type {request.params['object_type']}", "VALIDATION_ERROR")
            )
        return object_type

    def _properties(self, conn: storage.Connection, object_type: str) -> dict[str, dict[str, Any]]:
        rows = conn.execute("select name, definition from properties where object_type = ?", (object_type,))
        return {row["name"]: json.loads(row["definition"]) for row in rows}

    def _unique_properties(self, conn: storage.Connection, object_type: str) -> set[str]:
        unique = {name for name, d in self._properties(conn, object_type).items() if d.get("hasUniqueValue")}
        return unique | ({"email"} if object_type == "contacts" else set())

    def _find(
        self,
        conn: storage.Connection,
        object_type: str,
        key: str,
        id_property: str | None,
        archived: bool = False,
    ) -> dict[str, Any] | None:
        """The stored object addressed by ``key``: its id, or the value of a unique ``id_property``."""
        if not id_property or id_property == "hs_object_id":
            if not str(key).isdigit():
                return None
            row = conn.execute(
                "select data from objects where object_type = ? and id = ? and archived = ?",
                (object_type, int(key), int(archived)),
            ).fetchone()
        elif id_property == "email" and object_type == "contacts":
            row = conn.execute(
                "select data from objects where object_type = ? and email = ? and archived = ? order by id",
                (object_type, str(key).lower(), int(archived)),
            ).fetchone()
        else:
            if id_property not in self._unique_properties(conn, object_type):
                raise HttpError(
                    400,
                    error_body(
                        f"Property {id_property} is not a unique identifier property", "VALIDATION_ERROR"
                    ),
                )
            if id_property == "mdm_golden_id":
                sql = "select data from objects where object_type = ? and archived = ? and golden_id = ?"
                row = conn.execute(sql, (object_type, int(archived), str(key))).fetchone()
            else:
                row = conn.execute(
                    "select data from objects where object_type = ? and archived = ? and "
                    "json_extract(data, '$.properties.' || ?) = ? order by id",
                    (object_type, int(archived), id_property, str(key)),
                ).fetchone()
        return json.loads(row["data"]) if row else None

    def _validate(self, conn: storage.Connection, object_type: str, properties: Any) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise HttpError(400, error_body("properties must be an object", "VALIDATION_ERROR"))
        known = self._properties(conn, object_type)
        problems = []
        for name in properties:
            if name in READ_ONLY_PROPERTIES[object_type]:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
            elif name not in known:
                problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                 "error": "PROPERTY_DOESNT_EXIST", "name": name})  # fmt: skip
        if problems:
            raise HttpError(
                400,
                error_body(
                    f"Property values were not valid: {json.dumps(problems)}",
                    "VALIDATION_ERROR",
                    errors=[{"message": p["message"], "code": p["error"],
                             "context": {"propertyName": [p["name"]]}} for p in problems],
                ),
            )  # fmt: skip
        return {name: _string(value) for name, value in properties.items()}

    def _check_unique(
        self, conn: storage.Connection, object_type: str, values: dict[str, str | None], own_id: int | None
    ) -> None:
        for name in self._unique_properties(conn, object_type):
            value = values.get(name)
            if value is None:
                continue
            if name == "email":
                row = conn.execute(
                    "select id from objects where object_type = ? and email = ? and archived = 0 and id != ?",
                    (object_type, value.lower(), own_id or -1),
                ).fetchone()
                if row:
                    raise HttpError(
                        409, error_body(f"Contact already exists. Existing ID: {row['id']}", "CONFLICT")
                    )
                continue
            column = "golden_id" if name == "mdm_golden_id" else "json_extract(data, '$.properties.' || ?)"
            args = (
                (object_type, own_id or -1, value)
                if name == "mdm_golden_id"
                else (object_type, own_id or -1, name, value)
            )
            row = conn.execute(
                f"select id from objects where object_type = ? and archived = 0 and id != ? and {column} = ?",
                args,
            ).fetchone()
            if row:
                # [U] the exact wording for a unique-property clash is not documented
                message = (
                    f'A {SINGULAR[object_type]} with the value "{value}" for the unique property "{name}" '
                    f"already exists. Existing ID: {row['id']}"
                )
                raise HttpError(409, error_body(message, "CONFLICT"))

    def _save(
        self, conn: storage.Connection, object_type: str, obj: dict[str, Any], now: int, new: bool
    ) -> None:
        lag = self.ctx.config.search_lag_ms
        props = obj["properties"]
        email = (props.get("email") or "").lower() or None if object_type == "contacts" else None
        data = storage.dumps(obj)
        created = storage.parse_instant_ms(obj["createdAt"]) or now
        archived = int(bool(obj.get("archived")))
        golden = props.get("mdm_golden_id")
        if new:
            conn.execute(
                "insert into objects (object_type, id, data, email, golden_id, archived, created_ms,"
                " modified_ms) values (?, ?, ?, ?, ?, ?, ?, ?)",
                (object_type, int(obj["id"]), data, email, golden, archived, created, now),
            )
        else:
            conn.execute(
                "update objects set data = ?, email = ?, golden_id = ?, archived = ?, modified_ms = ?"
                " where object_type = ? and id = ?",
                (data, email, golden, archived, now, object_type, int(obj["id"])),
            )
        if lag <= 0:
            conn.execute(
                f"update objects set {INDEX_REFRESH} where object_type = ? and id = ?",
                (object_type, int(obj["id"])),
            )
        else:
            conn.execute(
                "update objects set index_due_ms = ? where object_type = ? and id = ?",
                (now + lag, object_type, int(obj["id"])),
            )

    def _new_object(self, conn: storage.Connection, object_type: str, values: dict[str, str | None]) -> dict:
        now = storage.now_ms()
        self._check_unique(conn, object_type, values, None)
        start = (conn.execute("select max(id) as m from objects").fetchone()["m"] or 100) + 1
        new_id = storage.next_id(conn, "object_id", start)
        stamp = storage.iso_ms(now)
        props: dict[str, str | None] = dict.fromkeys(WRITABLE_PROPERTIES[object_type])
        props.update(values)
        props.update(
            {"createdate": stamp, MODIFIED_PROPERTY[object_type]: stamp, "hs_object_id": str(new_id)}
        )
        obj = {
            "id": str(new_id),
            "properties": props,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
        }
        self._save(conn, object_type, obj, now, new=True)
        return obj

    def _apply(
        self, conn: storage.Connection, object_type: str, obj: dict[str, Any], values: dict[str, str | None]
    ) -> bool:
        """Write ``values`` onto ``obj``; returns whether anything changed (only then the dates move)."""
        changes = {k: v for k, v in values.items() if obj["properties"].get(k) != v}
        if not changes:
            return False
        self._check_unique(conn, object_type, changes, int(obj["id"]))
        now = storage.now_ms()
        stamp = storage.iso_ms(now)
        obj["properties"].update(changes)
        obj["properties"][MODIFIED_PROPERTY[object_type]] = stamp
        obj["updatedAt"] = stamp
        self._save(conn, object_type, obj, now, new=False)
        return True

    def _archive(self, conn: storage.Connection, object_type: str, obj: dict[str, Any]) -> None:
        now = storage.now_ms()
        obj["archived"] = True
        obj["archivedAt"] = storage.iso_ms(now)
        obj["updatedAt"] = obj["archivedAt"]
        self._save(conn, object_type, obj, now, new=False)

    @staticmethod
    def _render(obj: dict[str, Any], object_type: str, wanted: list[str] | None) -> dict[str, Any]:
        names = wanted if wanted else DEFAULT_PROPERTIES[object_type]
        stored = obj["properties"]
        always = ("createdate", MODIFIED_PROPERTY[object_type], "hs_object_id")
        # unknown names are silently ignored; known properties without a value come back as null
        props = {n: stored.get(n) for n in [*names, *always] if n in stored}
        out = {
            "id": obj["id"],
            "properties": props,
            "createdAt": obj["createdAt"],
            "updatedAt": obj["updatedAt"],
        }
        out["archived"] = bool(obj.get("archived"))
        if obj.get("archivedAt"):
            out["archivedAt"] = obj["archivedAt"]
        return out

    @staticmethod
    def _wanted(request: Request) -> list[str] | None:
        raw = ",".join(request.args("properties"))
        return [p.strip() for p in raw.split(",") if p.strip()] or None

    @staticmethod
    def _inputs(body: Any) -> list[Any]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise HttpError(400, error_body("Invalid input JSON: inputs must be a list", "VALIDATION_ERROR"))
        if len(inputs) > MAX_BATCH:
            # [S] wording modelled on HubSpot's observed batch-limit message (property-history variant)
            raise HttpError(
                400,
                error_body(
                    f"The maximum number of inputs supported in a batch request is {MAX_BATCH}. "
                    "Please reduce the number of items and try again",
                    "VALIDATION_ERROR",
                ),
            )
        return inputs

    @staticmethod
    def _batch_response(results: list[dict], errors: list[dict], ok_status: int) -> Response:
        stamp = storage.iso_ms(storage.now_ms())
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "requestedAt": stamp}
        body |= {"startedAt": stamp, "completedAt": storage.iso_ms(storage.now_ms())}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return Response(207, body, changed=[r["id"] for r in results])
        return Response(ok_status, body, changed=[r["id"] for r in results])

    # --- single-object endpoints --------------------------------------------------------------------

    def list_objects(self, request: Request) -> Response:
        object_type = self._type(request)
        limit = _int_arg(request, "limit", 10)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise HttpError(
                400, error_body(f"limit must be between 1 and {MAX_LIST_LIMIT}", "VALIDATION_ERROR")
            )
        after = _decode_after(request.arg("after"))
        archived = (request.arg("archived") or "false").lower() == "true"
        with self.connect() as conn:
            rows = conn.execute(
                "select data from objects where object_type = ? and archived = ? and id > ?"
                " order by id limit ?",
                (object_type, int(archived), after, limit + 1),
            ).fetchall()
        objects = [json.loads(r["data"]) for r in rows]
        wanted = self._wanted(request)
        body: dict[str, Any] = {"results": [self._render(o, object_type, wanted) for o in objects[:limit]]}
        if len(objects) > limit:
            token = _encode_after(int(objects[limit - 1]["id"]))
            link = f"{_base_url(request)}/crm/v3/objects/{object_type}?limit={limit}&after={token}"
            body["paging"] = {"next": {"after": token, "link": link}}
        return Response(200, body)

    def get_object(self, request: Request) -> Response:
        object_type = self._type(request)
        archived = (request.arg("archived") or "false").lower() == "true"
        with self.connect() as conn:
            obj = self._find(
                conn, object_type, request.params["record_id"], request.arg("idProperty"), archived
            )
        if obj is None:
            return Response(404, error_body("Object not found.", "OBJECT_NOT_FOUND"))
        return Response(200, self._render(obj, object_type, self._wanted(request)))

    def create(self, request: Request) -> Response:
        object_type = self._type(request)
        body = request.json()
        with self.write_lock, self.connect() as conn:
            values = self._validate(conn, object_type, body.get("properties", {}))
            obj = self._new_object(conn, object_type, values)
        return Response(201, self._render(obj, object_type, list(values)), changed=[obj["id"]])

    def update(self, request: Request) -> Response:
        object_type = self._type(request)
        body = request.json()
        with self.write_lock, self.connect() as conn:
            values = self._validate(conn, object_type, body.get("properties", {}))
            obj = self._find(conn, object_type, request.params["record_id"], request.arg("idProperty"))
            if obj is None:
                return Response(404, error_body("Object not found.", "OBJECT_NOT_FOUND"))
            changed = self._apply(conn, object_type, obj, values)
        return Response(
            200, self._render(obj, object_type, list(values)), changed=[obj["id"]] if changed else []
        )

    def archive(self, request: Request) -> Response:
        object_type = self._type(request)
        with self.write_lock, self.connect() as conn:
            obj = self._find(conn, object_type, request.params["record_id"], request.arg("idProperty"))
            if obj is not None:
                self._archive(conn, object_type, obj)
        # archiving something already gone is still a 204
        return Response(204, None, changed=[obj["id"]] if obj else [])

    # --- batch endpoints ----------------------------------------------------------------------------

    def batch_read(self, request: Request) -> Response:
        object_type = self._type(request)
        body = request.json()
        inputs = self._inputs(body)
        wanted = body.get("properties") or None
        archived = (request.arg("archived") or "false").lower() == "true"
        results, missing = [], []
        with self.connect() as conn:
            for item in inputs:
                key = str(item.get("id", ""))
                obj = self._find(conn, object_type, key, body.get("idProperty"), archived)
                if obj is None:
                    missing.append(key)
                else:
                    results.append(self._render(obj, object_type, wanted))
        errors = []
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            )
        response = self._batch_response(results, errors, 200)
        response.changed = []
        return response

    def batch_create(self, request: Request) -> Response:
        object_type = self._type(request)
        inputs = self._inputs(request.json())
        results, errors = [], []
        with self.write_lock, self.connect() as conn:
            for item in inputs:
                try:
                    values = self._validate(conn, object_type, item.get("properties", {}))
                    obj = self._new_object(conn, object_type, values)
                    results.append(self._render(obj, object_type, list(values)))
                except HttpError as exc:
                    errors.append(_batch_error(exc, item))
        return self._batch_response(results, errors, 201)

    def batch_update(self, request: Request) -> Response:
        object_type = self._type(request)
        inputs = self._inputs(request.json())
        results, errors, changed = [], [], []
        with self.write_lock, self.connect() as conn:
            for item in inputs:
                try:
                    values = self._validate(conn, object_type, item.get("properties", {}))
                    obj = self._find(conn, object_type, str(item.get("id", "")), item.get("idProperty"))
                    if obj is None:
                        raise HttpError(
                            404, error_body(f"Object {item.get('id')} not found.", "OBJECT_NOT_FOUND")
                        )
                    if self._apply(conn, object_type, obj, values):
                        changed.append(obj["id"])
                    results.append(self._render(obj, object_type, list(values)))
                except HttpError as exc:
                    errors.append(_batch_error(exc, item))
        response = self._batch_response(results, errors, 200)
        response.changed = changed
        return response

    def batch_upsert(self, request: Request) -> Response:
        object_type = self._type(request)
        inputs = self._inputs(request.json())
        results, errors, changed = [], [], []
        with self.write_lock, self.connect() as conn:
            unique = self._unique_properties(conn, object_type)
            for item in inputs:
                id_property = item.get("idProperty")
                if id_property not in unique:
                    raise HttpError(
                        400,
                        error_body(
                            f"idProperty must be email or a unique property, got {id_property!r}",
                            "VALIDATION_ERROR",
                        ),
                    )
                try:
                    values = self._validate(conn, object_type, item.get("properties", {}))
                    key = str(item.get("id", ""))
                    obj = self._find(conn, object_type, key, id_property)
                    if obj is None:
                        obj = self._new_object(conn, object_type, {**values, id_property: key})
                        changed.append(obj["id"])
                        new = True
                    else:
                        new = False
                        if self._apply(conn, object_type, obj, values):
                            changed.append(obj["id"])
                    results.append(self._render(obj, object_type, list(values)) | {"new": new})
                except HttpError as exc:
                    errors.append(_batch_error(exc, item))
        response = self._batch_response(results, errors, 200)
        response.changed = changed
        return response

    def batch_archive(self, request: Request) -> Response:
        object_type = self._type(request)
        inputs = self._inputs(request.json())
        changed = []
        with self.write_lock, self.connect() as conn:
            for item in inputs:
                obj = self._find(conn, object_type, str(item.get("id", "")), None)
                if obj is not None:
                    self._archive(conn, object_type, obj)
                    changed.append(obj["id"])
        return Response(204, None, changed=changed)

    # --- search ---------------------------------------------------------------------------------------

    def search(self, request: Request) -> Response:
        object_type = self._type(request)
        if len(request.body) > MAX_SEARCH_BODY:
            raise HttpError(400, error_body("Request body exceeds 3000 characters", "VALIDATION_ERROR"))
        body = request.json()
        groups = body.get("filterGroups") or []
        filters_total = sum(len(g.get("filters") or []) for g in groups)
        if len(groups) > 5 or any(len(g.get("filters") or []) > 6 for g in groups) or filters_total > 18:
            raise HttpError(
                400,
                error_body(
                    "Too many filters: at most 5 groups, 6 filters each, 18 in total", "VALIDATION_ERROR"
                ),
            )
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            raise HttpError(400, error_body("Only one sort is allowed", "VALIDATION_ERROR"))
        limit = int(body.get("limit") or 10)
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise HttpError(
                400, error_body(f"limit must be between 1 and {MAX_SEARCH_LIMIT}", "VALIDATION_ERROR")
            )
        offset = int(body.get("after") or 0)
        if offset + limit > MAX_SEARCH_RESULTS:
            raise HttpError(
                400,
                error_body(
                    f"Cannot page past {MAX_SEARCH_RESULTS} results; narrow the filters", "VALIDATION_ERROR"
                ),
            )
        where, params = _search_where(object_type, groups)
        if body.get("query"):
            text = f"%{str(body['query']).lower()}%"
            likes = [
                f"lower(json_extract(indexed_data, '$.properties.{p}')) like ?"
                for p in QUERY_PROPERTIES[object_type]
            ]
            where += " and (" + " or ".join(likes) + ")"
            params += [text] * len(likes)
        order = _search_order(object_type, sorts)
        with self.write_lock, self.connect() as conn:
            # the index catches up with writes older than the configured lag
            conn.execute(
                f"update objects set {INDEX_REFRESH} where index_due_ms is not null and index_due_ms <= ?",
                (storage.now_ms(),),
            )
            total = conn.execute(f"select count(*) as n from objects where {where}", params).fetchone()["n"]
            rows = conn.execute(
                f"select indexed_data from objects where {where} order by {order} limit ? offset ?",
                [*params, limit, offset],
            ).fetchall()
        wanted = body.get("properties") or None
        out: dict[str, Any] = {
            "total": total,
            "results": [self._render(json.loads(r["indexed_data"]), object_type, wanted) for r in rows],
        }
        if offset + limit < total:
            out["paging"] = {"next": {"after": str(offset + limit)}}
        return Response(200, out)

    # --- properties -----------------------------------------------------------------------------------

    def list_properties(self, request: Request) -> Response:
        object_type = self._type(request)
        with self.connect() as conn:
            return Response(200, {"results": list(self._properties(conn, object_type).values())})

    def get_property(self, request: Request) -> Response:
        object_type = self._type(request)
        with self.connect() as conn:
            definition = self._properties(conn, object_type).get(request.params["name"])
        if definition is None:
            return Response(
                404, error_body(f"Property {request.params['name']} does not exist", "OBJECT_NOT_FOUND")
            )
        return Response(200, definition)

    def create_property(self, request: Request) -> Response:
        object_type = self._type(request)
        body = request.json()
        name = str(body.get("name") or "")
        if not PROPERTY_NAME.match(name):
            raise HttpError(
                400, error_body("name must be lower-case letters, digits and _", "VALIDATION_ERROR")
            )
        with self.write_lock, self.connect() as conn:
            existing = self._properties(conn, object_type)
            if name in existing or name in READ_ONLY_PROPERTIES[object_type]:
                return Response(
                    409, error_body(f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
                )
            if (
                body.get("hasUniqueValue")
                and sum(bool(d.get("hasUniqueValue")) for d in existing.values()) >= 10
            ):
                raise HttpError(
                    400, error_body("An object can have at most 10 unique properties", "VALIDATION_ERROR")
                )
            definition = property_definition(object_type, name, bool(body.get("hasUniqueValue")))
            for key in ("label", "type", "fieldType", "groupName", "description"):
                if body.get(key) is not None:
                    definition[key] = body[key]
            conn.execute(
                "insert into properties (object_type, name, definition) values (?, ?, ?)",
                (object_type, name, json.dumps(definition)),
            )
        return Response(201, definition, changed=[f"property:{name}"])

    # --- admin ----------------------------------------------------------------------------------------

    def record_counts(self) -> dict[str, int]:
        with self.connect() as conn:
            rows = conn.execute("select object_type, count(*) as n from objects group by object_type")
            return {row["object_type"]: row["n"] for row in rows}

    def dump(self, table: str) -> list[dict[str, Any]]:
        if table not in ("contacts", "companies"):
            raise HttpError(400, {"message": "table must be contacts or companies"})
        with self.connect() as conn:
            rows = conn.execute("select data from objects where object_type = ? order by id", (table,))
            return [json.loads(r["data"]) for r in rows]

    def apply_edit(self, edit: dict[str, Any]) -> list[str]:
        """Edit as a person in HubSpot's UI: ``op`` create/update/delete on ``table`` with ``set``."""
        object_type = OBJECT_TYPES[edit.get("table") or "contacts"]
        op = edit.get("op", "update")
        with self.connect() as conn:
            if op == "create":
                obj = self._new_object(
                    conn, object_type, self._validate(conn, object_type, edit.get("set", {}))
                )
                return [obj["id"]]
            obj = self._find(conn, object_type, str(edit["id"]), None)
            if obj is None:
                raise HttpError(404, {"message": f"crm {object_type} {edit['id']} not found"})
            if op == "delete":
                self._archive(conn, object_type, obj)
                return [obj["id"]]
            values = self._validate(conn, object_type, edit.get("set", {}))
            return [obj["id"]] if self._apply(conn, object_type, obj, values) else []


# --- helpers ------------------------------------------------------------------------------------------


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise HttpError(400, error_body(f"{name} must be an integer", "VALIDATION_ERROR")) from exc


def _encode_after(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def _decode_after(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        kind, value = base64.urlsafe_b64decode(padded).decode().split(":", 1)
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, error_body(f"Invalid paging cursor {token!r}", "VALIDATION_ERROR")) from exc


def _base_url(request: Request) -> str:
    return f"http://{request.header('Host') or '127.0.0.1'}"


def _batch_error(exc: HttpError, item: dict[str, Any]) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {"message": str(exc.body)}
    context: dict[str, Any] = {}
    if item.get("objectWriteTraceId"):
        context["objectWriteTraceId"] = [item["objectWriteTraceId"]]
    if item.get("id") is not None:
        context["ids"] = [str(item["id"])]
    return {
        "status": "error",
        "category": body.get("category", "VALIDATION_ERROR"),
        "message": body.get("message", ""),
        "context": context,
    }


def _column(object_type: str, name: str) -> tuple[str, str]:
    """The SQL expression for a property in the search index, and how to cast filter values."""
    if not PROPERTY_NAME.match(name):
        raise HttpError(400, error_body(f"Invalid property name {name!r}", "VALIDATION_ERROR"))
    if name == MODIFIED_PROPERTY[object_type]:
        return "indexed_modified_ms", "instant"
    if name == "createdate":
        return "created_ms", "instant"
    if name == "hs_object_id":
        return "id", "int"
    if name == "email" and object_type == "contacts":
        return "indexed_email", "text"  # stored lower-cased, like the other text comparisons
    return f"lower(json_extract(indexed_data, '$.properties.{name}'))", "text"


def _cast(kind: str, value: Any) -> Any:
    if kind == "instant":
        parsed = storage.parse_instant_ms(value)
        if parsed is None:
            raise HttpError(400, error_body(f"{value!r} is not a valid date", "VALIDATION_ERROR"))
        return parsed
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise HttpError(400, error_body(f"{value!r} is not a valid id", "VALIDATION_ERROR")) from exc
    return str(value).lower() if value is not None else None


def _search_where(object_type: str, groups: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    base = "object_type = ? and archived = 0 and indexed_data is not null"
    params: list[Any] = [object_type]
    ors = []
    for group in groups:
        ands = []
        for flt in group.get("filters") or []:
            operator = str(flt.get("operator", "EQ")).upper()
            if operator not in OPERATORS:
                raise HttpError(400, error_body(f"Unknown operator {operator}", "VALIDATION_ERROR"))
            column, kind = _column(object_type, str(flt.get("propertyName", "")))
            sql, values = _filter_sql(column, kind, operator, flt)
            ands.append(sql)
            params += values
        if ands:
            ors.append("(" + " and ".join(ands) + ")")
    if ors:
        base += " and (" + " or ".join(ors) + ")"
    return base, params


def _filter_sql(column: str, kind: str, operator: str, flt: dict[str, Any]) -> tuple[str, list[Any]]:
    simple = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
    if operator in simple:
        value = _cast(kind, flt.get("value"))
        if operator == "NEQ":
            return f"({column} is null or {column} != ?)", [value]
        return f"{column} {simple[operator]} ?", [value]
    if operator == "BETWEEN":
        return f"{column} between ? and ?", [_cast(kind, flt.get("value")), _cast(kind, flt.get("highValue"))]
    if operator in ("IN", "NOT_IN"):
        values = [_cast(kind, v) for v in flt.get("values") or []]
        marks = ", ".join("?" * len(values)) or "null"
        if operator == "IN":
            return f"{column} in ({marks})", values
        return f"({column} is null or {column} not in ({marks}))", values
    if operator == "HAS_PROPERTY":
        return f"({column} is not null and {column} != '')", []
    if operator == "NOT_HAS_PROPERTY":
        return f"({column} is null or {column} = '')", []
    token = f"%{str(flt.get('value', '')).lower().strip('*')}%"
    if operator == "CONTAINS_TOKEN":
        return f"{column} like ?", [token]
    return f"({column} is null or {column} not like ?)", [token]


def _search_order(object_type: str, sorts: list[Any]) -> str:
    if not sorts:
        return "id asc"
    sort = sorts[0]
    if isinstance(sort, str):  # the legacy form "propertyName" or "-propertyName"
        sort = {
            "propertyName": sort.lstrip("-"),
            "direction": "DESCENDING" if sort.startswith("-") else "ASCENDING",
        }
    column, _ = _column(object_type, str(sort.get("propertyName", "")))
    direction = "desc" if str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING" else "asc"
    return f"{column} {direction}, id {direction}"
