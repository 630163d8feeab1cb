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
     "bound to no target policy with L7 fields methods: waypoints apply only policies bound with targetRefs, "
     "and ztunnel drops these rules; namespace bank-employees-jboss-chat has no waypoint Gateway"),
    (lambda c: _policy(c, "jwt", CHAT, {"rules": [{"when": [{"key": "request.headers[x-user]", "values": ["a"]}]}]}),
     "when request.headers[x-user]"),
    (lambda c: _policy(c, "svc", CHAT, {"targetRefs": [{"kind": "Service", "group": "", "name": "chat-backend"}],
                                        "rules": [{}]}),
     "targets Service bank-employees-jboss-chat/chat-backend is not bound to a waypoint"),
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
    _policy(c, "mesh-wide-l4", "istio-system", {"rules": [{"from": [{"source": {"namespaces": ["ztunnel"]}}]}]})
    c["namespaces"].append(obj("namespaces", "legacy", labels={"istio-injection": "enabled"}))
    _policy(c, "sidecar", "legacy", l7)                              # sidecars enforce L7
    _policy(c, "ingress", "openshift-ingress", {"targetRefs": [{"kind": "Gateway", "name": "router"}], **l7})
    c["gateways"].append(obj("gateways", "router", "openshift-ingress", spec={"gatewayClassName": "openshift-default"}))
    c["httproutes"].append(obj("httproutes", "web", "apps-team-x", spec={"parentRefs": [{"kind": "Service", "name": "web"}]}))
    c["httproutes"].append(obj("httproutes", "north-south", CHAT, spec={"parentRefs": [{"name": "router", "namespace": "openshift-ingress"}]}))
    assert run(waypoints.l7_policies_have_a_waypoint, c, "istio-system") == []


@pytest.mark.parametrize("action, effect", [("ALLOW", "denies every ambient connection in the mesh"),
                                            ("DENY", "without those conditions")])
