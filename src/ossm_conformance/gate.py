"""The pre-upgrade gate's verdict: go only when every rule holds and the conformance set is healthy.

The rules (checks/upgrade.py) are evaluated here on the run's snapshot, so the verdict does not
depend on how pytest distributed the gate's own tests; the conformance set's health is read from
the outcomes of every other test of the run. The verdict goes to --gate-report as JSON, to the
terminal summary, and to the exit code (exitcodes.GATE_NO_GO).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import exitcodes
from .checks.upgrade import GATE_RULES, TARGETED_RULES, arrival_note, pending_operator_note, strategy_note, target_is_a_newer_patch_of_the_running_minor
from .facts import running_istio_version
from .findings import CouldNotCheck, Finding
from .profile import Profile

GATE_MARKER = "preupgrade"
VERDICT = pytest.StashKey["Verdict"]()
# Outcomes that mean the run itself broke: the verdict is no-go but the exit code keeps saying why.
_RUN_BROKEN = (exitcodes.INTERRUPTED, exitcodes.INTERNAL_ERROR, exitcodes.BAD_INVOCATION)


@dataclass
class Verdict:
    target: str
    running: str | None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "no-go" if self.reasons else "go"

    def as_json(self) -> dict:
        return {"verdict": self.verdict, "target": self.target, "running": self.running,
                "reasons": self.reasons, "notes": self.notes}


@dataclass(frozen=True)
class ConformanceOutcome:
    """What the rest of the run said about the cluster (the gate's own tests excluded)."""
    passed: int = 0
    failed: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()   # conformance tests or files the run's selection (-m, -k, paths) left out


def conformance_outcome(stats: dict, left_out: tuple[str, ...] = ()) -> ConformanceOutcome:
    """Read the terminal reporter's stats: test ids that failed or could not check, and how many passed."""
    def ids(key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.nodeid or "collection" for r in stats.get(key, []) if not _is_gate_test(r)))
    passed = {r.nodeid for r in stats.get("passed", []) if getattr(r, "when", "call") == "call" and not _is_gate_test(r)}
    return ConformanceOutcome(len(passed), ids("failed"), ids("error"), left_out)


def left_out_of_the_set(session: pytest.Session, deselected: list) -> tuple[str, ...]:
    """What the user's selection kept from running: deselected conformance tests (-m "not mtls",
    -k ...), except those the plugin itself drops because the profile gives them nothing to check,
    and conformance files not collected at all (a run on some files only). A go verdict vouches for
    the whole set, so any of these makes it no-go."""
    gate_items = [i for i in session.items if GATE_MARKER in i.keywords]
    if not gate_items:
        return ()
    suite_dir = Path(gate_items[0].path).parent
    dropped = [i for i in deselected if GATE_MARKER not in i.keywords and not empty_parameter_set(i)]
    seen = {Path(i.path) for i in list(session.items) + list(deselected)}
    missing_files = [f"{f.name} (not collected)" for f in sorted(suite_dir.glob("test_*.py")) if f not in seen]
    return tuple(i.nodeid for i in dropped) + tuple(missing_files)


def empty_parameter_set(item) -> bool:
    """A test whose profile list is empty (e.g. no sidecar tenant): nothing to check, so deselected."""
    skip = item.get_closest_marker("skip")
    return bool(skip and str(skip.kwargs.get("reason", "")).startswith("got empty parameter set"))


def _is_gate_test(report) -> bool:
    return GATE_MARKER in (getattr(report, "keywords", None) or {})


# -- the verdict (pure) -------------------------------------------------------------------------

def reason_of(finding: Finding) -> str:
    return f"{finding.object}: expected {finding.expected}; actual {finding.actual}. Fix: {finding.fix}"


def _rule_args(rule, profile: Profile, target: str) -> tuple:
    return (profile, target) if rule in TARGETED_RULES else (profile,)


