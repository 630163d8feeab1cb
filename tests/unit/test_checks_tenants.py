"""Tenant checks: labels, PeerAuthentication, NetworkPolicies for HBONE, pods, excluded/unknown namespaces."""

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from objects import broken, PROFILE, TENANTS, cond, find, healthy, network_policy, obj, pod, remove, run, text

from ossm_conformance.checks import tenants
from ossm_conformance.profile import OptOut, ProfileError, Tenant, load_profile

CHAT = PROFILE.tenant("bank-employees-jboss-chat")
PAYMENT = PROFILE.tenant("bank-payment")


def _labels(c, ns):
    return find(c, "namespaces", ns)["metadata"].setdefault("labels", {})


@pytest.mark.parametrize("ns", TENANTS)
@pytest.mark.parametrize("check", [tenants.ambient_namespace_enrolled, tenants.network_policies_admit_hbone, tenants.pods_redirected_and_ready],
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
    findings = broken(mutate, tenants.ambient_namespace_enrolled, CHAT)
    assert fragment in text(findings)
    assert "CNI plugin not active on the node; or namespace not labelled" in findings[0].fix
    assert not findings[0].settling


@pytest.mark.parametrize("label", [{"istio-injection": "enabled"}, {"istio.io/rev": "default"}])
def test_mixed_mode_namespace_fails(label):
    c = healthy()
    _labels(c, CHAT.namespace).update(label)
    findings = run(tenants.ambient_namespace_enrolled, c, CHAT)
    assert "Pick one mode per ns" in text(findings)
    assert next(iter(label)) in findings[0].actual


def test_missing_tenant_namespace_is_named():
    c = healthy()
    remove(c, "namespaces", CHAT.namespace)
    findings = run(tenants.ambient_namespace_enrolled, c, CHAT)
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
    (lambda c: _pa(c)["spec"].pop("mtls"), "mtls.mode UNSET -> PERMISSIVE inherited from no mesh-wide policy"),
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
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}),
    lambda c: remove(c, "networkpolicies", "allow-mesh-intra-namespace", CHAT.namespace),
], ids=["app-port-only", "udp", "range-below", "other-namespaces", "deny-only"])
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
    # bff is the pilot's only client: admitting HBONE from it alone admits every profiled edge.
    lambda c: _allow(c)["spec"]["ingress"][0].update({"from": [{"podSelector": {"matchLabels": {"app": "bff"}}}]}),
], ids=["range", "all-ports", "own-namespace-by-name", "pod-cidr", "no-policies", "only-from-the-edges-client"])
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
    findings = run(tenants.pods_redirected_and_ready, c, CHAT)
    assert "annotation ambient.istio.io/redirection=enabled" in text(findings)
    assert findings[0].settling
    _labels(c, CHAT.namespace).pop("istio.io/dataplane-mode")
    assert not run(tenants.pods_redirected_and_ready, c, CHAT)[0].settling


def test_pod_with_sidecar_fails():
    c = healthy()
    _bff(c)["spec"]["containers"].append({"name": "istio-proxy"})
    assert "istio-proxy in spec.containers" in text(run(tenants.pods_redirected_and_ready, c, CHAT))


def test_pods_failing_probes_tell_the_bank_payment_story():
    c = healthy()
    c["pods"].append(pod("payment-api-0", CHAT.namespace, {"app": "payment-api"}, ready=False))
    findings = run(tenants.pods_redirected_and_ready, c, CHAT)
    assert "not Ready (7 restarts)" in text(findings)
    assert "ztunnel-workload-identity" in findings[0].fix and findings[0].settling


def test_waypoint_and_finished_pods_are_not_workloads():
    c = healthy()
    c["pods"].append(pod("job-0", CHAT.namespace, {"app": "job"}, ambient=False))
    c["pods"][-1]["status"]["phase"] = "Succeeded"
    assert run(tenants.pods_redirected_and_ready, c, PROFILE.tenant("apps-team-x")) == []
    assert run(tenants.pods_redirected_and_ready, c, CHAT) == []


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
    assert run(tenants.unknown_ambient_namespaces, c, PROFILE) == []
    c["namespaces"].append(obj("namespaces", "shadow-it", labels={"istio.io/dataplane-mode": "ambient"}))
    findings = run(tenants.unknown_ambient_namespaces, c, PROFILE)
    assert [f.object for f in findings] == ["Namespace shadow-it"]
    ignoring = dataclasses.replace(PROFILE, ignored_namespaces=("shadow-it",))
    assert run(tenants.unknown_ambient_namespaces, c, ignoring) == []


