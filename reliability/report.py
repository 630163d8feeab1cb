"""docs/reliability.md: the figures of the last `make reliability`, one row per fault kind, then
one row per run, so a reader sees both the verdict and how much each fault really bit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

from .fault import Fault
from .matrix import LAB_FAULTS, REQUEST_TIMEOUT, SETTLE_TIMEOUT, Cell

COMMAND = "make reliability"


def render(kinds: list[Fault], cells: list[Cell], elapsed: float) -> str:
    by_kind: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        by_kind[cell.kind].append(cell)
    changes = sum(len(c.changes) for c in cells)
    lines = [
        "# Reliability: verdicts under real API faults",
        "",
        f"Written by `{COMMAND}` (reliability/) on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"in {elapsed / 60:.1f} min. Do not edit by hand.",
        "",
        "Each fault kind runs the suite on the lab's healthy twin and under the lab faults "
        f"{', '.join(f'`{f}`' for f in LAB_FAULTS if f)}, and compares every test's outcome and the exit "
        "code with the fault-free run of the same lab state. The suite runs as a plain client-certificate "
        "user bound to cluster-admin (system:masters is exempt from API Priority and Fairness), with "
        f"`--mtls-source both --mtls-window 3 --settle-timeout {SETTLE_TIMEOUT:g} --request-timeout {REQUEST_TIMEOUT:g}`. "
        f"A run passes with 0 verdict changes, at most 2 × the fault-free time + {SETTLE_TIMEOUT:g} s, and no probe pod left.",
        "",
        f"**Result: {changes} verdict changes in {len(cells)} faulted runs"
        f"{'' if all(c.ok for c in cells) else ' — FAILED (see the runs below)'}.**",
        "",
        "| fault | rate or duration | injected (all runs) | runs | verdict changes | worst slowdown | probe pods left |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        runs = by_kind.get(kind.kind, [])
        if not runs:
            continue
        worst = max(runs, key=lambda c: c.faulted.seconds / c.baseline.seconds)
        lines.append(
            f"| {kind.kind} | {kind.setting} | {kind.observed()} | {len(runs)} | {sum(len(c.changes) for c in runs)} | "
            f"×{worst.faulted.seconds / worst.baseline.seconds:.2f} ({worst.faulted.seconds:.1f} s of ≤ {worst.limit:.1f} s) | "
            f"{sum(len(c.leftover_pods) for c in runs)} |")
    lines += ["", "## Every run", "",
              "| fault | lab state | fault-free | faulted | limit | exit | verdict changes |",
              "|---|---|---|---|---|---|---|"]
    for c in cells:
        detail = "; ".join(c.changes[:3]) + (" …" if len(c.changes) > 3 else "") if c.changes else "0"
        lines.append(f"| {c.kind} | {c.lab_fault or 'healthy'} | {c.baseline.seconds:.1f} s | {c.faulted.seconds:.1f} s"
                     f"{' **too slow**' if c.too_slow else ''} | {c.limit:.1f} s | {c.baseline.run.exit_code} → "
                     f"{c.faulted.run.exit_code} | {detail} |")
    return "\n".join(lines) + "\n"


def write(path: Path, kinds: list[Fault], cells: list[Cell], elapsed: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(kinds, cells, elapsed))