def test_root_namespace_l7_policy_without_target_refs_fails_as_ztunnel_applies_it(action, effect):
    """Root-namespace policies reach every ztunnel, which gets them without their HTTP rules."""
    c = healthy()
    _policy(c, "mesh-read-only", "istio-system", {"action": action, "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    findings = run(waypoints.l7_policies_have_a_waypoint, c, "istio-system")
    assert [f.object for f in findings] == ["AuthorizationPolicy istio-system/mesh-read-only"]
    assert effect in findings[0].actual and "methods" in findings[0].actual


def test_virtual_service_is_judged_by_the_services_it_names_not_where_it_lives():
    c = healthy()
    spec = {"hosts": ["demo-server.ossm3-demo.svc.cluster.local"], "http": [{"retries": {"attempts": 3}}]}
    c["virtualservices"].append(obj("virtualservices", "demo-server-retries", "istio-system", spec=spec))
    findings = run(waypoints.l7_policies_have_a_waypoint, c, "istio-system")
    assert [f.object for f in findings] == ["VirtualService istio-system/demo-server-retries"]
    assert "Service ossm3-demo/demo-server is not bound to a waypoint" in findings[0].actual
    spec["hosts"] = ["web.apps-team-x.svc.cluster.local"]                 # a Service its waypoint serves
    assert run(waypoints.l7_policies_have_a_waypoint, c, "istio-system") == []


# -- the waypoint really runs and carries what it must ------------------------------------------

def _crashloop(c):
    """istiod keeps Programmed=True (address assigned) while the Envoy Deployment crash-loops."""
    find(c, "deployments", "waypoint", "apps-team-x")["status"].update(
        readyReplicas=0, availableReplicas=0, conditions=[cond("Available", "False", "MinimumReplicasUnavailable")])


def test_crash_looping_waypoint_fails_though_programmed():
    c = healthy()
    _crashloop(c)
    assert condition_of(_gw(c), "Programmed") == "True"
    findings = run(waypoints.waypoint_gateway_ready, c, TEAM_X)
    assert "Deployment apps-team-x/waypoint" in text(findings) and "readyReplicas=0" in text(findings)
    assert "Programmed" in findings[0].fix


def condition_of(o, type_):
    return next(x["status"] for x in o["status"]["conditions"] if x["type"] == type_)


@pytest.mark.parametrize("value, fragment", [("workload", "not to services"), ("none", "no traffic")])
def test_waypoint_for_other_than_profiled_fails(value, fragment):
    c = healthy()
    _gw(c)["metadata"]["labels"]["istio.io/waypoint-for"] = value
    findings = run(waypoints.waypoint_gateway_ready, c, TEAM_X)
    assert f"istio.io/waypoint-for={value}: " in text(findings) and fragment in text(findings)


def test_absent_waypoint_for_means_service():
    c = healthy()
    _gw(c)["metadata"]["labels"].pop("istio.io/waypoint-for")
    assert run(waypoints.waypoint_gateway_ready, c, TEAM_X) == []


def test_missing_waypoint_deployment_fails():
    c = healthy()
    remove(c, "deployments", "waypoint", "apps-team-x")
    assert "the waypoint's Envoy Deployment" in text(run(waypoints.waypoint_gateway_ready, c, TEAM_X))


# -- L7 configuration that no proxy applies -------------------------------------------------------

def _l7(c):
    return run(waypoints.l7_policies_have_a_waypoint, c, "istio-system")


def test_service_opting_out_while_targeted_fails():
    c = healthy()
    find(c, "services", "web", "apps-team-x")["metadata"]["labels"] = {"istio.io/use-waypoint": "none"}
    _policy(c, "web-get", "apps-team-x", {"targetRefs": [{"kind": "Service", "group": "", "name": "web"}],
                                          "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    c["httproutes"].append(obj("httproutes", "web", "apps-team-x", spec={"parentRefs": [{"kind": "Service", "name": "web"}]}))
    findings = _l7(c)
    assert [f.object for f in findings] == ["AuthorizationPolicy apps-team-x/web-get", "HTTPRoute apps-team-x/web"]
    assert "opts out of the waypoint (istio.io/use-waypoint=none)" in text(findings)


def test_selector_bound_l7_policy_in_a_waypoint_namespace_fails():
    c = healthy()
    _policy(c, "web-get", "apps-team-x", {"selector": {"matchLabels": {"app": "web"}},
                                          "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]})
    findings = _l7(c)
    assert "selector-bound policy with L7 fields methods: waypoints apply only policies bound with targetRefs" in text(findings)
    assert "has no waypoint" not in text(findings)


def test_remote_ip_blocks_need_a_waypoint():
    c = healthy()
    _policy(c, "office-only", CHAT, {"rules": [{"from": [{"source": {"remoteIpBlocks": ["192.0.2.0/24"]}}]}]})
    assert "L7 fields remoteIpBlocks" in text(_l7(c))


def test_selector_bound_l7_policy_on_an_istio_gateway_passes():
    c = healthy()
    assert find(c, "authorizationpolicies", "demo-ingress-get-only", "ossm3-demo")["spec"]["selector"]
    assert _l7(c) == []
    find(c, "gateways", "demo-ingress", "ossm3-demo")["spec"]["gatewayClassName"] = "istio-waypoint"
    assert "demo-ingress-get-only" in text(_l7(c))  # a waypoint ignores the selector


@pytest.mark.parametrize("gateways, fails", [(None, True), (["mesh"], True), (["openshift-ingress/router"], False)])
def test_virtual_service_for_mesh_traffic_needs_a_waypoint(gateways, fails):
    c = healthy()
    spec = {"hosts": ["demo-server"], "http": [{"retries": {"attempts": 3}, "route": [{"destination": {"host": "demo-server"}}]}]}
    if gateways:
        spec["gateways"] = gateways
    c["virtualservices"].append(obj("virtualservices", "demo-retries", "ossm3-demo", spec=spec))
    assert ("VirtualService ossm3-demo/demo-retries" in text(_l7(c))) == fails
    c["virtualservices"][-1]["metadata"]["namespace"] = "apps-team-x"
    assert _l7(c) == []


# -- what istiod and istioctl analyze report --------------------------------------------------------

def test_healthy_istiod_conditions_and_no_sidecar_pass():
    assert run(waypoints.istiod_reports_no_rejection, healthy()) == []
    assert run(waypoints.no_sidecar_resource_in_ambient_namespaces, healthy()) == []


def test_unsupported_value_true_is_not_a_rejection():
    c = healthy()
    find(c, "authorizationpolicies", "allow-bff", CHAT)["status"]["conditions"] = [cond(
        "ZtunnelAccepted", "True", "UnsupportedValue", "ztunnel does not support HTTP attributes (found: methods).")]
    assert run(waypoints.istiod_reports_no_rejection, c) == []


@pytest.mark.parametrize("kind, name_, ns, ctype, reason, message", [
    ("authorizationpolicies", "deny-admin", "apps-team-x", "WaypointAccepted", "AncestorNotBound",
     "Service apps-team-x/web is not bound to a waypoint"),
    ("authorizationpolicies", "allow-bff", CHAT, "ZtunnelAccepted", "UnsupportedValue", "ztunnel does not support the CUSTOM action"),
    ("services", "web", "apps-team-x", "istio.io/WaypointBound", "WaypointNotFound", "waypoint apps-team-x/waypoint not found"),
], ids=["waypoint-not-bound", "ztunnel-custom", "service-unbound"])
def test_istiod_negative_condition_fails_with_its_message(kind, name_, ns, ctype, reason, message):
    c = healthy()
    find(c, kind, name_, ns)["status"]["conditions"] = [cond(ctype, "False", reason, message)]
    findings = run(waypoints.istiod_reports_no_rejection, c)
    assert f"{ctype}=False ({reason}: {message})" in text(findings) and "IST0171" in text(findings)


def test_sidecar_resource_in_ambient_namespace_fails():
    c = healthy()
    c["sidecars"].append(obj("sidecars", "default", "ossm3-demo", spec={"egress": [{"hosts": ["./*"]}]}))
    c["sidecars"].append(obj("sidecars", "default", "bank-payment", spec={"egress": [{"hosts": ["./*"]}]}))
    findings = run(waypoints.no_sidecar_resource_in_ambient_namespaces, c)
    assert [f.object for f in findings] == ["Sidecar ossm3-demo/default"] and "IST0167" in findings[0].fix