# -- NetworkPolicies per profiled edge ---------------------------------------------------------
HBONE_AND_APP = [{"protocol": "TCP", "port": 15008}, {"protocol": "TCP", "port": 8080}]


def _micro_segment(c, destinations=("chat-backend", "eap-domain-group-a", "eap-domain-group-b")):
    """The pilot micro-segmented: deny all, then admit bff -> each destination (ingress there,
    egress at bff), and DNS."""
    ns = CHAT.namespace
    c["networkpolicies"] = [p for p in c["networkpolicies"] if p["metadata"]["namespace"] != ns]
    c["networkpolicies"].append(network_policy("default-deny", ns, types=["Ingress", "Egress"], ingress=[], egress=[]))
    c["networkpolicies"].append(network_policy("allow-dns", ns, types=["Egress"], egress=[{"ports": [{"protocol": "UDP", "port": 5353}]}]))
    bff = {"podSelector": {"matchLabels": {"app": "bff"}}}
    for d in destinations:
        c["networkpolicies"].append(network_policy(f"{d}-from-bff", ns, {"matchLabels": {"app": d}}, types=["Ingress"],
                                                    ingress=[{"from": [bff], "ports": HBONE_AND_APP}]))
    c["networkpolicies"].append(network_policy("bff-egress", ns, {"matchLabels": {"app": "bff"}}, types=["Egress"], egress=[
        {"to": [{"podSelector": {"matchLabels": {"app": d}}} for d in destinations], "ports": HBONE_AND_APP}]))


def test_micro_segmented_tenant_admitting_its_edges_passes():
    c = healthy()
    _micro_segment(c)
    assert run(tenants.network_policies_admit_hbone, c, CHAT) == []
    # The same policies under the all-pairs rule (no edges profiled) deny chat-backend <-> eap-*.
    assert run(tenants.network_policies_admit_hbone, c, dataclasses.replace(CHAT, edges=()))


def test_dropping_hbone_for_one_edge_names_that_edge():
    c = healthy()
    _micro_segment(c)
    find(c, "networkpolicies", "eap-domain-group-a-from-bff", CHAT.namespace)["spec"]["ingress"][0]["ports"] = \
        [{"protocol": "TCP", "port": 8080}]
    findings = run(tenants.network_policies_admit_hbone, c, CHAT)
    assert [f.object for f in findings] == ["Pod bank-employees-jboss-chat/eap-domain-group-a-0"]
    assert "ingress TCP 15008 (HBONE) admitted from the pods of edge bank-employees-jboss-chat:bff->eap-domain-group-a" \
        in findings[0].expected
    assert "denied from bff-0 by NetworkPolicies default-deny, eap-domain-group-a-from-bff" in findings[0].actual


def test_egress_of_the_edges_client_is_judged_too():
    c = healthy()
    _micro_segment(c)
    find(c, "networkpolicies", "bff-egress", CHAT.namespace)["spec"]["egress"][0]["to"].pop()  # eap-domain-group-b
    findings = run(tenants.network_policies_admit_hbone, c, CHAT)
    assert [f.object for f in findings] == ["Pod bank-employees-jboss-chat/bff-0"]
    assert "egress TCP 15008 (HBONE) admitted to the pods of edge bank-employees-jboss-chat:bff->eap-domain-group-b" \
        in findings[0].expected


def test_traffic_to_and_from_the_waypoint_must_be_admitted():
    c = healthy()
    x = PROFILE.tenant("apps-team-x")
    c["networkpolicies"].append(network_policy("web-only-from-web", x.namespace, {"matchLabels": {"app": "web"}},
                                               types=["Ingress"], ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]))
    findings = run(tenants.network_policies_admit_hbone, c, x)
    assert [f.object for f in findings] == ["Pod apps-team-x/web-0"]
    assert "edge apps-team-x:frontend->web through waypoint waypoint" in findings[0].expected
    assert "denied from waypoint-0" in findings[0].actual


