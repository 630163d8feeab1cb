"""The judge: deltas, not presence; plaintext toward the destination fails; unobserved never passes."""

from __future__ import annotations

from mtls_samples import EDGE, NS, series

from ossm_conformance.mtls import evidence
from ossm_conformance.mtls.observation import OPENED, RESTARTED, Observation, SeriesDelta, Ztunnel


def _obs(*deltas: tuple[dict, float], unobserved=None, source="probe") -> Observation:
    obs = Observation(source, 3, [SeriesDelta("ztunnel-w1", OPENED, labels, d, 10, 10 + d) for labels, d in deltas])
    obs.ztunnels["ztunnel-w1"] = Ztunnel("ztunnel-w1", "worker-1", "1.28.3")
    obs.unobserved = dict(unobserved or {})
    return obs


def _judge(obs: Observation) -> evidence.Verdict:
    return evidence.judge(NS, EDGE, "cluster.local", obs)


def test_growing_mutual_tls_from_the_profiled_identity_passes():
    verdict = _judge(_obs((series(), 6)))
    assert verdict.outcome == evidence.PASS and not verdict.findings
    assert "chat-backend" in verdict.excerpt and "delta 6" in verdict.excerpt


def test_presence_without_growth_fails():
    verdict = _judge(_obs((series(), 0)))
    assert verdict.outcome == evidence.FAIL
    finding = verdict.findings[0]
    assert "grew: nothing, on any ztunnel; flat: policy mutual_tls" in finding.actual
    assert "bypasses ztunnel" in finding.fix and "namespace not labelled" in finding.fix


def test_plaintext_toward_the_destination_fails_even_with_mtls_growth():
    plain = series(policy="unknown", principal="unknown")
    verdict = _judge(_obs((series(), 6), (plain, 4)))
    assert verdict.outcome == evidence.FAIL
    finding = verdict.findings[0]
    assert "bank-employees-jboss-chat:bff->chat-backend" in finding.object
    assert "policy unknown, reporter destination, source_principal unknown: +4 on ztunnel ztunnel-w1 (node worker-1" in finding.actual
    assert "CNI plugin not active on the node; or namespace not labelled" in finding.fix
    assert "request impersonation authentication failure" in finding.fix


def test_source_reported_plaintext_counts_too():
    verdict = _judge(_obs((series(reporter="source", policy="unknown", principal="unknown"), 2)))
    assert verdict.outcome == evidence.FAIL and "reporter source" in verdict.findings[0].actual


def test_wrong_identity_is_named():
    other = series(principal=f"spiffe://cluster.local/ns/{NS}/sa/default")
    verdict = _judge(_obs((other, 5)))
    assert verdict.outcome == evidence.FAIL and "different ServiceAccount" in verdict.findings[0].fix


def test_other_edges_do_not_count():
    verdict = _judge(_obs((series(destination="eap-domain-group-a"), 5), (series(namespace="ossm3-demo"), 5)))
    assert verdict.outcome == evidence.FAIL


def test_pod_ip_dial_matches_by_workload():
    labels = {**series(), "destination_service_name": "unknown", "destination_service_namespace": "unknown"}
    assert _judge(_obs((labels, 3))).outcome == evidence.PASS


def test_unobserved_ztunnel_is_undecided_never_pass():
    verdict = _judge(_obs((series(), 6), unobserved={"ztunnel-w2": RESTARTED}))
    assert verdict.outcome == evidence.UNDECIDED and "ztunnel-w2" in verdict.reason


def test_observed_plaintext_fails_even_if_another_ztunnel_is_unobserved():
    verdict = _judge(_obs((series(policy="unknown", principal="unknown"), 1), unobserved={"ztunnel-w2": "timed out"}))
    assert verdict.outcome == evidence.FAIL


def _obs_with_far_ztunnel(why: str) -> Observation:
    obs = _obs((series(), 6), unobserved={"ztunnel-w2": why})
    obs.ztunnels["ztunnel-w2"] = Ztunnel("ztunnel-w2", "worker-2", "1.28.3")
    return obs


def test_unobserved_ztunnel_on_a_node_the_edge_does_not_use_does_not_block_the_verdict():
    verdict = evidence.judge(NS, EDGE, "cluster.local", _obs_with_far_ztunnel("timed out"), frozenset({"worker-1"}))
    assert verdict.outcome == evidence.PASS


def test_unobserved_ztunnel_on_the_edges_node_is_undecided():
    verdict = evidence.judge(NS, EDGE, "cluster.local", _obs_with_far_ztunnel("timed out"),
                             frozenset({"worker-1", "worker-2"}))
    assert verdict.outcome == evidence.UNDECIDED and "ztunnel-w2: timed out" in verdict.reason
