"""Control-plane NetworkPolicies: istiod admits xDS/CA from ztunnel and waypoints and the webhook,
reaches the API server and DNS; ztunnel reaches istiod. No egress from istiod to ztunnel."""

import pytest
from objects import broken, PROFILE, find, healthy, network_policy, run, text

from ossm_conformance.checks import istio_system


def _run(c):
    return run(istio_system.istiod_xds_not_blocked, c, PROFILE.istio, PROFILE.ztunnel)


def _zt(c):
    return run(istio_system.ztunnel_reaches_istiod, c, PROFILE.istio, PROFILE.ztunnel)


def _istiod_policy(c):
    return find(c, "networkpolicies", "istiod", "istio-system")


def test_healthy_passes():
    assert _run(healthy()) == []
    assert _zt(healthy()) == []


def test_no_policies_admit_everything():
    c = healthy()
    c["networkpolicies"] = [p for p in c["networkpolicies"] if p["metadata"]["namespace"] != "istio-system"]
    assert _run(c) == []


def test_no_egress_to_ztunnel_is_needed():
    """istiod never dials ztunnel or the waypoints (they dial istiod:15012)."""
    c = healthy()
    egress = _istiod_policy(c)["spec"]["egress"]
    assert not any(p.get("port") in (15008, 15012) for rule in egress for p in rule.get("ports", []))
    assert _run(c) == []


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"ports": [{"protocol": "UDP", "port": 5353}]}]),
     "blocked to API server 10.90.0.11:6443, API server 10.90.0.12:6443, API server 10.90.0.13:6443"),
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"ports": [{"port": 443}]}, {"ports": [{"protocol": "UDP", "port": 5353}]}]),
     "API server 10.90.0.11:6443"),  # the Service port: NetworkPolicy sees the endpoint port after DNAT
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"ports": [{"port": 6443}]}]), "DNS (openshift-dns dns-default:5353)"),
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"to": [{"ipBlock": {"cidr": "10.90.0.0/24", "except": ["10.90.0.12/32"]}}],
                                                         "ports": [{"port": 6443}]}, {"ports": [{"protocol": "UDP", "port": 5353}]}]),
     "blocked to API server 10.90.0.12:6443 by"),
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"to": [{"namespaceSelector": {}}]}]), "API server 10.90.0.11"),
    (lambda c: _istiod_policy(c)["spec"].update(ingress=[{"ports": [{"port": 15017}]}]), "xDS/CA 15012 from"),
    (lambda c: _istiod_policy(c)["spec"].update(ingress=[{"ports": [{"port": 15010, "endPort": 15014}]}]), "webhook 15017"),
    (lambda c: _istiod_policy(c)["spec"].update(ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": 15012}]},
                                                          {"ports": [{"port": 15017}]}]),
     "xDS/CA 15012 from gateway ossm3-demo/demo-ingress, waypoint apps-team-x/waypoint, ztunnel (ztunnel)"),
    # Named for nothing mesh-related, but it selects istiod (all pods) and denies all egress:
    # rules are evaluated, not names.
    (lambda c: c.update(networkpolicies=[network_policy("zz-lockdown", "istio-system", types=["Egress"], egress=[])]),
     "by Egress policies zz-lockdown"),
], ids=["dns-only", "service-port-only", "no-dns", "ipblock-except", "pods-only", "no-xds", "no-webhook",
        "xds-from-istio-system-only", "deny-all-egress"])
def test_blocking_policies_fail(mutate, fragment):
    findings = broken(mutate, istio_system.istiod_xds_not_blocked, PROFILE.istio, PROFILE.ztunnel)
    assert fragment in text(findings)
    assert "ztunnel/waypoints/gateways → istiod 15012" in findings[0].fix


def test_unreadable_api_endpoints_need_a_rule_for_every_destination():
    c = healthy()
    c["endpointslices"] = []
    assert _run(c) == []  # the healthy rule admits 6443 to anyone
    _istiod_policy(c)["spec"]["egress"][0] = {"to": [{"ipBlock": {"cidr": "10.90.0.0/24"}}], "ports": [{"port": 6443}]}
    assert "kubernetes endpoints not readable" in text(_run(c))


