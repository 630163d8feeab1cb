"""The run's results per test id, and the short per-area table printed at the end of every run."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

AREAS = ("operator", "crds", "control_plane", "data_plane", "tenants", "waypoints", "istio_system", "prerequisites", "mtls", "preupgrade")
OUTCOMES = ("passed", "failed", "error", "skipped")
# A test that failed its check and then errored in teardown is non-conformant first.
_PRECEDENCE = {"failed": 3, "error": 2, "skipped": 1, "passed": 0}


@dataclass
class Result:
    outcome: str        # passed | failed | error | skipped
    area: str
    message: str        # the failure's text, "" when passed
    start: float        # epoch seconds, setup start
    stop: float         # epoch seconds, teardown end
    examined: str | None = None   # digest of what the check examined (history.py), if it said


def area_of(report) -> str:
    keywords = getattr(report, "keywords", {}) or {}
    return next((a for a in AREAS if a in keywords), "other")


def results_by_test_id(stats: dict) -> dict[str, Result]:
    """One result per test id from the terminal reporter's stats: the worst outcome of its phases."""
    results: dict[str, Result] = {}
    for outcome in OUTCOMES:
        for report in stats.get(outcome, []):
            if not hasattr(report, "nodeid") or not report.nodeid:
                continue  # collection errors are not tests
            start, stop = getattr(report, "start", 0.0), getattr(report, "stop", 0.0)
            known = results.get(report.nodeid)
            examined = dict(getattr(report, "user_properties", ()) or ()).get("examined_state")
            if known is None:
                known = results[report.nodeid] = Result(outcome, area_of(report), "", start, stop)
            elif _PRECEDENCE[outcome] > _PRECEDENCE[known.outcome]:
                known.outcome = outcome
            known.start, known.stop = min(known.start or start, start), max(known.stop, stop)
            known.examined = known.examined or examined
            if outcome != "passed" and not known.message:
                known.message = _message(report)
    return results


def _message(report) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None:
        return crash.message
    return str(getattr(report, "longrepr", "") or "")


def area_counts(results: dict[str, Result]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for result in results.values():
        counts[result.area][result.outcome] += 1
    return {area: counts[area] for area in (*AREAS, "other") if area in counts}


def area_summary(stats: dict) -> list[str]:
    lines = []
    for area, c in area_counts(results_by_test_id(stats)).items():
        verdict = "NON-CONFORMANT" if c["failed"] else ("COULD NOT CHECK" if c["error"] else "ok")
        lines.append(f"{area:<14} {c['passed']:>4} passed {c['failed']:>4} failed {c['error']:>4} error {c['skipped']:>4} skipped   {verdict}")
    return lines
