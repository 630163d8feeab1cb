"""istio-system NetworkPolicies: istiod keeps xDS and the webhook open and may reach ztunnel/waypoints."""

import pytest
from objects import broken, PROFILE, find, healthy, network_policy, run, text

from ossm_conformance.checks import istio_system


def _run(c):
    return run(istio_system.istiod_xds_not_blocked, c, PROFILE.istio, PROFILE.ztunnel)


def _istiod_policy(c):
    return find(c, "networkpolicies", "istiod", "istio-system")


def test_healthy_passes():
    assert _run(healthy()) == []


def test_no_policies_admit_everything():
    c = healthy()
    c["networkpolicies"] = [p for p in c["networkpolicies"] if p["metadata"]["namespace"] != "istio-system"]
    assert _run(c) == []


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"ports": [{"protocol": "UDP", "port": 53}]}]),
     "blocked to waypoint apps-team-x/waypoint, ztunnel (ztunnel)"),
    (lambda c: _istiod_policy(c)["spec"].update(egress=[{"to": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "ztunnel"}}}]}]), "blocked to waypoint apps-team-x/waypoint"),
    (lambda c: _istiod_policy(c)["spec"].update(ingress=[{"ports": [{"port": 15017}]}]), "xDS 15012 from"),
    (lambda c: _istiod_policy(c)["spec"].update(ingress=[{"ports": [{"port": 15010, "endPort": 15014}]}]), "webhook 15017"),
    # Named for nothing mesh-related, but it selects istiod (all pods) and denies all egress:
    # rules are evaluated, not names.
    (lambda c: c.update(networkpolicies=[network_policy("zz-lockdown", "istio-system", types=["Egress"], egress=[])]),
     "by Egress policies zz-lockdown"),
], ids=["egress-dns-only", "egress-ztunnel-only", "no-xds", "no-webhook", "deny-all-egress"])
def test_blocking_policies_fail(mutate, fragment):
    findings = broken(mutate, istio_system.istiod_xds_not_blocked, PROFILE.istio, PROFILE.ztunnel)
    assert fragment in text(findings)
    assert "allow controller→ztunnel/waypoint" in findings[0].fix


def test_policy_selecting_other_pods_does_not_matter():
    c = healthy()
    c["networkpolicies"].append(network_policy("kiali-lockdown", "istio-system", {"matchLabels": {"app": "kiali"}},
                                               types=["Ingress", "Egress"], ingress=[], egress=[]))
    assert _run(c) == []


def test_egress_on_xds_port_to_mesh_namespaces_passes():
    c = healthy()
    _istiod_policy(c)["spec"]["egress"] = [{"to": [{"namespaceSelector": {}}], "ports": [{"port": 15012}]}]
    assert _run(c) == []
