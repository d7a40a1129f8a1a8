"""Landing CSV files with a mapping: hostile values land or are quarantined, and the counts add up."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.errors import UserError
from customer_sync.extract import land_file
from pipelines.file import load_mapping, read_file
from tests.python.fixtures.landing import fetch_rows

MAPPING = """\
id: rec_id
fields:
  first_name: given_name
  last_name: surname
  email: email
  address_line1: {columns: [street_number, address_1], join: " "}
  birth_date: {column: dob, format: "%Y%m%d"}
  country: {value: AU}
"""
HEADER = ["rec_id", "given_name", "surname", "email", "street_number", "address_1", "dob", "note"]
LONG = "x" * 10_240
# rec_id -> (row values, expected outcome: a landed value check or a quarantine reason fragment)
GOOD_ROWS = [
    ["q1", 'Ann "Nan"', "O'Brien, Jr.", "ann@example.com", "12", "High St", "19800102", "quotes"],
    ["q2", "Robert'); drop table students;--", "Tables", "", "", "Main Rd", "", "sql"],
    ["q3", LONG, "Long", "", "", "", "", "10 kB"],
    ["q4", "Tab\there\x07bell\x1b", "Ctrl", "", "", "", "", "control chars"],
    ["q5", "Zoë 😀", "Ng 👩‍👩‍👧", "", "", "", "", "emoji"],
    ["q6", "مرحبا", "שָׁלוֹם\u202e", "", "", "", "", "rtl"],
    ["q7", "Multi\nLine", "Value", "", "", "", "", "newline inside quotes"],
]
BAD_ROWS = [
    (["q8", "Nul\x00Byte", "X", "", "", "", "", ""], "NUL byte in column 'given_name'"),
    (
        ["q9", "Bad", "Date", "", "", "", "19801399", ""],
        "birth_date '19801399' is not a date in format %Y%m%d",
    ),
    (["", "No", "Id", "", "", "", "", ""], "missing id in column 'rec_id'"),
    (["   ", "Blank", "Id", "", "", "", "", ""], "missing id in column 'rec_id'"),
    (["q1", "Second", "Q1", "", "", "", "", ""], "duplicate id 'q1' (first on row 1)"),
    (["q10", "Too", "Few"], "row has 3 fields, the header has 8"),
]


def write_csv(path: Path, rows: list[list[str]], raw_tail: bytes = b"") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    with path.open("ab") as handle:
        handle.write(raw_tail)
    return path


@pytest.fixture
def hostile_csv(tmp_path: Path) -> Path:
    rows = GOOD_ROWS[:3] + [BAD_ROWS[0][0]] + GOOD_ROWS[3:] + [row for row, _ in BAD_ROWS[1:]]
    # a row whose bytes are not UTF-8 (Latin-1 "é") after the rest
    return write_csv(tmp_path / "hostile.csv", rows, raw_tail=b"q11,Ren\xe9,Latin,,,,,\r\n")


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yml"
    path.write_text(MAPPING)
    return path


def test_hostile_csv_rows_land_or_are_quarantined_with_reasons(
    settings: Settings, warehouse: database.Database, hostile_csv: Path, mapping_file: Path
) -> None:
    result = land_file(settings, warehouse, hostile_csv, mapping_file, "hostile")

    assert result.rows_in == len(GOOD_ROWS) + len(BAD_ROWS) + 1
    assert (result.landed, result.quarantined) == (len(GOOD_ROWS), len(BAD_ROWS) + 1)
    assert result.schema == "raw_file_hostile"

    landed = {
        row[0]: row[1:]
        for row in fetch_rows(
            warehouse,
            "select record_id, first_name, last_name, address_line1, birth_date::text, country,"
            " _extra->>'note' from raw_file_hostile.records",
        )
    }
    assert set(landed) == {row[0] for row in GOOD_ROWS}
    for row in GOOD_ROWS:
        assert landed[row[0]][0] == row[1], f"first_name of {row[0]} changed on the way"
        assert landed[row[0]][1] == row[2]
        assert landed[row[0]][4] == "AU"
        assert landed[row[0]][5] == row[7]
    assert landed["q1"][2:4] == ("12 High St", "1980-01-02")
    assert landed["q2"][2] == "Main Rd"
    assert len(landed["q3"][0]) == 10_240

    quarantined = fetch_rows(
        warehouse, "select _source_row, record_id, reason, raw_line from raw_file_hostile.quarantine"
    )
    reasons = sorted(reason for _, _, reason, _ in quarantined)
    expected = sorted([reason for _, reason in BAD_ROWS] + ["column 'given_name' is not valid UTF-8 text"])
    assert reasons == expected
    by_id = {record_id: (row, raw) for row, record_id, _, raw in quarantined}
    assert by_id["q8"][1] == "q8,Nul\\x00Byte,X,,,,,"
    assert by_id["q11"] == (len(GOOD_ROWS) + len(BAD_ROWS) + 1, "q11,Ren\\xe9,Latin,,,,,")


def test_landing_again_replaces_records_and_quarantine(
    settings: Settings, warehouse: database.Database, tmp_path: Path, mapping_file: Path
) -> None:
    first = write_csv(tmp_path / "a.csv", [GOOD_ROWS[0], BAD_ROWS[1][0]])
    assert land_file(settings, warehouse, first, mapping_file, "again").quarantined == 1
    second = write_csv(tmp_path / "b.csv", [GOOD_ROWS[1]])
    result = land_file(settings, warehouse, second, mapping_file, "again")
    assert (result.rows_in, result.landed, result.quarantined) == (1, 1, 0)
    assert fetch_rows(warehouse, "select record_id from raw_file_again.records") == [("q2",)]
    assert fetch_rows(warehouse, "select count(*) from raw_file_again.quarantine") == [(0,)]


def test_every_canonical_column_exists_even_when_unmapped(
    settings: Settings, warehouse: database.Database, tmp_path: Path, mapping_file: Path
) -> None:
    land_file(settings, warehouse, write_csv(tmp_path / "c.csv", [GOOD_ROWS[0]]), mapping_file, "columns")
    columns = fetch_rows(
        warehouse,
        "select table_name, column_name, data_type from information_schema.columns"
        " where table_schema = 'raw_file_columns' and column_name not like '_dlt%%'",
    )
    records = {name: kind for table, name, kind in columns if table == "records"}
    assert {"national_id", "region", "postcode", "phone", "company_name", "_source_row", "_extra"} <= set(
        records
    )
    assert records["birth_date"] == "date"
    assert {name for table, name, _ in columns if table == "quarantine"} == {
        "_source_row",
        "record_id",
        "reason",
        "raw_line",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("fields: {first_name: a}\n", "'id' must name the column"),
        ("id: a\nfields: {nickname: b}\n", "unknown canonical field 'nickname'"),
        ("id: a\nfields: {first_name: {column: b, value: c}}\n", "exactly one of"),
        ("id: a\nfields: {email: {column: b, format: '%Y'}}\n", "is not a date"),
        ("id: a\nfields: {first_name: b}\ncolour: red\n", "unknown key(s) ['colour']"),
        ("id: a\nfields: {first_name: [b\n", "cannot be read as YAML"),
    ],
)
def test_bad_mapping_is_a_user_error_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_mapping(path)
    assert message in str(caught.value)


def test_mapping_naming_a_missing_column_is_a_user_error(tmp_path: Path, mapping_file: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("rec_id,given_name\n1,A\n")
    with pytest.raises(UserError, match=r"names column\(s\) \['address_1', 'dob'"):
        read_file(path, load_mapping(mapping_file))


def test_bad_source_name_is_a_user_error(
    settings: Settings, warehouse: database.Database, hostile_csv: Path, mapping_file: Path
) -> None:
    with pytest.raises(UserError, match="lower-case letters"):
        land_file(settings, warehouse, hostile_csv, mapping_file, "Bad-Name; drop")
