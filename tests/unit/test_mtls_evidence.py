"""The judge on ztunnel-shaped OpenMetrics: delivered data, attributed plaintext, denials, identity
failures, waypoint hops; unobserved never passes.

Each case renders two scrapes of one ztunnel (before and after the window) exactly as ztunnel 1.28
writes them (all 27 labels in its order, HELP/TYPE, `# EOF`), reads them back through the probe's
parser and deltas (parse.py, observation.py), then judges.
"""

from __future__ import annotations

from mtls_samples import EDGE, NS, exposition_of, series

from ossm_conformance.mtls import evidence
from ossm_conformance.mtls.observation import from_scrapes
from ossm_conformance.mtls.parse import Scrape, parse_exposition
from ossm_conformance.profile import Edge

CLIENT = f"spiffe://cluster.local/ns/{NS}/sa/bff"
ROUTER = dict(source="router-default", source_namespace="openshift-ingress", principal="unknown", policy="unknown")


def conn(labels: dict, *, opened=0, closed=0, bytes=0, flags="-", base=10) -> tuple[list, list]:
    """One group of connections' counters before and after the window. Closes carry their final
    response_flags; a series seen before the window starts from `base` (0: it appears in the window)."""
    closed_labels = {**labels, "response_flags": flags}
    def values(o, c, b):
        return [("istio_tcp_connections_opened", labels, o), ("istio_tcp_connections_closed", closed_labels, c),
                ("istio_tcp_received_bytes", labels, b), ("istio_tcp_sent_bytes", labels, 4 * b)]
    before = values(base, base, base * 100) if base else []
    return before, values(base + opened, base + closed, base * 100 + bytes)


def _obs(*conns, unobserved: dict[str, str] | None = None):
    before = [s for b, _ in conns for s in b]
    after = [s for _, a in conns for s in a]
    scrapes = [Scrape(0, "ztunnel-w1", "worker-1", "10.0.0.1", True, samples=parse_exposition(exposition_of(before))),
               Scrape(1, "ztunnel-w1", "worker-1", "10.0.0.1", True, samples=parse_exposition(exposition_of(after)))]
    for pod, why in (unobserved or {}).items():
        scrapes.append(Scrape(0, pod, "worker-2", "10.0.0.2", False, why))
    return from_scrapes(scrapes, 3)


def _judge(obs, edge=EDGE, **kw) -> evidence.Verdict:
    return evidence.judge(NS, edge, "cluster.local", obs, **kw)


def _failed(verdict):
    assert verdict.outcome == evidence.FAIL, verdict
    assert len(verdict.findings) == 1, verdict.findings
    return verdict.findings[0]


# -- 1. delivered data, not opens -----------------------------------------------------------------

def test_connections_that_deliver_bytes_pass():
    verdict = _judge(_obs(conn(series(), opened=6, closed=6, bytes=3000)))
    assert verdict.outcome == evidence.PASS and not verdict.findings and not verdict.notes
    assert "chat-backend" in verdict.excerpt and "delta 6" in verdict.excerpt


def test_a_long_lived_connection_that_only_moves_bytes_passes():
    """Opened before the window (pooled), never closed in it: only the byte counters grow."""
    assert _judge(_obs(conn(series(), opened=0, closed=0, bytes=8192))).outcome == evidence.PASS


def test_connections_completed_without_bytes_pass_at_the_destination():
    assert _judge(_obs(conn(series(), opened=2, closed=2, bytes=0))).outcome == evidence.PASS


def test_opens_alone_never_pass():
    finding = _failed(_judge(_obs(conn(series(), opened=5))))
    assert "no data delivered" in finding.actual and "+5 opened, +0 bytes, closed: none" in finding.actual
    assert "carried nothing and none completed" in finding.fix


def test_presence_without_growth_is_silence_with_the_window_length():
    finding = _failed(_judge(_obs(conn(series()))))
    assert "grew toward chat-backend: nothing, on any ztunnel" in finding.actual
    assert "No traffic in the 3s window" in finding.fix and "--mtls-window" in finding.fix
    assert "namespace not labelled" in finding.fix