def _hop_by_hop(c, ns="apps-team-x"):
    """apps-team-x micro-segmented exactly as its traffic flows through the waypoint: deny all, then
    frontend -> waypoint:15008 and waypoint -> web:15008, each at both ends."""
    def on(app_labels):
        return {"matchLabels": app_labels}
    frontend, web = {"app": "frontend"}, {"app": "web"}
    waypoint = {"gateway.networking.k8s.io/gateway-name": "waypoint"}
    hbone = [{"protocol": "TCP", "port": 15008}]
    c["networkpolicies"].append(network_policy("default-deny", ns, types=["Ingress", "Egress"], ingress=[], egress=[]))
    c["networkpolicies"].append(network_policy("frontend-to-waypoint", ns, on(frontend), types=["Egress"],
                                               egress=[{"to": [{"podSelector": on(waypoint)}], "ports": hbone}]))
    c["networkpolicies"].append(network_policy("waypoint-hops", ns, on(waypoint), types=["Ingress", "Egress"],
                                               ingress=[{"from": [{"podSelector": on(frontend)}], "ports": hbone}],
                                               egress=[{"to": [{"podSelector": on(web)}], "ports": hbone}]))
    c["networkpolicies"].append(network_policy("web-from-waypoint", ns, on(web), types=["Ingress"],
                                               ingress=[{"from": [{"podSelector": on(waypoint)}], "ports": hbone}]))


def test_hop_by_hop_policies_through_the_waypoint_pass():
    """No waypoint -> frontend, web -> waypoint or direct frontend -> web path is needed."""
    c = healthy()
    _hop_by_hop(c)
    assert run(tenants.network_policies_admit_hbone, c, PROFILE.tenant("apps-team-x")) == []


def test_hop_by_hop_denied_at_the_waypoint_names_the_hop():
    c = healthy()
    _hop_by_hop(c)
    find(c, "networkpolicies", "waypoint-hops", "apps-team-x")["spec"]["egress"] = []
    findings = run(tenants.network_policies_admit_hbone, c, PROFILE.tenant("apps-team-x"))
    assert [f.object for f in findings] == ["Pod apps-team-x/waypoint-0"]
    assert "egress TCP 15008 (HBONE) admitted to the pods of edge apps-team-x:frontend->web through waypoint" \
        in findings[0].expected and "denied to web-0" in findings[0].actual


def test_a_service_opted_out_of_the_waypoint_needs_the_direct_path():
    c = healthy()
    _hop_by_hop(c)
    find(c, "services", "web", "apps-team-x")["metadata"]["labels"] = {"istio.io/use-waypoint": "none"}
    findings = run(tenants.network_policies_admit_hbone, c, PROFILE.tenant("apps-team-x"))
    assert {f.object for f in findings} == {"Pod apps-team-x/frontend-0", "Pod apps-team-x/web-0"}
    assert all(f.expected.endswith("the pods of edge apps-team-x:frontend->web") for f in findings)


# -- PeerAuthentication precedence (ComposePeerAuthentication) -----------------------------------
def _aged(c, name_, stamp, ns=CHAT.namespace):
    find(c, "peerauthentications", name_, ns)["metadata"]["creationTimestamp"] = stamp


def test_the_oldest_namespace_wide_policy_decides():
    c = healthy()
    _add_pa(c, "legacy", {"mtls": {"mode": "PERMISSIVE"}})
    _aged(c, "default", "2026-05-12T10:00:00Z")
    _aged(c, "legacy", "2026-01-02T08:00:00Z")
    findings = run(tenants.peer_authentication_strict, c, CHAT, "istio-system")
    assert [f.object for f in findings] == ["PeerAuthentication bank-employees-jboss-chat/legacy"]
    assert "the oldest of the namespace-wide policies (default, legacy)" in findings[0].actual
    _aged(c, "legacy", "2026-06-01T08:00:00Z")  # newer than default: Istio ignores it
    assert run(tenants.peer_authentication_strict, c, CHAT, "istio-system") == []


@pytest.mark.parametrize("mesh_mode, conformant", [("STRICT", True), ("PERMISSIVE", False), (None, False)])
def test_unset_namespace_policy_inherits_the_mesh_wide_mode(mesh_mode, conformant):
    c = healthy()
    _pa(c)["spec"].pop("mtls")
    if mesh_mode:
        _add_pa(c, "default", {"mtls": {"mode": mesh_mode}}, ns="istio-system")
    findings = run(tenants.peer_authentication_strict, c, CHAT, "istio-system")
    assert (findings == []) is conformant
    if not conformant:
        assert f"mtls.mode UNSET -> PERMISSIVE inherited from" in findings[0].actual


# -- pods, per pod as istio-cni and a person judge them -----------------------------------------
DEMO = PROFILE.tenant("ossm3-demo")


def test_everyday_pods_are_not_judged():
    """The fixture's completed Job pod, Evicted pod and istio-class gateway pod (labelled none)."""
    c = healthy()
    assert run(tenants.pods_redirected_and_ready, c, DEMO) == []
    find(c, "pods", "demo-client-0", DEMO.namespace)["metadata"]["deletionTimestamp"] = "2026-05-12T10:00:00Z"
    find(c, "pods", "demo-client-0", DEMO.namespace)["status"]["conditions"] = []
    assert run(tenants.pods_redirected_and_ready, c, DEMO) == []


