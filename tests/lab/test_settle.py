"""--settle-timeout is one deadline for the run, counted from the snapshot: a state that converges
within it passes, one that does not fails once the deadline is spent, and however many tests find
not-yet-ready states, the run waits for them once (not once per test: a node drain leaving pods
unready in a hundred tenants must not cost a hundred times the timeout)."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab import faults
from lab.suite_runner import REPO, run_suite, suite_command

pytestmark = pytest.mark.lab

FAULT = "ztunnel-daemonset-degraded"   # four failing tests, every finding a settling one (a rollout)
SETTLE = 8.0


def test_settling_failures_share_one_deadline(lab, twin, tmp_path):
    faults.apply(FAULT, lab.kubeconfig)
    run = run_suite(lab.kubeconfig, tmp_path, "-m", "not mtls", "--settle-timeout", f"{SETTLE:g}")
    failed = run.with_outcome("failed")
    assert run.exit_code == 1 and len(failed) >= 3, run.output[-3000:]
    waited = {t: run.seconds[t] for t in sorted(failed)}
    # The settling tests spend the run's one deadline between them (the backoff may leave part of
    # it to the next one), then re-read once each: together about SETTLE, not len(failed) x SETTLE.
    assert sum(waited.values()) >= SETTLE / 2, f"the run did not wait for convergence: {waited}"
    assert sum(waited.values()) <= SETTLE + 4, f"each failing test waited on its own budget: {waited}"


def test_a_state_that_converges_within_the_deadline_passes(lab, twin, tmp_path):
    faults.apply(FAULT, lab.kubeconfig)
    junit = tmp_path / "junit.xml"
    proc = subprocess.Popen(suite_command(lab.kubeconfig, "-m", "not mtls", "--settle-timeout", "40", junit=junit),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4)  # the run has taken its snapshot (the fault is in it) and waits on the first finding
        assert proc.poll() is None, f"the run ended before the fault healed:\n{proc.communicate()[0][-3000:]}"
        faults.reset(lab.kubeconfig)  # the rollout completes
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"the healed state should pass within --settle-timeout:\n{output[-3000:]}"
