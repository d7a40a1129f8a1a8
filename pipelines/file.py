"""The ``file`` source: any CSV plus a mapping YAML, landed as canonical records and a quarantine.

Every data row of the CSV ends up in exactly one of two tables of ``raw_file_<name>``:

- ``records``: ``record_id`` (the id column), one column per canonical field, ``_source_row`` (1 = the first
  row after the header) and ``_extra`` (a JSON object with the columns the mapping does not name);
- ``quarantine``: ``_source_row``, ``record_id`` (when there is one), ``reason`` and ``raw_line`` (the row
  re-serialised as CSV, with NUL bytes and undecodable bytes written as ``\\x00``/``\\xff`` escapes).

A row is quarantined when its id is missing or repeats an earlier row's id, when a value cannot be read
(a date not in its format, a NUL byte, bytes that are not valid in the file's encoding) or when it has a
different number of fields than the header. Blank lines are not rows. A bad mapping is a ``UserError``.

dlt has no CSV-with-mapping reader that quarantines row by row, so the parsing below is hand-written; the
landing itself is a plain dlt source.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dlt
import yaml

from customer_sync.errors import UserError
from pipelines.http import typed_columns

CANONICAL_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "company_name",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "region",
    "country",
    "birth_date",
    "national_id",
)
DATE_FIELDS = frozenset({"birth_date"})
MAPPING_KEYS = frozenset({"id", "fields", "delimiter", "encoding"})
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# a 10 kB value is an ordinary hostile value; the csv module's default cap is 128 kB per field
FIELD_SIZE_LIMIT = 16 * 1024 * 1024

RECORD_COLUMNS: dict[str, dict[str, Any]] = {
    "record_id": {"data_type": "text", "nullable": False, "primary_key": True},
    **typed_columns(**{name: "date" if name in DATE_FIELDS else "text" for name in CANONICAL_FIELDS}),
    "_source_row": {"data_type": "bigint", "nullable": False},
    "_extra": {"data_type": "json", "nullable": True},
}
QUARANTINE_COLUMNS: dict[str, dict[str, Any]] = {
    "_source_row": {"data_type": "bigint", "nullable": False},
    **typed_columns(record_id="text", reason="text", raw_line="text"),
}


@dataclass(frozen=True)
class FieldRule:
    """Where one canonical field's value comes from: columns (joined), a constant, a date format."""

    columns: tuple[str, ...] = ()
    join: str = " "
    value: str | None = None
    date_format: str | None = None

    def read(self, row: dict[str, str | None], field_name: str) -> str | None:
        """The field's value for ``row``; ``ValueError`` with a reason when it cannot be read."""
        if self.value is not None:
            raw: str | None = self.value
        else:
            parts = [row[column] for column in self.columns if row[column] not in (None, "")]
            raw = self.join.join(p for p in parts if p is not None) if parts else None
        if raw is None or field_name not in DATE_FIELDS:
            return raw
        return _parse_date(raw, self.date_format, field_name)


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    id_column: str
    fields: dict[str, FieldRule]
    delimiter: str = ","
    encoding: str = "utf-8-sig"

    @property
    def used_columns(self) -> set[str]:
        used = {self.id_column}
        for rule in self.fields.values():
            used.update(rule.columns)
        return used


@dataclass
class FileRows:
    """The outcome of reading a CSV: rows to land, rows to quarantine, and the header."""

    header: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return len(self.records) + len(self.quarantine)