def test_opted_out_pod_fails_unless_the_profile_allows_it():
    c = healthy()
    client = find(c, "pods", "demo-client-0", DEMO.namespace)
    client["metadata"]["labels"]["istio.io/dataplane-mode"] = "none"
    client["metadata"]["annotations"] = {}
    client["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "demo-client-5d8f7c9b6d", "controller": True}]
    client["metadata"]["labels"]["pod-template-hash"] = "5d8f7c9b6d"
    findings = run(tenants.pods_redirected_and_ready, c, DEMO)
    assert [f.object for f in findings] == ["Pod ossm3-demo/demo-client-0"]
    assert "istio.io/dataplane-mode=none" in findings[0].actual and "opt_outs" in findings[0].fix
    allowed = dataclasses.replace(DEMO, opt_outs=(OptOut("demo-client", "talks only to the legacy mainframe"),))
    assert run(tenants.pods_redirected_and_ready, c, allowed) == []


def test_pod_bypassing_inbound_capture_fails():
    c = healthy()
    _bff(c)["metadata"]["annotations"]["ambient.istio.io/bypass-inbound-capture"] = "true"
    findings = run(tenants.pods_redirected_and_ready, c, CHAT)
    assert [f.object for f in findings] == ["Pod bank-employees-jboss-chat/bff-0"]
    assert "STRICT is not enforced" in findings[0].fix


def test_native_sidecar_is_a_sidecar():
    c = healthy()
    _bff(c)["spec"]["initContainers"] = [{"name": "istio-proxy", "restartPolicy": "Always"}]
    assert "istio-proxy in spec.initContainers (native sidecar)" in text(run(tenants.pods_redirected_and_ready, c, CHAT))


def test_pod_stuck_in_container_creating_names_the_cni_event():
    c = healthy()
    stuck = pod("chat-backend-1", CHAT.namespace, {"app": "chat-backend"}, ambient=False, ready=False)
    stuck["status"] = {"phase": "Pending", "conditions": [cond("PodScheduled"), cond("Ready", "False")],
                       "containerStatuses": [{"name": "chat-backend", "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    c["pods"].append(stuck)
    c["events"] += [obj("events", "chat-backend-1.a", CHAT.namespace, involvedObject={"kind": "Pod", "name": "chat-backend-1"},
                        reason="Scheduled", message="Successfully assigned", lastTimestamp="2026-05-12T10:02:00Z",
                        type="Normal"),
                    obj("events", "chat-backend-1.b", CHAT.namespace, involvedObject={"kind": "Pod", "name": "chat-backend-1"},
                        reason="FailedCreatePodSandBox", message="plugin type=\"istio-cni\" failed (add)",
                        lastTimestamp="2026-05-12T10:01:00Z", type="Warning")]
    findings = run(tenants.pods_redirected_and_ready, c, CHAT)
    assert [f.object for f in findings] == ["Pod bank-employees-jboss-chat/chat-backend-1"]
    assert findings[0].actual.startswith("Pending (ContainerCreating) on node worker-0; latest event FailedCreatePodSandBox")
    assert findings[0].settling


# -- excluded and unknown: enrolment by the pod's own label ----------------------------------
def test_excluded_tenant_pod_enrolled_by_its_own_label_fails():
    c = healthy()
    c["pods"].append(pod("payment-api-0", "bank-payment", {"app": "payment-api", "istio.io/dataplane-mode": "ambient"}))
    findings = run(tenants.excluded_tenant_not_enrolled, c, PAYMENT)
    assert [f.object for f in findings] == ["Pod bank-payment/payment-api-0"]
    assert "pod label istio.io/dataplane-mode=ambient" in findings[0].actual
    assert "request impersonation authentication failure" in findings[0].expected


def test_excluded_tenant_in_sidecar_mode_fails_too():
    c = healthy()
    _labels(c, "bank-payment")["istio-injection"] = "enabled"
    c["pods"].append(pod("payment-api-0", "bank-payment", {"app": "payment-api"}, ambient=False,
                         containers=["payment-api", "istio-proxy"]))
    findings = run(tenants.excluded_tenant_not_enrolled, c, PAYMENT)
    assert [f.object for f in findings] == ["Namespace bank-payment", "Pod bank-payment/payment-api-0"]


def test_pods_enrolled_by_their_own_label_in_an_unprofiled_namespace_fail():
    c = healthy()
    c["namespaces"].append(obj("namespaces", "shadow-it"))
    c["pods"].append(pod("tool-0", "shadow-it", {"app": "tool", "istio.io/dataplane-mode": "ambient"}))
    findings = run(tenants.unknown_ambient_namespaces, c, PROFILE)
    assert [f.object for f in findings] == ["Namespace shadow-it"]
    assert "pods enrolled by their own istio.io/dataplane-mode=ambient label: tool-0" in findings[0].actual


# -- the profile's opt-outs -------------------------------------------------------------------------
def _profile_with(tmp_path, opt_outs, mode="ambient"):
    data = yaml.safe_load(Path(PROFILE.source).read_text())
    tenant = next(t for t in data["tenants"] if t["namespace"] == "ossm3-demo")
    tenant["opt_outs"], tenant["mode"] = opt_outs, mode
    if mode != "ambient":
        tenant.pop("edges", None)
        tenant["reason"] = "test"
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_opt_outs_load_from_the_profile(tmp_path):
    profile = load_profile(_profile_with(tmp_path, [{"workload": "demo-client", "reason": "legacy protocol"}]))
    assert profile.tenant("ossm3-demo").opt_outs == (OptOut("demo-client", "legacy protocol"),)


@pytest.mark.parametrize("opt_outs, mode, problem", [
    ([{"workload": "demo-client"}], "ambient", "field 'tenants[1].opt_outs[0].reason': required"),
    ([{"workload": "demo-client", "reason": " "}], "ambient", "an opt-out needs a reason"),
    ([{"workload": "demo-client", "reason": "x"}], "excluded", "only ambient tenants have opt-outs"),
], ids=["no-reason", "blank-reason", "not-ambient"])
def test_opt_outs_need_a_reason_and_an_ambient_tenant(tmp_path, opt_outs, mode, problem):
    with pytest.raises(ProfileError, match=re.escape(problem)):
        load_profile(_profile_with(tmp_path, opt_outs, mode))


# -- the injection webhook's namespaceSelector (istio-discovery mutatingwebhook.yaml) ----------
@pytest.mark.parametrize("ns_labels", [{"istio-injection": "disabled"},
                                       {"istio-injection": "disabled", "istio.io/rev": "default"}],
                         ids=["opt-out", "opt-out-with-revision"])
def test_injection_disabled_is_no_sidecar_mode(ns_labels):
    """istio-injection=disabled matches none of the webhook's namespaceSelectors: no sidecars."""
    c = healthy()
    _labels(c, "bank-payment").update(ns_labels)
    assert run(tenants.excluded_tenant_not_enrolled, c, PAYMENT) == []
    _labels(c, CHAT.namespace).update(ns_labels)
    assert run(tenants.ambient_namespace_enrolled, c, CHAT) == []


def test_injection_enabled_in_the_excluded_tenant_still_fails():
    c = healthy()
    _labels(c, "bank-payment").update({"istio-injection": "enabled"})
    findings = run(tenants.excluded_tenant_not_enrolled, c, PAYMENT)
    assert [f.actual for f in findings] == ["istio-injection=enabled"]
    assert "istio-injection=enabled" in findings[0].expected


# -- pods the scheduler could not place --------------------------------------------------------
def _unschedulable(name_: str) -> dict:
    """A scale-up past capacity as the scheduler leaves it: Pending, no nodeName, PodScheduled=False."""
    p = pod(name_, CHAT.namespace, {"app": "chat-backend"}, ambient=False, ready=False)
    del p["spec"]["nodeName"]
    p["status"] = {"phase": "Pending", "conditions": [cond("PodScheduled", "False", "Unschedulable",
                                                           "0/6 nodes are available: 3 Insufficient cpu.")]}
    return p


def test_unscheduled_pod_is_not_the_meshs_business():
    c = healthy()
    c["pods"].append(_unschedulable("chat-backend-2"))
    c["events"].append(obj("events", "chat-backend-2.a", CHAT.namespace, type="Warning", reason="FailedScheduling",
                           involvedObject={"kind": "Pod", "name": "chat-backend-2"},
                           message="0/6 nodes are available: 3 Insufficient cpu."))
    assert run(tenants.pods_redirected_and_ready, c, CHAT) == []
    # Once placed on a node and stuck creating its sandbox, it is judged again.
    c["pods"][-1]["spec"]["nodeName"] = "worker-0"
    c["pods"][-1]["status"]["containerStatuses"] = [{"name": "chat-backend", "state": {"waiting": {"reason": "ContainerCreating"}}}]
    assert [f.object for f in run(tenants.pods_redirected_and_ready, c, CHAT)] == [f"Pod {CHAT.namespace}/chat-backend-2"]