def test_mutual_tls_closed_with_deny_is_its_own_finding_naming_the_flag_counts_and_policies():
    denied = conn(series(), opened=4, closed=4, flags="DENY")
    finding = _failed(_judge(_obs(denied), policies=(f"{NS}/deny-bff (DENY)",)))
    assert "response_flags=DENY 4 of 4 opened" in finding.actual
    assert f"denied by policy {NS}/deny-bff (DENY)?" in finding.actual
    assert "AuthorizationPolicy" in finding.fix
    # A selector-bound ALLOW with HTTP rules is the everyday way to deny everything by mistake.
    assert "targetRefs to the waypoint Gateway" in finding.fix


def test_denials_fail_even_when_other_connections_delivered():
    verdict = _judge(_obs(conn(series(), opened=3, closed=3, bytes=100), conn(series(), opened=2, closed=2, flags="DENY")))
    assert "response_flags=DENY 2 of" in _failed(verdict).actual


# -- 2. plaintext attributed to who sent it -------------------------------------------------------

def test_plaintext_from_the_edges_own_source_fails_even_with_mtls_delivered():
    plain = series(policy="unknown", principal="unknown")
    verdict = _judge(_obs(conn(series(), opened=6, closed=6, bytes=600), conn(plain, opened=4, closed=4, flags="DENY")))
    finding = _failed(verdict)
    assert "bank-employees-jboss-chat:bff->chat-backend" in finding.object
    assert "plaintext from bff (bank-employees-jboss-chat) grew" in finding.actual
    assert "connections_opened, policy unknown, reporter destination, source_principal unknown, from bff: +4 on ztunnel ztunnel-w1 (node worker-1" in finding.actual
    assert "CNI plugin not active on the node; or namespace not labelled" in finding.fix


def test_source_reported_plaintext_of_the_edge_counts_too():
    plain = series(reporter="source", policy="unknown", principal="unknown")
    assert "reporter source" in _failed(_judge(_obs(conn(plain, opened=2, closed=2, bytes=50)))).actual


def test_the_routers_plaintext_denied_under_strict_is_information_not_a_failure():
    router = conn(series(**ROUTER), opened=7, closed=7, flags="DENY")
    verdict = _judge(_obs(conn(series(), bytes=4096), router))
    assert verdict.outcome == evidence.PASS, verdict.findings
    assert verdict.notes == ["plaintext from router-default (openshift-ingress) toward chat-backend.bank-employees-jboss-chat: "
                             "+7 opened, +0 bytes, closed: 7 DENY — refused under STRICT, as it must be (not traffic of this edge)"]


def test_accepted_plaintext_from_another_caller_violates_strict_and_names_it():
    router = conn(series(**ROUTER), opened=3, closed=3, bytes=900)
    finding = _failed(_judge(_obs(conn(series(), bytes=4096), router)))
    assert "was accepted (data delivered, no DENY) from router-default (openshift-ingress): +3 opened, +4500 bytes, closed: 3 -" in finding.actual
    assert "STRICT" in finding.fix and "PERMISSIVE/DISABLE" in finding.fix


def test_an_unnamed_plaintext_caller_is_reported_as_such():
    stranger = conn(series(source="unknown", source_namespace="unknown", principal="unknown", policy="unknown"),
                    opened=1, closed=1, bytes=10)
    assert "an unnamed client" in _failed(_judge(_obs(conn(series(), bytes=1), stranger))).actual


# -- 3. silence, identity failure, waypoints -----------------------------------------------------------

def test_identity_failure_source_opens_without_bytes_and_nothing_at_the_destination():
    """ztunnel 1.28: the source counts the HBONE open with its own principal and closes it ("-")
    without bytes when it has no certificate; the destination ztunnel never sees it."""
    sent = conn(series(reporter="source"), opened=5, closed=5, base=0)
    finding = _failed(_judge(_obs(sent)))
    assert "the destination never saw the connection" in finding.actual
    assert f"as {CLIENT} (+5 opened, +0 bytes, closed: 5 -)" in finding.actual
    assert "request impersonation authentication failure" in finding.fix
    assert "trustedZtunnelNamespace" in finding.fix and "ztunnel-workload-identity" in finding.fix


def test_wrong_identity_is_named():
    other = series(principal=f"spiffe://cluster.local/ns/{NS}/sa/default")
    assert "different ServiceAccount" in _failed(_judge(_obs(conn(other, opened=5, closed=5, bytes=10)))).fix


