"""The suite end to end against the lab: the healthy twin passes everything with no skip, and
every lab fault fails exactly the tests that concern it (tests/lab/fault_expectations.yaml),
with the runbook's words in the failure, and passes all the others.

The mTLS evidence runs for real: probe pods run by the lab's node agent, Prometheus scraping the
lab's ztunnel endpoints. Under the faults that break the pilot's mTLS, the probe's failure names
the edge, the ztunnel and the observed policy. After every run no probe pod is left (checked
through the API).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lab import faults
from ossm_conformance.mtls import pod_spec
from lab.suite_runner import lab_options, run_suite

pytestmark = pytest.mark.lab

EXPECTATIONS = yaml.safe_load((Path(__file__).parent / "fault_expectations.yaml").read_text())
SOURCES = ("probe", "prometheus")
PILOT_EDGE = "bank-employees-jboss-chat:bff->chat-backend"
# What the pilot edge's probe message shows under the faults that break the pilot's mTLS, and the
# cause it names: plaintext counted (CNI not redirecting bff); an identity failure (source-only
# opens, nothing at the destination, no plaintext fallback); or, namespace unlabelled (istio-cni
# no longer redirects either end), nothing at all.
OBSERVED = {
    "plaintext-traffic": (re.compile(r"plaintext from bff \(bank-employees-jboss-chat\) grew: .*policy unknown, "
                                     r"reporter destination, source_principal unknown, from bff: \+[1-9]"),
                          "CNI plugin not active on the node; or namespace not labelled"),
    "ztunnel-rbac-missing": (re.compile(r"opened mutual_tls connections as spiffe://\S+/sa/bff \(\+[1-9]\d* opened, "
                                        r"\+0 bytes.*the destination never saw the connection"),
                             "request impersonation authentication failure"),
    "namespace-unlabelled": (re.compile(r"grew toward chat-backend: nothing, on any ztunnel"),
                             "CNI plugin not active on the node; or namespace not labelled"),
}


def _suite_args(lab) -> list[str]:
    # Short window and settle: the lab's counters tick every second and its faults are stable.
    return [*lab_options(lab.env["LAB_PROMETHEUS_URL"]), "--mtls-window", "3", "--settle-timeout", "2"]


def _expected_failures(name: str) -> set[str]:
    spec = EXPECTATIONS[name]
    edges = spec.get("mtls_edges") or []
    return set(spec["fails"]) | {f"test_mtls.py::test_edge_traffic_is_mutual_tls[{s}-{e}]" for s in SOURCES for e in edges}


def _probe_pods(api) -> list[str]:
    return [p["metadata"]["name"] for p in
            api.get("/api/v1/pods", labelSelector=pod_spec.selector()).get("items") or []]


def _by_edge(run) -> dict[str, dict[str, str]]:
    """{edge id: {source: outcome}} from ids like test_edge_traffic_is_mutual_tls[probe-<edge>]."""
    edges: dict[str, dict[str, str]] = {}
    for test_id, outcome in run.outcomes.items():
        if "test_edge_traffic_is_mutual_tls[" in test_id:
            source, edge = test_id.split("[", 1)[1].rstrip("]").split("-", 1)
            edges.setdefault(edge, {})[source] = outcome
    return edges


def test_every_fault_has_expectations():
    assert set(EXPECTATIONS) == set(faults.FAULTS), "each lab fault needs a line in fault_expectations.yaml"


def test_healthy_twin_passes_everything(lab, api, tmp_path):
    run = run_suite(lab.kubeconfig, tmp_path, *_suite_args(lab))
    assert run.exit_code == 0, run.output[-4000:]
    assert run.outcomes, "the suite collected nothing"
    assert set(run.outcomes.values()) == {"passed"}, {t: o for t, o in run.outcomes.items() if o != "passed"}
    assert any(t.startswith("test_mtls.py::") for t in run.outcomes), "mTLS evidence did not run"
    edges = _by_edge(run)
    assert len(edges) == 5 and all(o == {"probe": "passed", "prometheus": "passed"} for o in edges.values()), edges
    assert _probe_pods(api) == []


@pytest.mark.parametrize("fault", sorted(EXPECTATIONS))
def test_fault_fails_exactly_its_tests(lab, api, twin, tmp_path, fault):
    faults.apply(fault, lab.kubeconfig)
    run = run_suite(lab.kubeconfig, tmp_path, *_suite_args(lab))
    expected = _expected_failures(fault)
    assert run.exit_code == 1, f"expected non-conformant (1), got {run.exit_code}\n{run.output[-3000:]}"
    assert run.with_outcome("failed") == expected, (
        f"unexpected failures: {sorted(run.with_outcome('failed') - expected)}; "
        f"missing failures: {sorted(expected - run.with_outcome('failed'))}")
    assert not run.with_outcome("error") and not run.with_outcome("skipped")
    fragment = EXPECTATIONS[fault]["message"]
    assert any(fragment in run.messages[t] for t in expected), f"no failure names the cause {fragment!r}"
    if fault in OBSERVED:
        message = run.messages[f"test_mtls.py::test_edge_traffic_is_mutual_tls[probe-{PILOT_EDGE}]"]
        observed, cause = OBSERVED[fault]
        assert PILOT_EDGE in message and observed.search(message), message
        assert cause in message, message
    assert _probe_pods(api) == []
