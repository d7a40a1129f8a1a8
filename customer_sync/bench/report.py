"""The benchmark's result: one JSON object for machines and Markdown tables for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from customer_sync.bench.metrics import Accuracy
from customer_sync.bench.stages import StageResult

MEMORY_GROUPS = ("python", "postgres", "simulators")


@dataclass
class BenchReport:
    """Everything one ``customer-sync bench`` run measured."""

    persons: int
    seed: int
    command: str
    records: int = 0
    stages: list[StageResult] = field(default_factory=list)
    accuracy: Accuracy | None = None
    seconds_identity: float | None = None
    splink: dict[str, Any] | None = None
    splink_accuracy: Accuracy | None = None
    splink_sweep: dict[str, dict[str, float]] = field(default_factory=dict)
    coverage: dict[str, int] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def stage(self, name: str) -> StageResult | None:
        return next((s for s in self.stages if s.name == name), None)

    def full_cycle_seconds(self) -> float | None:
        """Land + build + sync of the first, full cycle (the stages that ran)."""
        parts = [s.seconds for s in self.stages if s.name in ("land", "build", "sync")]
        return sum(parts) if parts else None

    def identity_ratios(self) -> dict[str, float | None]:
        """The resolution's time over Splink's, both ways: over Splink's own seconds
        (``identity_to_splink``), and over its whole stage, which also reads the standardized records out
        of Postgres while the resolution reads them in place (``identity_to_splink_stage``)."""
        splink_stage = self.stage("splink")
        own = self.splink["seconds"] if self.splink else None
        identity = self.seconds_identity
        return {
            "identity_to_splink": _round(identity / own, 3) if identity and own else None,
            "identity_to_splink_stage": _round(identity / splink_stage.seconds, 3)
            if identity and splink_stage and splink_stage.seconds
            else None,
        }

    def as_dict(self) -> dict[str, Any]:
        acc, sp = self.accuracy, self.splink_accuracy
        splink_stage = self.stage("splink")
        incremental = self.stage("incremental")
        full = self.full_cycle_seconds()
        return {
            "persons": self.persons,
            "seed": self.seed,
            "records": self.records,
            "precision": _round(acc.precision if acc else None),
            "recall": _round(acc.recall if acc else None),
            "f1": _round(acc.f1 if acc else None),
            "bcubed_f1": _round(acc.bcubed_f1 if acc else None),
            "seconds_identity": _round(self.seconds_identity, 3),
            "splink_precision": _round(sp.precision if sp else None),
            "splink_recall": _round(sp.recall if sp else None),
            "splink_f1": _round(sp.f1 if sp else None),
            "splink_bcubed_f1": _round(sp.bcubed_f1 if sp else None),
            "splink_seconds": _round(self.splink["seconds"], 3) if self.splink else None,
            "splink_stage_seconds": _round(splink_stage.seconds, 3) if splink_stage else None,
            **self.identity_ratios(),
            "full_cycle_seconds": _round(full, 3),
            "incremental_seconds": _round(incremental.seconds, 3) if incremental else None,
            "incremental_share": _round(incremental.seconds / full if incremental and full else None),
            "stages": {s.name: s.as_dict() for s in self.stages},
            "accuracy": acc.as_dict() if acc else None,
            "splink": {
                **(self.splink or {}),
                "accuracy": sp.as_dict() if sp else None,
                "threshold_sweep": self.splink_sweep,
            }
            if self.splink
            else None,
            "coverage": self.coverage,
            "machine": self.machine,
            "command": self.command,
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """Per-stage table, accuracy side by side, the machine and the command."""
        lines = [
            f"persons {self.persons:,}, records {self.records:,}, seed {self.seed}",
            "",
            "| stage | seconds | records | records/s | python MB | postgres MB | simulators MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in self.stages:
            rate = s.records_per_second
            mem = [_mb(s.peak_mb(group)) for group in MEMORY_GROUPS]
            lines.append(
                f"| {s.name} | {s.seconds:,.1f} | {_int(s.records)} | {_int(rate)} | "
                + " | ".join(mem)
                + " |"
            )
        full, incremental = self.full_cycle_seconds(), self.stage("incremental")
        if full and incremental:
            lines.append("")
            lines.append(
                f"incremental cycle {incremental.seconds:,.1f} s = {incremental.seconds / full:.0%} "
                f"of the full cycle's {full:,.1f} s"
            )
        if self.accuracy or self.splink_accuracy:
            lines += [
                "",
                "| resolver | precision | recall | F1 | B-cubed F1 | seconds |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            if self.accuracy:
                lines.append(_accuracy_row("customer-sync (dbt)", self.accuracy, self.seconds_identity))
            if self.splink_accuracy and self.splink:
                label = f"Splink {self.splink.get('version', '')} (DuckDB, p >= {self.splink['threshold']})"
                lines.append(_accuracy_row(label, self.splink_accuracy, self.splink["seconds"]))
                ratios = self.identity_ratios()
                if ratios["identity_to_splink"]:
                    stage_ratio = ratios["identity_to_splink_stage"]
                    lines.append(
                        f"\nresolution time / Splink's: {ratios['identity_to_splink']:.2f}x its own seconds"
                        + (
                            f", {stage_ratio:.2f}x its stage with the read from Postgres"
                            if stage_ratio
                            else ""
                        )
                    )
        if self.coverage:
            lines += ["", "coverage: " + ", ".join(f"{k} {v:,}" for k, v in self.coverage.items())]
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.machine:
            m = self.machine
            lines += ["", f"machine: {m.get('nproc')} CPUs ({m.get('cpu_model')}), {m.get('ram_gb')} GB RAM"]
        lines.append(f"command: {self.command}")
        return "\n".join(lines)


def _accuracy_row(label: str, acc: Accuracy, seconds: float | None) -> str:
    secs = f"{seconds:,.1f}" if seconds is not None else "-"
    return (
        f"| {label} | {acc.precision:.4f} | {acc.recall:.4f} | {acc.f1:.4f} | {acc.bcubed_f1:.4f} | {secs} |"
    )


def _round(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


def _int(value: float | int | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value else "-"