def test_policy_selecting_other_pods_does_not_matter():
    c = healthy()
    c["networkpolicies"].append(network_policy("kiali-lockdown", "istio-system", {"matchLabels": {"app": "kiali"}},
                                               types=["Ingress", "Egress"], ingress=[], egress=[]))
    assert _run(c) == []


def test_ztunnel_namespace_policy_cutting_istiod_fails():
    c = healthy()
    c["networkpolicies"].append(network_policy("ztunnel-egress", "ztunnel", types=["Egress"], egress=[
        {"ports": [{"protocol": "UDP", "port": 5353}]}]))
    findings = _zt(c)
    assert "blocked to istiod (istio-system):15012 (pods 10.128.3.5, 10.128.4.5) by Egress policies ztunnel-egress" in text(findings)
    assert "oc get networkpolicy -n ztunnel" in findings[0].fix


def test_ztunnel_namespace_policy_admitting_istiod_and_dns_passes():
    c = healthy()
    c["networkpolicies"].append(network_policy("ztunnel-egress", "ztunnel", types=["Egress"], egress=[
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                 "podSelector": {"matchLabels": {"app": "istiod"}}}], "ports": [{"port": 15012}]},
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 5353}]}]))
    assert _zt(c) == []
    find(c, "networkpolicies", "ztunnel-egress", "ztunnel")["spec"]["egress"].pop()
    assert "DNS (openshift-dns dns-default:5353)" in text(_zt(c))


# -- waypoints and istio-class gateways dial istiod:15012 ---------------------------------------
def _gw(c):
    return run(istio_system.gateways_reach_istiod, c, PROFILE.istio)


ISTIOD_EGRESS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                         "podSelector": {"matchLabels": {"app": "istiod"}}}], "ports": [{"port": 15012}]}
DNS_EGRESS = {"ports": [{"protocol": "UDP", "port": 5353}, {"protocol": "TCP", "port": 5353}]}
GATEWAY_SELECTOR = {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "demo-ingress"}}


def test_gateways_without_egress_policies_reach_istiod():
    assert _gw(healthy()) == []


def test_a_gateway_egress_policy_with_the_istiod_rule_passes():
    c = healthy()
    c["networkpolicies"].append(network_policy("demo-ingress", "ossm3-demo", GATEWAY_SELECTOR, types=["Egress"],
                                               egress=[ISTIOD_EGRESS, DNS_EGRESS]))
    assert _gw(c) == []


@pytest.mark.parametrize("ns, selector, egress, fragment", [
    # The demo tenant micro-segmented: the gateway may reach demo-server only.
    ("ossm3-demo", GATEWAY_SELECTOR, [{"to": [{"podSelector": {"matchLabels": {"app": "demo-server"}}}]}, DNS_EGRESS],
     "Gateway ossm3-demo/demo-ingress (its Envoy pods)"),
    # A default-deny egress in the waypoint's namespace that admits only DNS: its Envoy is cut off.
    ("apps-team-x", {}, [DNS_EGRESS], "Gateway apps-team-x/waypoint (its Envoy pods)"),
    # istiod admitted, DNS not: the proxy cannot resolve istiod.istio-system.svc.
    ("apps-team-x", {}, [ISTIOD_EGRESS], "blocked to DNS (openshift-dns dns-default:5353)"),
], ids=["gateway-segmented", "waypoint-default-deny", "no-dns"])
def test_an_egress_policy_that_cuts_a_proxy_off_istiod_fails(ns, selector, egress, fragment):
    c = healthy()
    c["networkpolicies"].append(network_policy("lockdown", ns, selector, types=["Egress"], egress=egress))
    findings = _gw(c)
    assert len(findings) == 1 and fragment in text(findings)
    assert "by Egress policies lockdown" in findings[0].actual
    assert "gateway.networking.k8s.io/gateway-name=" in findings[0].fix and "<" not in findings[0].fix


def test_the_waypoint_pods_labels_are_matched_as_istiod_stamps_them_without_pods():
    """No waypoint pod running (a rollout): the policy is judged on the labels istiod stamps."""
    c = healthy()
    c["pods"] = [p for p in c["pods"] if p["metadata"]["namespace"] != "apps-team-x"
                 or "gateway.networking.k8s.io/gateway-name" not in p["metadata"].get("labels", {})]
    managed = {"matchLabels": {"gateway.istio.io/managed": "istio.io-mesh-controller"}}
    c["networkpolicies"].append(network_policy("waypoint-egress", "apps-team-x", managed, types=["Egress"],
                                               egress=[DNS_EGRESS]))
    assert "Gateway apps-team-x/waypoint" in text(_gw(c))


