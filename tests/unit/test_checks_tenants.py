"""Tenant checks: labels, PeerAuthentication, NetworkPolicies for HBONE, pods, excluded/unknown namespaces."""

import dataclasses

import pytest
from objects import broken, PROFILE, TENANTS, find, healthy, network_policy, obj, pod, remove, run, text

from ossm_conformance.checks import tenants
from ossm_conformance.profile import Tenant

CHAT = PROFILE.tenant("bank-employees-jboss-chat")
PAYMENT = PROFILE.tenant("bank-payment")


def _labels(c, ns):
    return find(c, "namespaces", ns)["metadata"].setdefault("labels", {})


@pytest.mark.parametrize("ns", TENANTS)
@pytest.mark.parametrize("check", [tenants.namespace_enrolled, tenants.network_policies_admit_hbone, tenants.pods_enrolled],
                         ids=lambda f: f.__name__)
def test_healthy_tenants_pass(check, ns):
    assert run(check, healthy(), PROFILE.tenant(ns)) == []


@pytest.mark.parametrize("ns", TENANTS)
def test_healthy_peer_authentication_passes(ns):
    assert run(tenants.peer_authentication_strict, healthy(), PROFILE.tenant(ns), "istio-system") == []


# -- labels -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: _labels(c, CHAT.namespace).pop("istio.io/dataplane-mode"), "no istio.io/dataplane-mode label"),
    (lambda c: _labels(c, CHAT.namespace).update({"istio.io/dataplane-mode": "none"}), "istio.io/dataplane-mode=none"),
], ids=["unlabelled", "opted-out"])
def test_unlabelled_namespace_fails_with_plaintext_remedy(mutate, fragment):
    findings = broken(mutate, tenants.namespace_enrolled, CHAT)
    assert fragment in text(findings)
    assert "CNI plugin not active on the node; or namespace not labelled" in findings[0].fix
    assert not findings[0].settling


@pytest.mark.parametrize("label", [{"istio-injection": "enabled"}, {"istio.io/rev": "default"}])
def test_mixed_mode_namespace_fails(label):
    c = healthy()
    _labels(c, CHAT.namespace).update(label)
    findings = run(tenants.namespace_enrolled, c, CHAT)
    assert "Pick one mode per ns" in text(findings)
    assert next(iter(label)) in findings[0].actual


def test_missing_tenant_namespace_is_named():
    c = healthy()
    remove(c, "namespaces", CHAT.namespace)
    findings = run(tenants.namespace_enrolled, c, CHAT)
    assert findings[0].object == "Namespace bank-employees-jboss-chat"
    assert "not found" in findings[0].actual


# -- PeerAuthentication -----------------------------------------------------------------------
def _pa(c):
    return find(c, "peerauthentications", "default", CHAT.namespace)


def _add_pa(c, name, spec, ns=CHAT.namespace):
    c["peerauthentications"].append(obj("peerauthentications", name, ns, spec=spec))


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: remove(c, "peerauthentications", "default", CHAT.namespace), "namespace-level PeerAuthentications: none"),
    (lambda c: _pa(c)["spec"]["mtls"].update(mode="PERMISSIVE"), "mtls.mode PERMISSIVE"),
    (lambda c: _pa(c)["spec"].pop("mtls"), "default mode UNSET"),
    (lambda c: _add_pa(c, "legacy", {"selector": {"matchLabels": {"app": "bff"}}, "mtls": {"mode": "DISABLE"}}),
     "mtls.mode DISABLE for pods {'app': 'bff'}"),
    (lambda c: _add_pa(c, "metrics", {"selector": {"matchLabels": {"app": "bff"}}, "mtls": {"mode": "STRICT"},
                                       "portLevelMtls": {"9090": {"mode": "PERMISSIVE"}}}),
     "portLevelMtls 9090: PERMISSIVE"),
], ids=["missing", "permissive", "unset", "workload-disable", "port-permissive"])
def test_peer_authentication_findings(mutate, fragment):
    findings = broken(mutate, tenants.peer_authentication_strict, CHAT, "istio-system")
    assert fragment in text(findings)
    assert "STRICT" in findings[0].fix


def test_mesh_wide_permissive_is_reported_only_without_namespace_strict():
    c = healthy()
    _add_pa(c, "default", {"mtls": {"mode": "PERMISSIVE"}}, ns="istio-system")
    assert run(tenants.peer_authentication_strict, c, CHAT, "istio-system") == []
    remove(c, "peerauthentications", "default", CHAT.namespace)
    assert "mesh-wide PeerAuthentication istio-system/default mode PERMISSIVE" in text(
        run(tenants.peer_authentication_strict, c, CHAT, "istio-system"))


def test_strict_workload_level_policy_is_not_an_override():
    c = healthy()
    _add_pa(c, "bff", {"selector": {"matchLabels": {"app": "bff"}}, "mtls": {"mode": "STRICT"}})
    assert run(tenants.peer_authentication_strict, c, CHAT, "istio-system") == []


# -- NetworkPolicies --------------------------------------------------------------------------
def _allow(c):
    return find(c, "networkpolicies", "allow-mesh-intra-namespace", CHAT.namespace)


def _set_ports(c, ports):
    _allow(c)["spec"]["ingress"][0]["ports"] = ports


