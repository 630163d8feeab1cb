"""Waypoint checks: the profiled Gateway, and L7 policy only where a waypoint enforces it."""

import pytest
from objects import broken, PROFILE, cond, find, healthy, obj, remove, run, text

from ossm_conformance.checks import waypoints

TEAM_X = PROFILE.tenant("apps-team-x")
CHAT = "bank-employees-jboss-chat"


def _gw(c):
    return find(c, "gateways", "waypoint", "apps-team-x")


def test_healthy_waypoint_passes():
    assert run(waypoints.waypoint_gateway_ready, healthy(), TEAM_X) == []


def test_healthy_l7_placement_passes():
    assert run(waypoints.l7_policies_have_a_waypoint, healthy(), "istio-system") == []


@pytest.mark.parametrize("mutate, fragment, settling", [
    (lambda c: remove(c, "gateways", "waypoint", "apps-team-x"), "Add a Gateway of class istio-waypoint", False),
    (lambda c: _gw(c)["spec"].update(gatewayClassName="openshift-default"), "gatewayClassName openshift-default", False),
    (lambda c: _gw(c)["spec"].update(listeners=[{"name": "http", "port": 80, "protocol": "HTTP"}]), "listeners: 80/HTTP", False),
    (lambda c: _gw(c)["status"].update(conditions=[cond("Programmed", "False", "Pending", "waypoint deployment not ready")]),
     "Programmed=False (Pending: waypoint deployment not ready)", True),
    (lambda c: find(c, "namespaces", "apps-team-x")["metadata"]["labels"].pop("istio.io/use-waypoint"),
     "namespace istio.io/use-waypoint=None; no service labelled", False),
    (lambda c: find(c, "gatewayclasses", "istio-waypoint")["status"].update(conditions=[cond("Accepted", "Unknown")]),
     "GatewayClass istio-waypoint", True),
], ids=["missing", "wrong-class", "no-hbone-listener", "not-programmed", "not-used", "class-not-accepted"])
def test_waypoint_findings(mutate, fragment, settling):
    findings = broken(mutate, waypoints.waypoint_gateway_ready, TEAM_X)
    assert fragment in text(findings)
    assert [f.settling for f in findings] == [settling]


def test_service_level_use_waypoint_is_enough():
    c = healthy()
    find(c, "namespaces", "apps-team-x")["metadata"]["labels"].pop("istio.io/use-waypoint")
    find(c, "services", "web", "apps-team-x")["metadata"]["labels"] = {"istio.io/use-waypoint": "waypoint"}
    assert run(waypoints.waypoint_gateway_ready, c, TEAM_X) == []


def _policy(c, name, ns, spec):
    c["authorizationpolicies"].append(obj("authorizationpolicies", name, ns, spec=spec))


@pytest.mark.parametrize("add, fragment", [
    (lambda c: remove(c, "gateways", "waypoint", "apps-team-x"),
     "targets Gateway apps-team-x/waypoint, which does not exist"),
    (lambda c: _policy(c, "get-only", CHAT, {"rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}),
     "uses L7 fields methods; namespace bank-employees-jboss-chat has no waypoint Gateway"),
    (lambda c: _policy(c, "jwt", CHAT, {"rules": [{"when": [{"key": "request.headers[x-user]", "values": ["a"]}]}]}),
     "when request.headers[x-user]"),
    (lambda c: _policy(c, "svc", CHAT, {"targetRefs": [{"kind": "Service", "group": "", "name": "chat-backend"}],
                                        "rules": [{}]}), "targets Service chat-backend"),
    (lambda c: c["httproutes"].append(obj("httproutes", "retry", CHAT, spec={
        "parentRefs": [{"group": "", "kind": "Service", "name": "chat-backend", "port": 8080}]})),
     "parentRef Service bank-employees-jboss-chat/chat-backend"),
], ids=["target-gateway-gone", "methods", "request-key", "service-target", "mesh-httproute"])
def test_l7_without_waypoint_fails(add, fragment):
    c = healthy()
    add(c)
    findings = run(waypoints.l7_policies_have_a_waypoint, c, "istio-system")
    assert fragment in text(findings)
    assert findings[0].fix.startswith("L7 policies have no effect")


def test_l7_policy_where_it_is_enforced_passes():
    c = healthy()
    l7 = {"rules": [{"to": [{"operation": {"paths": ["/admin"]}}]}]}
    _policy(c, "mesh-wide", "istio-system", l7)                       # root namespace: mesh-wide
    c["namespaces"].append(obj("namespaces", "legacy", labels={"istio-injection": "enabled"}))
    _policy(c, "sidecar", "legacy", l7)                              # sidecars enforce L7
    _policy(c, "ingress", "openshift-ingress", {"targetRefs": [{"kind": "Gateway", "name": "router"}], **l7})
    c["gateways"].append(obj("gateways", "router", "openshift-ingress", spec={"gatewayClassName": "openshift-default"}))
    c["httproutes"].append(obj("httproutes", "web", "apps-team-x", spec={"parentRefs": [{"kind": "Service", "name": "web"}]}))
    c["httproutes"].append(obj("httproutes", "north-south", CHAT, spec={"parentRefs": [{"name": "router", "namespace": "openshift-ingress"}]}))
    assert run(waypoints.l7_policies_have_a_waypoint, c, "istio-system") == []
