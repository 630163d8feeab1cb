"""A run interrupted while its probe pods run leaves no debris: SIGINT and SIGTERM unwind through
the probe's cleanup; SIGKILL cannot, so the pods it leaves carry activeDeadlineSeconds, and a later
run removes them once that deadline has passed. Before it, they could be a concurrent run's: two
runs sharing the probe namespace (the nightly job and an SRE's gate) both finish with their verdict."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime

import pytest
import tenacity

from ossm_conformance import exitcodes
from ossm_conformance.mtls import pod_spec
from lab.suite_runner import REPO, run_suite, suite_command
from lab.wait import polling

pytestmark = pytest.mark.lab
# A long window keeps the probe pods running while the test signals the run.
LONG_PROBE = ["-m", "mtls", "--mtls-source", "probe", "--mtls-window", "30", "--settle-timeout", "0"]
# A short deadline (window + timeout + DEADLINE_MARGIN = 40 s) keeps the wait for expiry short.
SHORT_PROBE = ["-m", "mtls", "--mtls-source", "probe", "--mtls-window", "5", "--probe-timeout", "5", "--settle-timeout", "0"]
QUICK_PROBE = ["-m", "mtls", "--mtls-source", "probe", "--mtls-window", "3", "--settle-timeout", "0"]
# A signalled run must have cleaned up by then (it deletes with grace 0).
EXIT_WAIT = 60


def probe_pods(api) -> list[dict]:
    return api.get("/api/v1/pods", labelSelector=pod_spec.selector()).get("items") or []


def start_run_and_wait_for_probes(lab, api, tmp_path, args=LONG_PROBE) -> tuple[subprocess.Popen, list[dict]]:
    proc = subprocess.Popen(suite_command(lab.kubeconfig, *args, junit=tmp_path / "junit-background.xml"), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for attempt in polling(90, every=0.3, retry=tenacity.retry_if_exception_type(AssertionError)):
            with attempt:
                assert proc.poll() is None, f"the run ended ({proc.returncode}) before its probe pods appeared"
                pods = probe_pods(api)
                assert pods, "no probe pod yet"
    except BaseException:
        proc.kill()
        proc.wait(timeout=EXIT_WAIT)
        raise
    return proc, pods


@pytest.fixture
def no_probe_pods_before(api):
    """Every test starts and ends without the suite's pods (a failed test must not poison the next)."""
    for pod in probe_pods(api):
        api.delete(f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}")
    yield
    for pod in probe_pods(api):
        api.delete(f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupt_while_probing_leaves_no_pod(lab, api, tmp_path, no_probe_pods_before, sig):
    proc, _ = start_run_and_wait_for_probes(lab, api, tmp_path)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=EXIT_WAIT)
    # SIGINT is pytest's KeyboardInterrupt: exit INTERRUPTED; SIGTERM may also end the run by the signal.
    codes = (exitcodes.INTERRUPTED,) if sig == signal.SIGINT else (exitcodes.INTERRUPTED, -sig)
    assert proc.returncode in codes, f"exit {proc.returncode}\n{output[-3000:]}"
    assert "Traceback" not in output or "KeyboardInterrupt" in output
    assert probe_pods(api) == [], "probe pods survived the interrupted run"


def assert_passed(run) -> None:
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-4000:]
    assert run.outcomes and set(run.outcomes.values()) == {"passed"}, run.outcomes


def expiry(pods: list[dict]) -> float:
    """When the last of these pods passes its deadline (the lab's API server shares our clock)."""
    return max(datetime.fromisoformat(p["metadata"]["creationTimestamp"].replace("Z", "+00:00")).timestamp()
               + p["spec"]["activeDeadlineSeconds"] for p in pods)


def test_sigkill_leaves_pods_that_carry_a_deadline_and_a_later_run_removes_them(lab, api, tmp_path, no_probe_pods_before):
    proc, _ = start_run_and_wait_for_probes(lab, api, tmp_path, SHORT_PROBE)
    proc.kill()
    proc.communicate(timeout=EXIT_WAIT)
    left = {p["metadata"]["name"]: p for p in probe_pods(api)}
    assert left, "SIGKILL cannot clean up: the killed run's pods should still be there"
    assert all((p["spec"].get("activeDeadlineSeconds") or 0) > 0 for p in left.values()), \
        "a probe pod nobody removes must be reaped by its activeDeadlineSeconds"

    # Within their deadline they may be a concurrent run's: the next run leaves them alone.
    assert_passed(run_suite(lab.kubeconfig, tmp_path, *QUICK_PROBE))
    assert set(left) <= {p["metadata"]["name"] for p in probe_pods(api)}, "a run removed pods still inside their deadline"

    # Past it, they are debris: the next run removes them before it probes.
    time.sleep(max(0.0, expiry(list(left.values())) - time.time()) + 1)
    assert_passed(run_suite(lab.kubeconfig, tmp_path, *QUICK_PROBE))
    assert probe_pods(api) == [], f"left after the next run: {[p['metadata']['name'] for p in probe_pods(api)]}"


def test_two_runs_sharing_the_probe_namespace_both_finish(lab, api, tmp_path, no_probe_pods_before):
    """The nightly job and an SRE's gate may overlap on one cluster: neither removes the other's probes."""
    first, _ = start_run_and_wait_for_probes(lab, api, tmp_path, ["-m", "mtls", "--mtls-source", "probe",
                                                                  "--mtls-window", "12", "--settle-timeout", "0"])
    try:
        assert_passed(run_suite(lab.kubeconfig, tmp_path, *QUICK_PROBE))
        output, _ = first.communicate(timeout=EXIT_WAIT)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=EXIT_WAIT)
    assert first.returncode == exitcodes.CONFORMANT, output[-4000:]
    assert probe_pods(api) == [], "each run removes its own probe pods"