@pytest.mark.parametrize("mutate", [
    lambda c: _set_ports(c, [{"protocol": "TCP", "port": 8080}]),
    lambda c: _set_ports(c, [{"protocol": "UDP", "port": 15008}]),
    lambda c: _set_ports(c, [{"port": 15000, "endPort": 15007}]),
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"podSelector": {"matchLabels": {"app": "bff"}}}]}),
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}),
    lambda c: remove(c, "networkpolicies", "allow-mesh-intra-namespace", CHAT.namespace),
], ids=["app-port-only", "udp", "range-below", "only-from-bff", "other-namespaces", "deny-only"])
def test_hbone_denied_fails(mutate):
    findings = broken(mutate, tenants.network_policies_admit_hbone, CHAT)
    assert findings and "ingress TCP 15008 (HBONE) admitted from" in text(findings)
    assert "default-deny" in text(findings)
    assert "15008" in findings[0].fix


@pytest.mark.parametrize("mutate", [
    lambda c: _set_ports(c, [{"port": 15000, "endPort": 15010}]),
    lambda c: _set_ports(c, []),
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": CHAT.namespace}}}]}),
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"ipBlock": {"cidr": "10.128.0.0/16"}}]}),
    lambda c: c["networkpolicies"].clear(),
], ids=["range", "all-ports", "own-namespace-by-name", "pod-cidr", "no-policies"])
def test_hbone_admitted_passes(mutate):
    assert broken(mutate, tenants.network_policies_admit_hbone, CHAT) == []


def test_egress_policy_blocking_hbone_fails():
    c = healthy()
    c["networkpolicies"].append(network_policy("egress-dns-only", CHAT.namespace, types=["Egress"],
                                                egress=[{"ports": [{"protocol": "UDP", "port": 53}]}]))
    assert "egress TCP 15008 (HBONE) admitted to" in text(run(tenants.network_policies_admit_hbone, c, CHAT))


# -- pods -------------------------------------------------------------------------------------
def _bff(c):
    return find(c, "pods", "bff-0", CHAT.namespace)


def test_pod_without_redirection_fails_and_settles_while_namespace_is_labelled():
    c = healthy()
    _bff(c)["metadata"]["annotations"] = {}
    findings = run(tenants.pods_enrolled, c, CHAT)
    assert "annotation ambient.istio.io/redirection=enabled" in text(findings)
    assert findings[0].settling
    _labels(c, CHAT.namespace).pop("istio.io/dataplane-mode")
    assert not run(tenants.pods_enrolled, c, CHAT)[0].settling


def test_pod_with_sidecar_fails():
    c = healthy()
    _bff(c)["spec"]["containers"].append({"name": "istio-proxy"})
    assert "no istio-proxy sidecar container" in text(run(tenants.pods_enrolled, c, CHAT))


def test_pods_failing_probes_tell_the_bank_payment_story():
    c = healthy()
    c["pods"].append(pod("payment-api-0", CHAT.namespace, {"app": "payment-api"}, ready=False))
    findings = run(tenants.pods_enrolled, c, CHAT)
    assert "not Ready (7 restarts)" in text(findings)
    assert "ztunnel-workload-identity" in findings[0].fix and findings[0].settling


def test_waypoint_and_finished_pods_are_not_workloads():
    c = healthy()
    c["pods"].append(pod("job-0", CHAT.namespace, {"app": "job"}, ambient=False))
    c["pods"][-1]["status"]["phase"] = "Succeeded"
    assert run(tenants.pods_enrolled, c, PROFILE.tenant("apps-team-x")) == []
    assert run(tenants.pods_enrolled, c, CHAT) == []


# -- excluded, sidecar, unknown ---------------------------------------------------------------
def test_excluded_tenant_with_ambient_label_fails_with_its_reason():
    c = healthy()
    assert run(tenants.excluded_tenant_not_enrolled, c, PAYMENT) == []
    _labels(c, "bank-payment")["istio.io/dataplane-mode"] = "ambient"
    findings = run(tenants.excluded_tenant_not_enrolled, c, PAYMENT)
    assert "request impersonation authentication failure" in findings[0].expected


def test_sidecar_tenant():
    c = healthy()
    tenant = Tenant(namespace="legacy", mode="sidecar")
    c["namespaces"].append(obj("namespaces", "legacy", labels={"istio-injection": "enabled"}))
    assert run(tenants.sidecar_tenant_injected, c, tenant) == []
    _labels(c, "legacy").update({"istio.io/dataplane-mode": "ambient"})
    assert "Pick one mode per ns" in text(run(tenants.sidecar_tenant_injected, c, tenant))
    _labels(c, "legacy").clear()
    assert "label istio-injection=enabled" in text(run(tenants.sidecar_tenant_injected, c, tenant))


def test_unknown_ambient_namespace_is_reported_unless_ignored():
    c = healthy()
    assert run(tenants.no_unknown_ambient_namespaces, c, PROFILE) == []
    c["namespaces"].append(obj("namespaces", "shadow-it", labels={"istio.io/dataplane-mode": "ambient"}))
    findings = run(tenants.no_unknown_ambient_namespaces, c, PROFILE)
    assert [f.object for f in findings] == ["Namespace shadow-it"]
    ignoring = dataclasses.replace(PROFILE, ignored_namespaces=("shadow-it",))
    assert run(tenants.no_unknown_ambient_namespaces, c, ignoring) == []