def decide(view, profile: Profile, target: str, outcome: ConformanceOutcome) -> Verdict:
    verdict = Verdict(target, running_istio_version(view, profile))
    for rule in GATE_RULES:
        problems = view.errors(rule.reads)  # a rule whose reads failed cannot be judged: never a silent pass
        try:
            findings = [] if problems else rule(view, *_rule_args(rule, profile, target))
        except CouldNotCheck as exc:
            problems = [str(exc)]
        verdict.reasons += [f"could not check {rule.__name__}: {p}" for p in problems]
        verdict.reasons += [reason_of(f) for f in findings]
    verdict.reasons += [f"conformance test failed: {i}" for i in outcome.failed]
    verdict.reasons += [f"conformance test could not check (error): {i}" for i in outcome.errors]
    if outcome.left_out:
        verdict.reasons.append(f"the run left out {len(outcome.left_out)} of the conformance set (e.g. "
                               f"{', '.join(outcome.left_out[:3])}): a go vouches for the whole set, live mTLS "
                               "included; run make preupgrade TARGET=... without -m, -k or file selection")
    if not (outcome.passed or outcome.failed or outcome.errors):
        verdict.reasons.append("the conformance set did not run in this session: run the gate together with it "
                               "(make preupgrade TARGET=... runs tests_conformance with --target-version)")
    verdict.notes = [_note(arrival_note, view, profile, target), _note(strategy_note, view, profile),
                     f"conformance set: {outcome.passed} passed, {len(outcome.failed)} failed, {len(outcome.errors)} error"
                     + (f", {len(outcome.left_out)} left out by the run's selection (not judged)" if outcome.left_out else ""),
                     _note(pending_operator_note, view, profile)]
    return verdict


def _note(note, view, *args) -> str:
    try:
        return note(view, *args)
    except CouldNotCheck as exc:
        return f"{note.__name__}: could not tell ({exc})"


def malformed(target: str) -> Verdict:
    """The version rule alone: it refuses a malformed target before reading anything."""
    return Verdict(target, None, [reason_of(f) for f in target_is_a_newer_patch_of_the_running_minor(None, None, target)])


def not_checked(target: str, exitstatus: int) -> Verdict:
    meaning = exitcodes.DESCRIPTIONS.get(int(exitstatus), "see README")
    return Verdict(target, None, [f"the run stopped before the cluster was checked (exit {int(exitstatus)}: {meaning})"])


# -- wiring (called by plugin/gate.py on the controller) ----------------------------------------

def write(path: str | Path, verdict: Verdict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(verdict.as_json(), indent=2) + "\n")


def refuse_malformed(config: pytest.Config) -> None:
    """A malformed --target-version is a no-go too: CI must never read a previous run's gate.json."""
    write(config.option.ossm_gate_report, malformed(config.option.ossm_target_version))


def finish(session: pytest.Session, snapshot, profile: Profile) -> None:
    """Decide, write the report, and make the exit code say no-go (unless the run itself broke)."""
    config = session.config
    target = config.option.ossm_target_version
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if snapshot is None or reporter is None:
        verdict = not_checked(target, session.exitstatus)
    else:
        left_out = left_out_of_the_set(session, reporter.stats.get("deselected", []))
        verdict = decide(snapshot, profile, target, conformance_outcome(reporter.stats, left_out))
    config.stash[VERDICT] = verdict
    write(config.option.ossm_gate_report, verdict)
    if verdict.reasons and snapshot is not None and int(session.exitstatus) not in _RUN_BROKEN:
        session.exitstatus = exitcodes.GATE_NO_GO


def write_summary(reporter, config: pytest.Config) -> None:
    """The verdict, its reasons and notes, in the terminal summary of the run."""
    verdict = config.stash.get(VERDICT, None)
    if verdict is None:
        return
    reporter.write_sep("=", f"pre-upgrade gate: {verdict.verdict.upper()}  target {verdict.target}  "
                            f"running {verdict.running or 'unknown'}")
    for line in [f"reason: {r}" for r in verdict.reasons] + [f"note:   {n}" for n in verdict.notes]:
        reporter.write_line(line)
    reporter.write_line(f"written to {config.option.ossm_gate_report}")
