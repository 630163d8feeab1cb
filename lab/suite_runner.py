"""The one way anything here runs the conformance suite: a pytest subprocess, as a user types it.

Used by the lab self-tests (tests/lab), bench, reliability and `make demo`:
    python -m lab.suite_runner [pytest options]    # the suite against the lab in $OSSM_LAB_DIR
`run_suite` reads the verdicts back from the JUnit report: exit code, outcome per test id, and the
output; `assert_one_clear_line` whether bad input ended it with one clear line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .paths import REPO, LabPaths

SUITE_DIR = "tests_conformance"
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


def suite_command(kubeconfig: Path | None, *args: str, junit: Path | None = None, quiet: bool = True) -> list[str]:
    """The suite's command line as a user types it (also for callers that need a Popen), run from
    the repository's root. kubeconfig None: no --kubeconfig, so KUBECONFIG (or ~/.kube/config)
    decides, as for kubectl."""
    where = ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []
    report = ["--junitxml", str(junit)] if junit is not None else []
    return [sys.executable, "-m", "pytest", SUITE_DIR, *where, "-p", "no:cacheprovider", *report,
            *(["-q"] if quiet else []), *args]


def lab_options(prometheus_url: str) -> list[str]:
    """What the suite needs to judge the lab's mTLS from both sources: the probe, and the lab's
    Prometheus (LAB_PROMETHEUS_URL in the lab's env file). The window and settle time are the caller's."""
    return ["--mtls-source", "both", "--prometheus-url", prometheus_url]


def run_suite(kubeconfig: Path | None, tmp: Path, *args: str, timeout: float = 600, env: dict | None = None) -> SuiteRun:
    junit = tmp / f"junit-{len(list(tmp.glob('junit-*.xml')))}.xml"
    proc = subprocess.run(suite_command(kubeconfig, *args, junit=junit), cwd=REPO, capture_output=True, text=True,
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


def main(argv: list[str]) -> None:
    """`make demo`: the suite against the lab in $OSSM_LAB_DIR, in this process (its exit status is
    the suite's), with the pytest options given."""
    from .control_plane import read_env

    paths = LabPaths()
    command = suite_command(paths.kubeconfig, *lab_options(read_env(paths)["LAB_PROMETHEUS_URL"]), *argv, quiet=False)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
