"""Measured noise statistics of generated data, and their human-readable form."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import TYPE_CHECKING, Any

from customer_sync.generate.noise import NOISE_KINDS

if TYPE_CHECKING:
    from customer_sync.generate.data import GeneratedData

HEAVY_CONTENT_KINDS = 3


def compute_noise_stats(data: GeneratedData) -> dict[str, Any]:
    """Shares of records per noise kind, duplicate pairs, and record counts, measured on ``data``."""
    total = len(data.truth)
    kind_counts: Counter[str] = Counter()
    any_noise = content_noise = heavy = 0
    for kinds in data.noise.values():
        kind_counts.update(kinds)
        content = [k for k in kinds if NOISE_KINDS[k][0] == "content"]
        any_noise += bool(kinds)
        content_noise += bool(content)
        heavy += len(content) >= HEAVY_CONTENT_KINDS

    records: Counter[str] = Counter()
    members: dict[str, list[str]] = defaultdict(list)
    for row in data.truth:
        table = f"{row['source_system']}.{row['source_table']}"
        records[table] += 1
        members[row["entity_id"]].append(row["source_system"])
    within: Counter[str] = Counter()
    across: Counter[str] = Counter()
    for systems in members.values():
        for a, b in combinations(sorted(systems), 2):
            if a == b:
                within[a] += 1
            else:
                across[f"{a}-{b}"] += 1
    persons_per_systems = Counter(len(set(s)) for e, s in members.items() if e.startswith("P"))
    people_in: Counter[str] = Counter()
    for entity, systems in members.items():
        if entity.startswith("P"):
            people_in.update(set(systems))
    persons = sum(1 for e in members if e.startswith("P"))
    return {
        "seed": data.seed,
        "persons": persons,
        "companies": sum(1 for e in members if e.startswith("C")),
        "households": len({p.household_id for p in data.people if p.household_id}),
        "moved_persons": sum(1 for p in data.people if p.moved_at),
        "records": total,
        "records_per_table": dict(sorted(records.items())),
        "person_share_per_system": {s: round(n / persons, 4) for s, n in sorted(people_in.items())},
        "persons_by_number_of_systems": dict(sorted(persons_per_systems.items())),
        "share_noisy": round(any_noise / total, 4) if total else 0.0,
        "share_content_noisy": round(content_noise / total, 4) if total else 0.0,
        "share_heavily_noisy": round(heavy / total, 4) if total else 0.0,
        "noise_share": {kind: round(kind_counts[kind] / total, 4) if total else 0.0 for kind in NOISE_KINDS},
        "true_pairs_within_system": dict(sorted(within.items())),
        "true_pairs_across_systems": dict(sorted(across.items())),
        "true_pairs_total": sum(within.values()) + sum(across.values()),
    }


def format_noise_stats(stats: dict[str, Any]) -> str:
    """The statistics as a short report for people."""
    lines = [
        f"generated {stats['records']:,} records: {stats['persons']:,} persons, "
        f"{stats['companies']:,} companies, {stats['households']:,} households, "
        f"{stats['moved_persons']:,} moved (seed {stats['seed']})",
        "records per table: " + ", ".join(f"{t} {n:,}" for t, n in stats["records_per_table"].items()),
        "persons per system: "
        + ", ".join(f"{s} {v:.0%}" for s, v in stats["person_share_per_system"].items()),
        "persons by number of systems: "
        + ", ".join(f"{k}: {v:,}" for k, v in stats["persons_by_number_of_systems"].items()),
        f"noisy records: {stats['share_noisy']:.1%} (content noise {stats['share_content_noisy']:.1%}, "
        f"heavy {stats['share_heavily_noisy']:.1%})",
        "noise by kind:",
    ]
    for kind, share in stats["noise_share"].items():
        lines.append(f"  {kind:<24} {share:6.2%}  {NOISE_KINDS[kind][1]}")
    lines.append(
        f"true duplicate pairs: {stats['true_pairs_total']:,}; within systems: "
        + ", ".join(f"{s} {n:,}" for s, n in stats["true_pairs_within_system"].items())
    )
    lines.append(
        "across systems: " + ", ".join(f"{s} {n:,}" for s, n in stats["true_pairs_across_systems"].items())
    )
    return "\n".join(lines)