def check_name(name: str) -> str:
    """The file source's name, usable as ``raw_file_<name>``; a ``UserError`` otherwise."""
    if not NAME_PATTERN.match(name or ""):
        raise UserError(
            f"file source name {name!r} must be 1-40 characters of lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    return name


def load_mapping(path: Path) -> Mapping:
    """Parse and check a mapping YAML; every problem is a ``UserError`` naming the file and the key."""
    where = f"mapping {path}"
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"{where}: file not found") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{where}: cannot be read as YAML ({_first_line(exc)})") from exc
    if not isinstance(document, dict):
        raise UserError(f"{where}: must be a YAML mapping with the keys 'id' and 'fields'")
    unknown = set(document) - MAPPING_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(MAPPING_KEYS)}")
    id_column = document.get("id")
    if not isinstance(id_column, str) or not id_column:
        raise UserError(f"{where}: 'id' must name the column holding each record's id")
    fields = document.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise UserError(f"{where}: 'fields' must map canonical fields to columns")
    rules = {str(name): _field_rule(where, str(name), spec) for name, spec in fields.items()}
    delimiter = document.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise UserError(f"{where}: 'delimiter' must be one character")
    encoding = document.get("encoding", "utf-8-sig")
    try:
        "".encode(str(encoding))
    except LookupError as exc:
        raise UserError(f"{where}: unknown encoding {encoding!r}") from exc
    if str(encoding).lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # also strips a byte-order mark
    return Mapping(id_column=id_column, fields=rules, delimiter=delimiter, encoding=str(encoding))


