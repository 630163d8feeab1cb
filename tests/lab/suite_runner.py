"""Run the conformance suite against a lab the way a user does (a pytest subprocess) and read
its verdicts back from the JUnit report: exit code, outcome per test id, and the output; and
whether bad input ended it with one clear line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_PYTEST_ECHO = re.compile(r"^(! _pytest\.outcomes\.Exit: |Exit: )|( !)$")


@dataclass
class SuiteRun:
    exit_code: int
    outcomes: dict[str, str] = field(default_factory=dict)   # "test_tenants.py::test_x[ns]" -> passed|failed|error|skipped
    messages: dict[str, str] = field(default_factory=dict)   # test id -> failure/error text
    seconds: dict[str, float] = field(default_factory=dict)  # test id -> JUnit time (setup + call + teardown)
    output: str = ""

    def with_outcome(self, outcome: str) -> set[str]:
        return {t for t, o in self.outcomes.items() if o == outcome}


def suite_command(kubeconfig: Path | None, junit: Path, *args: str) -> list[str]:
    """The suite's command line as a user types it (also for callers that need a Popen).
    kubeconfig None: no --kubeconfig, so KUBECONFIG (or ~/.kube/config) decides, as for kubectl."""
    where = ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []
    return [sys.executable, "-m", "pytest", "tests_conformance", *where,
            "-p", "no:cacheprovider", "--junitxml", str(junit), "-q", *args]


def run_suite(kubeconfig: Path | None, tmp: Path, *args: str, timeout: float = 600, env: dict | None = None) -> SuiteRun:
    junit = tmp / f"junit-{len(list(tmp.glob('junit-*.xml')))}.xml"
    proc = subprocess.run(suite_command(kubeconfig, junit, *args), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    run = SuiteRun(proc.returncode, output=proc.stdout + proc.stderr)
    if junit.exists():
        _read_junit(junit, run)
    return run


def _read_junit(path: Path, run: SuiteRun) -> None:
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        test_id = f"{module}.py::{case.get('name')}"
        outcome, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                text = (node.get("message") or "") + "\n" + (node.text or "")
                break
        # A test can fail in call and error in teardown: the worst outcome stands.
        if run.outcomes.get(test_id) in ("failed", "error") and outcome == "passed":
            continue
        run.outcomes[test_id] = outcome
        run.messages[test_id] = text
        run.seconds[test_id] = run.seconds.get(test_id, 0.0) + float(case.get("time") or 0)


def assert_one_clear_line(run: SuiteRun, code: int, *fragments: str) -> str:
    assert run.exit_code == code, f"expected exit {code}, got {run.exit_code}\n{run.output[-3000:]}"
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output[-3000:]
    # Every exit of ours happens while pytest configures, so the line is printed once; an exit after
    # that would also be echoed by pytest's reporter as "! _pytest.outcomes.Exit: <line> !" (counted once).
    lines = sorted({_PYTEST_ECHO.sub("", line) for line in run.output.splitlines()
                    if "ossm-conformance: " in line and "API " not in line})
    assert len(lines) == 1, f"expected one 'ossm-conformance: ...' line, got {lines}\n{run.output[-3000:]}"
    for fragment in fragments:
        assert re.search(fragment, lines[0]), f"{fragment!r} not in {lines[0]!r}"
    return lines[0]