def test_other_edges_do_not_count():
    verdict = _judge(_obs(conn(series(destination="eap-domain-group-a"), bytes=5),
                          conn(series(namespace="ossm3-demo"), bytes=5)))
    assert verdict.outcome == evidence.FAIL


def test_pod_ip_dial_matches_by_workload():
    labels = {**series(), "destination_service_name": "unknown", "destination_service_namespace": "unknown",
              "destination_service": "unknown"}
    assert _judge(_obs(conn(labels, bytes=30))).outcome == evidence.PASS


WAYPOINT_NS = "apps-team-x"
WEB = Edge(source="frontend", source_service_account="frontend", destination="web", destination_service_account="web")
WAYPOINT = evidence.Waypoint(WAYPOINT_NS, "waypoint")


def _web(**kw) -> dict:
    base = dict(source="frontend", source_namespace=WAYPOINT_NS, namespace=WAYPOINT_NS, destination="web",
                principal=f"spiffe://cluster.local/ns/{WAYPOINT_NS}/sa/frontend")
    return series(**{**base, **kw})


def _judge_web(*conns) -> evidence.Verdict:
    return evidence.judge(WAYPOINT_NS, WEB, "cluster.local", _obs(*conns), waypoint=WAYPOINT)


TO_WAYPOINT = dict(reporter="source", destination_workload="waypoint")
FROM_WAYPOINT = dict(source="waypoint", principal=f"spiffe://cluster.local/ns/{WAYPOINT_NS}/sa/waypoint")


def test_a_waypoint_edge_passes_hop_by_hop():
    verdict = _judge_web(conn(_web(**TO_WAYPOINT), bytes=700), conn(_web(**FROM_WAYPOINT), opened=2, closed=2, bytes=700))
    assert verdict.outcome == evidence.PASS, verdict.findings


def test_a_waypoint_edge_that_goes_straight_to_the_destination_bypasses_the_waypoint():
    finding = _failed(_judge_web(conn(_web(reporter="source"), bytes=700), conn(_web(), bytes=700)))
    assert "not through waypoint apps-team-x/waypoint" in finding.actual
    assert "istio.io/use-waypoint=none opts it out" in finding.fix and "oc -n apps-team-x get gateway,svc" in finding.fix


def test_nothing_reaching_the_waypoint_points_at_its_pods():
    finding = _failed(_judge_web(conn(_web(**TO_WAYPOINT)), conn(_web(**FROM_WAYPOINT))))
    assert "on hop source -> waypoint waypoint" in finding.actual
    assert "gateway.networking.k8s.io/gateway-name=waypoint" in finding.fix and "-n apps-team-x" in finding.fix


def test_a_waypoint_that_delivers_nothing_to_the_destination_fails_the_second_hop():
    finding = _failed(_judge_web(conn(_web(**TO_WAYPOINT), bytes=700), conn(_web(**FROM_WAYPOINT))))
    assert "on hop waypoint waypoint -> destination" in finding.actual


# -- undecided ----------------------------------------------------------------------------------

def test_unobserved_ztunnel_is_undecided_never_pass():
    verdict = _judge(_obs(conn(series(), bytes=6), unobserved={"ztunnel-w2": "timed out"}))
    assert verdict.outcome == evidence.UNDECIDED and "ztunnel-w2: timed out" in verdict.reason


def test_observed_plaintext_fails_even_if_another_ztunnel_is_unobserved():
    plain = conn(series(policy="unknown", principal="unknown"), opened=1, closed=1, flags="DENY")
    assert _judge(_obs(plain, unobserved={"ztunnel-w2": "timed out"})).outcome == evidence.FAIL


def test_unobserved_ztunnel_on_a_node_the_edge_does_not_use_does_not_block_the_verdict():
    obs = _obs(conn(series(), bytes=6), unobserved={"ztunnel-w2": "timed out"})
    assert _judge(obs, edge_nodes=frozenset({"worker-1"})).outcome == evidence.PASS
    verdict = _judge(obs, edge_nodes=frozenset({"worker-1", "worker-2"}))
    assert verdict.outcome == evidence.UNDECIDED and "ztunnel-w2: timed out" in verdict.reason