def _field_rule(where: str, name: str, spec: Any) -> FieldRule:
    if name not in CANONICAL_FIELDS:
        raise UserError(f"{where}: unknown canonical field {name!r}; known: {', '.join(CANONICAL_FIELDS)}")
    if isinstance(spec, str) and spec:
        return FieldRule(columns=(spec,))
    if not isinstance(spec, dict):
        raise UserError(
            f"{where}: field {name!r} must be a column name or a mapping with 'column', 'columns' or 'value'"
        )
    allowed = {"column", "columns", "join", "value", "format"}
    unknown = set(spec) - allowed
    if unknown:
        raise UserError(
            f"{where}: field {name!r} has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    sources = [key for key in ("column", "columns", "value") if key in spec]
    if len(sources) != 1:
        raise UserError(f"{where}: field {name!r} needs exactly one of 'column', 'columns' or 'value'")
    date_format = spec.get("format")
    if date_format is not None:
        if name not in DATE_FIELDS:
            raise UserError(
                f"{where}: field {name!r} is not a date; 'format' applies to {sorted(DATE_FIELDS)}"
            )
        if not isinstance(date_format, str) or "%" not in date_format:
            raise UserError(f"{where}: field {name!r} format must be a strftime format such as '%Y-%m-%d'")
    if "value" in spec:
        value = spec["value"]
        if value is None or isinstance(value, (dict, list)):
            raise UserError(f"{where}: field {name!r} 'value' must be a constant text, number or date")
        return FieldRule(value=str(value), date_format=date_format)
    if "column" in spec:
        column = spec["column"]
        if not isinstance(column, str) or not column:
            raise UserError(f"{where}: field {name!r} 'column' must be a column name")
        return FieldRule(columns=(column,), date_format=date_format)
    columns = spec["columns"]
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise UserError(f"{where}: field {name!r} 'columns' must be a non-empty list of column names")
    join = spec.get("join", " ")
    if not isinstance(join, str):
        raise UserError(f"{where}: field {name!r} 'join' must be text")
    return FieldRule(columns=tuple(columns), join=join, date_format=date_format)


def read_file(csv_path: Path, mapping: Mapping) -> FileRows:
    """Read the CSV row by row into records and quarantined rows (every data row lands in one)."""
    csv.field_size_limit(FIELD_SIZE_LIMIT)
    try:
        # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row does not sink the file
        handle = open(csv_path, encoding=mapping.encoding, errors="surrogateescape", newline="")  # noqa: SIM115
    except FileNotFoundError as exc:
        raise UserError(f"CSV file {csv_path} not found") from exc
    except OSError as exc:
        raise UserError(f"CSV file {csv_path} cannot be read: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        header = _read_header(reader, csv_path, mapping)
        result = FileRows(header=header)
        first_row_of: dict[str, int] = {}
        source_row = 0
        try:
            for values in reader:
                if not values:
                    continue  # a blank line is not a row
                source_row += 1
                _read_row(values, source_row, mapping, result, first_row_of)
        except csv.Error as exc:
            raise UserError(
                f"CSV file {csv_path} is not valid CSV after data row {source_row}: {exc}"
            ) from exc
    return result


def _read_header(reader: Any, csv_path: Path, mapping: Mapping) -> list[str]:
    try:
        header = next(reader)
    except StopIteration as exc:
        raise UserError(f"CSV file {csv_path} is empty (no header row)") from exc
    except csv.Error as exc:
        raise UserError(f"CSV file {csv_path} has an unreadable header: {exc}") from exc
    bad = [name for name in header if _unreadable(name)]
    if bad:
        raise UserError(
            f"CSV file {csv_path}: the header is not valid {_encoding_name(mapping.encoding)} text "
            "or holds a NUL byte"
        )
    header = [name.strip() for name in header]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise UserError(f"CSV file {csv_path}: header repeats column(s) {duplicates}")
    missing = sorted(mapping.used_columns - set(header))
    if missing:
        raise UserError(
            f"mapping names column(s) {missing} that the CSV header of {csv_path} does not have "
            f"(columns: {', '.join(header)})"
        )
    return header


def _read_row(
    values: list[str],
    source_row: int,
    mapping: Mapping,
    result: FileRows,
    first_row_of: dict[str, int],
) -> None:
    header = result.header
    raw_id = values[header.index(mapping.id_column)] if len(values) > header.index(mapping.id_column) else ""
    record_id = raw_id.strip() or None
    reasons: list[str] = []
    if len(values) != len(header):
        reasons.append(f"row has {len(values)} fields, the header has {len(header)}")
    for column, value in zip(header, values, strict=False):
        if "\x00" in value:
            reasons.append(f"NUL byte in column {column!r}")
        elif _has_undecodable(value):
            reasons.append(f"column {column!r} is not valid {_encoding_name(mapping.encoding)} text")
    if record_id is None:
        reasons.append(f"missing id in column {mapping.id_column!r}")
    elif not reasons and record_id in first_row_of:
        reasons.append(f"duplicate id {record_id!r} (first on row {first_row_of[record_id]})")
    record: dict[str, Any] = {}
    if not reasons:
        row = dict(zip(header, (value if value != "" else None for value in values), strict=True))
        for name, rule in mapping.fields.items():
            try:
                record[name] = rule.read(row, name)
            except ValueError as exc:
                reasons.append(str(exc))
    if reasons:
        result.quarantine.append(
            {
                "_source_row": source_row,
                "record_id": _printable(record_id) if record_id else None,
                "reason": "; ".join(reasons),
                "raw_line": _raw_line(values, mapping.delimiter),
            }
        )
        return
    assert record_id is not None
    first_row_of[record_id] = source_row
    extra = {column: row[column] for column in header if column not in mapping.used_columns}
    result.records.append(
        {"record_id": record_id, **record, "_source_row": source_row, "_extra": extra or None}
    )


def _parse_date(raw: str, date_format: str | None, field_name: str) -> str:
    text = raw.strip()
    try:
        parsed = datetime.strptime(text, date_format).date() if date_format else date.fromisoformat(text)
    except ValueError:
        expected = f"format {date_format}" if date_format else "ISO format YYYY-MM-DD"
        raise ValueError(f"{field_name} {_printable(text)[:60]!r} is not a date in {expected}") from None
    return parsed.isoformat()


def _has_undecodable(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _unreadable(value: str) -> bool:
    return "\x00" in value or _has_undecodable(value)


def _printable(value: str) -> str:
    """``value`` with NUL and undecodable bytes as escapes, so Postgres text can hold it."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


def _raw_line(values: list[str], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(values)
    return _printable(buffer.getvalue())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


@dlt.source(name="file", max_table_nesting=0)
def file_source(rows: FileRows) -> Any:
    """The landed and the quarantined rows of one CSV, each table a full snapshot of the file."""
    yield dlt.resource(
        _rows(rows.records),
        name="records",
        write_disposition="replace",
        primary_key="record_id",
        columns=RECORD_COLUMNS,
    )
    yield dlt.resource(
        _rows(rows.quarantine),
        name="quarantine",
        write_disposition="replace",
        columns=QUARANTINE_COLUMNS,
    )


def _rows(rows: list[dict[str, Any]]) -> Iterator[Any]:
    # an empty quarantine is still a table readers can select from
    yield dlt.mark.materialize_table_schema()
    yield rows


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8-sig" else encoding
