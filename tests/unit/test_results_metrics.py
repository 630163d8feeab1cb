"""--metrics-push (reporting/metrics.py): the series a run pushes, and a push that fails is one
line, never an exception. The push to Debian's real Pushgateway, scraped by the lab's
Prometheus, is tests/lab/test_morning_report.py."""

from __future__ import annotations

import socket

from prometheus_client import generate_latest

from ossm_conformance.reporting import metrics
from ossm_conformance.reporting.summary import Result

FAILING = "tests_conformance/test_istio_system.py::test_istiod_xds_not_blocked"


def _samples(registry) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples}


def test_series_per_area_outcome_failing_test_and_run():
    results = {FAILING: Result("failed", "istio_system", "x", 0, 1),
               "tests_conformance/test_crds.py::test_sail_crd_serves_v1[istios.sailoperator.io]": Result("passed", "crds", "", 0, 1)}
    samples = _samples(metrics.registry_for("spoke-dc-v6", results, 1, 12.5, 1_800_000_000))
    assert samples[("ossm_conformance_tests", (("area", "istio_system"), ("outcome", "failed")))] == 1
    assert samples[("ossm_conformance_tests", (("area", "crds"), ("outcome", "passed")))] == 1
    assert samples[("ossm_conformance_tests", (("area", "tenants"), ("outcome", "failed")))] == 0  # every pair, 0 too
    assert samples[("ossm_conformance_test_failing", (("area", "istio_system"), ("outcome", "failed"), ("test_id", FAILING)))] == 1
    assert [k for k in samples if k[0] == "ossm_conformance_test_failing"] == [
        ("ossm_conformance_test_failing", (("area", "istio_system"), ("outcome", "failed"), ("test_id", FAILING)))]
    assert samples[("ossm_conformance_exit_status", ())] == 1
    assert samples[("ossm_conformance_run_duration_seconds", ())] == 12.5
    assert samples[("ossm_conformance_last_run_timestamp_seconds", ())] == 1_800_000_000


def test_exposition_follows_prometheus_naming():
    text = generate_latest(metrics.registry_for("c", {}, 0, 1.0, 2.0)).decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert names == {"ossm_conformance_tests", "ossm_conformance_test_failing", "ossm_conformance_exit_status",
                     "ossm_conformance_run_duration_seconds", "ossm_conformance_last_run_timestamp_seconds"}
    assert all(n.startswith("ossm_conformance_") and n == n.lower() for n in names)


def test_a_push_nobody_answers_is_one_line_and_no_exception():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = metrics.push(f"http://127.0.0.1:{port}", "spoke-dc-v6", metrics.registry_for("c", {}, 0, 1.0, 2.0))
    assert line is not None and "\n" not in line
    assert line.startswith(f"ossm-conformance: metrics push to http://127.0.0.1:{port} failed") and "exit status is unchanged" in line