def test_istiod_ingress_must_admit_the_istio_class_gateway():
    c = healthy()
    _istiod_policy(c)["spec"]["ingress"] = [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ztunnel"}}},
                  {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "apps-team-x"}}}],
         "ports": [{"port": 15012}]}, {"ports": [{"port": 15017}]}]
    assert "xDS/CA 15012 from gateway ossm3-demo/demo-ingress by" in text(_run(c))


# -- the red team's round: how OVN-Kubernetes matches host-network callers, pod IPs, named ports -----
def _ingress(c, rules):
    _istiod_policy(c)["spec"]["ingress"] = rules


ANY_15012 = {"ports": [{"port": 15012}]}
HOST_NETWORK_NS = {"namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/host-network": ""}}}


@pytest.mark.parametrize("webhook_from", [
    [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}} for n in ("ztunnel", "ossm3-demo")],
    [{"podSelector": {}}],                                                       # pods of istio-system only
    [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-kube-apiserver"}}}],
    [{"ipBlock": {"cidr": "10.90.0.0/24"}}],   # the masters' IPs: host-to-pod leaves through the management port
], ids=["tenant-namespaces", "own-pods", "kube-apiserver-namespace", "masters-ipblock"])
def test_webhook_open_only_to_pods_is_closed_to_the_api_server(webhook_from):
    c = healthy()
    _ingress(c, [ANY_15012, {"from": webhook_from, "ports": [{"port": 15017}]}])
    assert "webhook 15017 from the API server (it calls from the masters' host network" in text(_run(c))
    assert "policy-group.network.openshift.io/host-network" in _run(c)[0].fix


@pytest.mark.parametrize("webhook_from", [
    [HOST_NETWORK_NS], [{"namespaceSelector": {}}], [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
], ids=["host-network-namespace", "every-namespace", "anywhere"])
def test_webhook_open_to_the_host_network_passes(webhook_from):
    c = healthy()
    _ingress(c, [ANY_15012, {"from": webhook_from, "ports": [{"port": 15017}]}])
    assert _run(c) == []


POD_NETWORK = {"ipBlock": {"cidr": "10.128.0.0/14"}}


def test_an_ipblock_over_the_pod_network_admits_the_pods_in_it():
    c = healthy()
    _ingress(c, [{"from": [POD_NETWORK], "ports": [{"port": 15012}]}, {"ports": [{"port": 15017}]}])
    assert _run(c) == []   # ztunnel 10.129.x, gateway 10.128.2.20, waypoint pods: all inside 10.128.0.0/14
    c["networkpolicies"].append(network_policy("ztunnel-egress", "ztunnel", types=["Egress"], egress=[
        {"to": [POD_NETWORK], "ports": [{"port": 15012}, {"protocol": "UDP", "port": 5353}]}]))
    assert _zt(c) == []


def test_an_ipblock_that_misses_one_istiod_pod_names_it():
    c = healthy()
    c["networkpolicies"].append(network_policy("ztunnel-egress", "ztunnel", types=["Egress"], egress=[
        {"to": [{"ipBlock": {"cidr": "10.128.3.0/24"}}], "ports": [{"port": 15012}]},
        {"ports": [{"protocol": "UDP", "port": 5353}]}]))
    assert "blocked to istiod (istio-system):15012 (pods 10.128.4.5)" in text(_zt(c))


def test_named_ports_resolve_as_the_charts_and_the_dns_operator_name_them():
    c = healthy()
    find(c, "deployments", "istiod", "istio-system")["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "tls-xds", "containerPort": 15012, "protocol": "TCP"}]
    c["networkpolicies"].append(network_policy("ztunnel-egress", "ztunnel", types=["Egress"], egress=[
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}}}],
         "ports": [{"port": "tls-xds"}]},
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}}],
         "ports": [{"protocol": "UDP", "port": "dns"}, {"protocol": "TCP", "port": "dns-tcp"}]}]))
    assert _zt(c) == []
