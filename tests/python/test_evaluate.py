"""``customer-sync evaluate``: metrics, isolation of its schemas, the truth kept from matching, accuracy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.errors import UserError
from customer_sync.evaluate import bcubed, cleanup, evaluate, f1_score, pair_counts
from tests.python.fixtures.warehouse_data import person_rows, write_file


def test_pairwise_counts_of_a_known_clustering() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    predicted = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"}
    counts = pair_counts(predicted, truth)
    # true pairs ab ac bc de = 4; predicted pairs ab cd = 2, of which ab is right
    assert (counts.true_positive_pairs, counts.predicted_pairs, counts.true_pairs) == (1, 2, 4)
    assert counts.precision == 0.5 and counts.recall == 0.25
    assert f1_score(0.5, 0.25) == pytest.approx(1 / 3)


def test_bcubed_of_a_known_clustering() -> None:
    truth = {"a": "1", "b": "1", "c": "2"}
    predicted = {"a": "X", "b": "X", "c": "X"}
    precision, recall = bcubed(predicted, truth)
    assert precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    assert recall == pytest.approx(1.0)
    assert bcubed(truth, truth) == (1.0, 1.0)


def _schemas(db: database.Database, like: str) -> list[str]:
    with database.connect(db) as conn, conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname like %s", (like,))
        return [row[0] for row in cur.fetchall()]


def test_evaluate_small_file_scores_and_cleans_up(
    settings: Settings, warehouse: database.Database, tmp_path: Path
) -> None:
    rows = person_rows(40, seed=3)
    rows.append({**rows[0], "id": "broken", "birth_date": "not a date"})  # quarantined by the landing
    csv_path, mapping_path = write_file(tmp_path, rows)
    result = evaluate(settings, warehouse, csv_path, mapping_path, "entity_id", keep=True)
    try:
        assert result.records_in == 81 and result.quarantined == 1 and result.records == 80
        assert result.true_clusters == 40
        assert result.precision == 1.0 and result.recall == 1.0 and result.bcubed_f1 == 1.0
        token = result.schema_prefix.removeprefix("eval_").rstrip("_")
        with database.connect(warehouse, role="cs_transformer") as conn, conn.cursor() as cur:
            # the truth never stays where the models could read it
            cur.execute(f"select count(*) from raw_file_eval_{token}.records where _extra ? 'entity_id'")
            assert cur.fetchone()[0] == 0
            # the main golden tables were not touched
            cur.execute("select to_regclass('marts.dim_customer')")
            assert cur.fetchone()[0] is None
    finally:
        cleanup(settings, warehouse, token)
    assert _schemas(warehouse, f"%eval_{token}%") == []


def test_evaluate_refuses_a_mapping_that_shows_the_truth(
    settings: Settings, warehouse: database.Database, tmp_path: Path
) -> None:
    csv_path, mapping_path = write_file(tmp_path, person_rows(2, seed=1))
    mapping = yaml.safe_load(mapping_path.read_text())
    mapping["fields"]["company_name"] = "entity_id"
    mapping_path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(UserError, match="truth"):
        evaluate(settings, warehouse, csv_path, mapping_path, "entity_id")
    with pytest.raises(UserError, match="not in the header"):
        evaluate(settings, warehouse, csv_path, mapping_path, "no_such_column")


def test_evaluate_command_prints_json_last(
    settings: Settings, warehouse: database.Database, tmp_path: Path
) -> None:
    from customer_sync.commands.evaluate import evaluate as evaluate_command

    csv_path, mapping_path = write_file(tmp_path, person_rows(10, seed=9))
    outcome = CliRunner().invoke(
        evaluate_command, [str(csv_path), "--mapping", str(mapping_path), "--truth", "entity_id", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout.strip().splitlines()[-1])
    for key in ("precision", "recall", "f1", "bcubed_f1", "records_in", "records", "quarantined"):
        assert key in payload
    assert payload["records"] == 20 and payload["true_clusters"] == 10 and payload["predicted_clusters"] == 10
    assert _schemas(warehouse, "%eval_%") == []


@pytest.mark.e2e
def test_accuracy_on_generated_data_at_10k_persons(
    settings: Settings, warehouse: database.Database, tmp_path: Path
) -> None:
    from customer_sync.generate import generate

    data = generate(persons=10_000, seed=42)
    csv_path, mapping_path = tmp_path / "records.csv", tmp_path / "mapping.yml"
    data.to_csv(csv_path)
    data.write_mapping(mapping_path)
    started = time.monotonic()
    result = evaluate(settings, warehouse, csv_path, mapping_path, "entity_id")
    print(f"evaluate 10k persons: {result.as_dict()} in {time.monotonic() - started:.0f} s")
    assert result.records > 10_000
    assert result.precision >= 0.97
    assert result.recall >= 0.97
