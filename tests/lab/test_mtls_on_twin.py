"""The mTLS evidence end to end on the twin: the suite as a subprocess, probe pods really run by
the lab's node agent, Prometheus really scraping the lab's ztunnel endpoints.

Healthy twin: every edge passes through both sources. Under plaintext-traffic,
ztunnel-rbac-missing and namespace-unlabelled: exit 1, the edge named, the observed policy shown,
and the two sources agree edge by edge. After every run, including one interrupted by SIGINT
while the probe runs, no pod with the probe label is left (checked through the API).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import tenacity

from lab import faults
from tests.lab.suite_runner import REPO, run_suite

pytestmark = pytest.mark.lab

PROBE_SELECTOR = "app.kubernetes.io/managed-by=ossm-conformance"
PILOT_EDGE = "bank-employees-jboss-chat:bff->chat-backend"


def _mtls_args(lab, *extra: str) -> list[str]:
    return ["-m", "mtls", "--mtls-source", "both", "--prometheus-url", lab.env["LAB_PROMETHEUS_URL"],
            "--mtls-window", "3", "--settle-timeout", "2", *extra]


def _probe_pods(api) -> list[str]:
    return [p["metadata"]["name"] for p in
            api.get("/api/v1/pods", labelSelector=PROBE_SELECTOR).get("items") or []]


def _by_edge(run) -> dict[str, dict[str, str]]:
    """{edge id: {source: outcome}} from ids like test_edge_traffic_is_mutual_tls[probe-<edge>]."""
    edges: dict[str, dict[str, str]] = {}
    for test_id, outcome in run.outcomes.items():
        if "test_edge_traffic_is_mutual_tls[" in test_id:
            source, edge = test_id.split("[", 1)[1].rstrip("]").split("-", 1)
            edges.setdefault(edge, {})[source] = outcome
    return edges


def test_healthy_twin_passes_through_both_sources(lab, api, tmp_path):
    run = run_suite(lab.kubeconfig, tmp_path, *_mtls_args(lab))
    assert run.exit_code == 0, run.output[-4000:]
    edges = _by_edge(run)
    assert len(edges) == 4 and all(o == {"probe": "passed", "prometheus": "passed"} for o in edges.values()), edges
    assert _probe_pods(api) == []


# What the destination's ztunnel shows: plaintext counted, or (namespace unlabelled, so istio-cni no
# longer redirects either end) nothing at all while the mutual_tls series stays flat.
OBSERVED = {
    "plaintext-traffic": re.compile(r"grew: policy unknown, reporter \w+, source_principal unknown: \+[1-9]"),
    "ztunnel-rbac-missing": re.compile(r"grew: policy unknown, reporter \w+, source_principal unknown: \+[1-9]"),
    "namespace-unlabelled": re.compile(r"grew: nothing, on any ztunnel; flat: policy mutual_tls"),
}


@pytest.mark.parametrize("fault", list(OBSERVED))
def test_fault_fails_naming_the_edge_and_the_policy(lab, api, twin, tmp_path, fault):
    faults.apply(fault, lab.kubeconfig)
    run = run_suite(lab.kubeconfig, tmp_path, *_mtls_args(lab))
    assert run.exit_code == 1, run.output[-4000:]
    edges = _by_edge(run)
    assert edges[PILOT_EDGE] == {"probe": "failed", "prometheus": "failed"}, edges
    assert all(o["probe"] == o["prometheus"] for o in edges.values()), f"sources disagree: {edges}"
    message = run.messages[f"test_mtls.py::test_edge_traffic_is_mutual_tls[probe-{PILOT_EDGE}]"]
    assert PILOT_EDGE in message and "ztunnel ztunnel-" in message and OBSERVED[fault].search(message), message
    assert "CNI plugin not active on the node; or namespace not labelled" in message
    assert _probe_pods(api) == []


def test_unreachable_prometheus_is_one_line_and_exit_12(lab, tmp_path):
    run = run_suite(lab.kubeconfig, tmp_path, "-m", "mtls", "--mtls-source", "prometheus",
                    "--prometheus-url", "http://127.0.0.1:9")
    assert run.exit_code == 12, run.output[-2000:]
    assert "could not query --prometheus-url http://127.0.0.1:9" in run.output
    assert "test_edge_traffic_is_mutual_tls" not in run.output  # no per-edge errors


def test_sigint_while_the_probe_runs_leaves_no_pod(lab, api, tmp_path):
    cmd = [sys.executable, "-m", "pytest", "tests_conformance", "--kubeconfig", str(lab.kubeconfig),
           "-p", "no:cacheprovider", "-q", "-m", "mtls and probes", "--mtls-window", "60"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ})
    try:
        for attempt in tenacity.Retrying(stop=tenacity.stop_after_delay(60), wait=tenacity.wait_fixed(0.3),
                                         retry=tenacity.retry_if_exception_type(AssertionError), reraise=True):
            with attempt:
                assert proc.poll() is None, proc.stdout.read()
                assert _probe_pods(api), "no probe pod yet"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, output[-3000:]  # interrupted
    assert _probe_pods(api) == [], output[-3000:]
