"""The short per-area table printed at the end of every run."""

from __future__ import annotations

from collections import defaultdict

AREAS = ("operator", "crds", "control_plane", "data_plane", "tenants", "waypoints", "istio_system", "mtls", "preupgrade")
OUTCOMES = ("passed", "failed", "error", "skipped")


def area_of(report) -> str:
    keywords = getattr(report, "keywords", {}) or {}
    return next((a for a in AREAS if a in keywords), "other")


def area_summary(stats: dict) -> list[str]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    seen = set()
    for outcome in OUTCOMES:
        for report in stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") and outcome != "error":
                continue
            key = (report.nodeid, outcome)
            if key in seen:
                continue
            seen.add(key)
            counts[area_of(report)][outcome] += 1
    lines = []
    for area in (*AREAS, "other"):
        if area in counts:
            c = counts[area]
            verdict = "NON-CONFORMANT" if c["failed"] else ("COULD NOT CHECK" if c["error"] else "ok")
            lines.append(f"{area:<14} {c['passed']:>4} passed {c['failed']:>4} failed {c['error']:>4} error {c['skipped']:>4} skipped   {verdict}")
    return lines
