"""Each named fault shows up the way the runbook's failure mode does, and reset restores the twin
exactly (a normalized dump of every twin object compared before and after)."""

from __future__ import annotations

import pytest
from lab import faults, reconcile
from lab.kubeapi import Api
from lab.wait import polling
from lab_helpers import cond

pytestmark = pytest.mark.lab

PILOT = "bank-employees-jboss-chat"


def _sail(api: Api, kind: str, name: str = "default") -> dict:
    return api.get(f"/apis/sailoperator.io/v1/{kind}/{name}")


def _pods(api: Api, ns: str) -> list[dict]:
    return api.get(f"/api/v1/namespaces/{ns}/pods")["items"]


def _ready(pod: dict) -> bool:
    return cond(pod, "Ready")["status"] == "True"


def _missing(api: Api, path: str) -> bool:
    return api.get_or_none(path) is None


def check_rbac_missing(api):
    assert _missing(api, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{PILOT}/rolebindings/ztunnel-workload-identity")
    assert _missing(api, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{PILOT}/roles/ztunnel-workload-identity")
    pods = _pods(api, PILOT)
    assert pods and not any(_ready(p) for p in pods)
    assert all(p["status"]["containerStatuses"][0]["restartCount"] > 0 for p in pods)
    messages = [e["message"] for e in api.get(f"/api/v1/namespaces/{PILOT}/events")["items"]]
    assert any(m.startswith("Readiness probe failed") for m in messages)
    assert any("request impersonation authentication failure" in m for m in messages)


REBOOTING = "spoke-dc-v6-master-2"  # the twin's everyday node in a MachineConfig reboot


def _check_daemonset(api, ns, ds, cr, reason, dependency, node):
    status = api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/{ds}")["status"]
    assert (status["numberReady"], status["currentNumberScheduled"]) == (4, 6)
    unready = sorted(p["spec"]["nodeName"] for p in _pods(api, ns) if not _ready(p))
    assert unready == sorted([node, REBOOTING])
    component = _sail(api, cr)
    assert component["status"]["state"] == reason
    assert cond(component, "Ready")["message"] == f"not all {ds} pods are ready"
    istio = _sail(api, "istios")
    assert istio["status"]["state"] == dependency
    assert cond(istio, "DependenciesHealthy")["reason"] == dependency


def check_cni_degraded(api):
    _check_daemonset(api, "istio-cni", "istio-cni-node", "istiocnis", "DaemonSetNotReady", "IstioCNINotHealthy",
                     "spoke-dc-v6-worker-2")


def check_ztunnel_degraded(api):
    # IstioCNI is checked first and is already unhealthy (the rebooting node): Istio keeps that reason.
    _check_daemonset(api, "ztunnel", "ztunnel", "ztunnels", "DaemonSetNotReady", "IstioCNINotHealthy",
                     "spoke-dc-v6-worker-2")


def check_unlabelled(api):
    ns = api.get(f"/api/v1/namespaces/{PILOT}")
    assert "istio.io/dataplane-mode" not in ns["metadata"].get("labels", {})
    assert not any("ambient.istio.io/redirection" in p["metadata"].get("annotations", {}) for p in _pods(api, PILOT))


def check_mixed_mode(api):
    labels = api.get("/api/v1/namespaces/ossm3-demo")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled" and labels["istio.io/dataplane-mode"] == "ambient"
    assert any(c["name"] == "istio-proxy" for p in _pods(api, "ossm3-demo") for c in p["spec"]["containers"])
    assert _sail(api, "istios")["status"]["revisions"]["inUse"] == 1


def check_waypoint_missing(api):
    assert _missing(api, "/apis/gateway.networking.k8s.io/v1/namespaces/apps-team-x/gateways/waypoint")
    assert _missing(api, "/apis/apps/v1/namespaces/apps-team-x/deployments/waypoint")
    assert not api.get_or_none("/apis/security.istio.io/v1/namespaces/apps-team-x/authorizationpolicies/web-l7-read-only") is None


def check_np_blocks_apiserver(api):
    policies = api.get("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies")["items"]
    egress = [p for p in policies if "Egress" in p["spec"].get("policyTypes", [])]
    assert egress and all(not p["spec"].get("egress") for p in egress)


def check_np_blocks_xds(api):
    policy = api.get("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies/istiod-allow-ingress")
    xds = [r for r in policy["spec"]["ingress"] if any(p.get("port") == 15010 for p in r.get("ports", []))]
    assert xds and all(r.get("from") == [{"podSelector": {}}] for r in xds)


def _condition(obj, type_):
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)


def check_ztunnel_skips_node(api):
    ds = api.get("/apis/apps/v1/namespaces/ztunnel/daemonsets/ztunnel")
    terms = ds["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["spoke-dc-v6-worker-0"]
    assert ds["status"]["desiredNumberScheduled"] == 5
    assert "spoke-dc-v6-worker-0" not in {p["spec"]["nodeName"] for p in _pods(api, "ztunnel")}
    zt = _sail(api, "ztunnels")
    assert zt["spec"]["values"]["ztunnel"]["affinity"] and zt["status"]["observedGeneration"] == zt["metadata"]["generation"]


def check_waypoint_crashloop(api):
    dep = api.get("/apis/apps/v1/namespaces/apps-team-x/deployments/waypoint")
    assert cond(dep, "Available")["status"] == "False"
    waypoint_pods = [p for p in _pods(api, "apps-team-x") if p["metadata"]["name"].startswith("waypoint-")]
    assert waypoint_pods and all(p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
                                 for p in waypoint_pods)
    gateway = api.get("/apis/gateway.networking.k8s.io/v1/namespaces/apps-team-x/gateways/waypoint")
    assert cond(gateway, "Programmed")["status"] == "True"  # istiod follows the address, not the pods


def check_waypoint_for_workload(api):
    gateway = api.get("/apis/gateway.networking.k8s.io/v1/namespaces/apps-team-x/gateways/waypoint")
    assert gateway["metadata"]["labels"]["istio.io/waypoint-for"] == "workload"


def check_service_opts_out(api):
    svc = api.get("/api/v1/namespaces/apps-team-x/services/web")
    assert svc["metadata"]["labels"]["istio.io/use-waypoint"] == "none" and _condition(svc, "istio.io/WaypointBound") is None
    policy = api.get("/apis/security.istio.io/v1/namespaces/apps-team-x/authorizationpolicies/web-deny-admin")
    assert (_condition(policy, "WaypointAccepted")["status"], _condition(policy, "WaypointAccepted")["reason"]) == \
        ("False", "AncestorNotBound")


def check_virtualservice(api):
    vs = api.get("/apis/networking.istio.io/v1/namespaces/ossm3-demo/virtualservices/demo-server-retries")
    assert "gateways" not in vs["spec"] and vs["spec"]["http"][0]["retries"]["attempts"] == 3


def check_selector_l7(api):
    policy = api.get("/apis/security.istio.io/v1/namespaces/apps-team-x/authorizationpolicies/web-get-only")
    assert policy["spec"]["selector"] and _condition(policy, "ZtunnelAccepted")["reason"] == "UnsupportedValue"


def check_sidecar(api):
    assert api.get("/apis/networking.istio.io/v1/namespaces/ossm3-demo/sidecars/default")["spec"]["egress"]


def check_ztunnel_np(api):
    policy = api.get("/apis/networking.k8s.io/v1/namespaces/ztunnel/networkpolicies/default-deny-egress")
    assert policy["spec"]["policyTypes"] == ["Egress"] and policy["spec"]["podSelector"] == {}


def check_gateway_np(api):
    policy = api.get("/apis/networking.k8s.io/v1/namespaces/ossm3-demo/networkpolicies/demo-ingress-gateway")
    ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])]
    assert 15012 not in ports and 15008 in ports


def check_istiod_ingress_omits_gateways(api):
    policy = api.get("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies/istiod-allow-ingress")
    sources = [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
    assert sources == ["ztunnel", "apps-team-x"]


def check_own_catalog(api):
    cs = api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-marketplace/catalogsources/redhat-operators")
    assert cs["status"]["connectionState"]["lastObservedState"] == "TRANSIENT_FAILURE"
    for sub in api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-operators/subscriptions")["items"]:
        own = [h for h in sub["status"]["catalogHealth"] if h["catalogSourceRef"]["name"] == "redhat-operators"]
        assert own and not own[0]["healthy"]


def check_kiali_drift(api):
    ns = "/apis/operators.coreos.com/v1alpha1/namespaces/openshift-operators"
    sub = api.get(f"{ns}/subscriptions/kiali-ossm")
    assert sub["status"]["installedCSV"] == sub["status"]["currentCSV"] == "kiali-operator.v2.22.3"
    assert _missing(api, f"{ns}/clusterserviceversions/kiali-operator.v2.22.2")
    assert api.get(f"{ns}/installplans/install-kx4m2")["status"]["phase"] == "Complete"


def check_untrusted_ztunnel(api):
    assert "trustedZtunnelNamespace" not in _sail(api, "istios")["spec"]["values"].get("pilot", {})
    assert "CA_TRUSTED_NODE_ACCOUNTS" not in _sail(api, "istiorevisions")["spec"]["values"]["pilot"]["env"]


def check_shared_gateway(api):
    network = api.get("/apis/operator.openshift.io/v1/networks/cluster")
    assert network["spec"]["defaultNetwork"]["ovnKubernetesConfig"]["gatewayConfig"]["routingViaHost"] is False


def check_pa_missing(api):
    assert _missing(api, f"/apis/security.istio.io/v1/namespaces/{PILOT}/peerauthentications/default")


def check_pa_permissive(api):
    pa = api.get(f"/apis/security.istio.io/v1/namespaces/{PILOT}/peerauthentications/default")
    assert pa["spec"]["mtls"]["mode"] == "PERMISSIVE"


def check_csv_failed(api):
    csv = api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-operators/clusterserviceversions/servicemeshoperator3.v3.3.7")
    assert (csv["status"]["phase"], csv["status"]["reason"]) == ("Failed", "InstallComponentFailed")
    dep = api.get("/apis/apps/v1/namespaces/openshift-operators/deployments/servicemesh-operator3")
    assert cond(dep, "Available")["status"] == "False" and not dep["status"].get("availableReplicas")


def check_istio_not_ready(api):
    dep = api.get("/apis/apps/v1/namespaces/istio-system/deployments/istiod")
    assert not dep["status"].get("readyReplicas")
    for kind in ("istiorevisions", "istios"):
        obj = _sail(api, kind)
        assert obj["status"]["state"] == "IstiodNotReady"
        assert cond(obj, "Ready")["message"] == "not all istiod pods are ready"


def check_plaintext(api):
    cni = [p for p in _pods(api, "istio-cni") if p["spec"]["nodeName"] == "spoke-dc-v6-worker-1"]
    assert len(cni) == 1 and not _ready(cni[0])
    bff = next(p for p in _pods(api, PILOT) if p["metadata"]["labels"]["app"] == "bff")
    assert "ambient.istio.io/redirection" not in bff["metadata"].get("annotations", {})
    others = [p for p in _pods(api, PILOT) if p["spec"]["nodeName"] != "spoke-dc-v6-worker-1"]
    assert all(p["metadata"]["annotations"]["ambient.istio.io/redirection"] == "enabled" for p in others)


def check_unknown_ambient(api):
    ns = api.get(f"/api/v1/namespaces/{faults.UNKNOWN_AMBIENT_NS}")
    assert ns["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"


def _by_app(api, ns: str, app: str) -> dict:
    return next(p for p in _pods(api, ns) if p["metadata"]["labels"].get("app") == app)


def check_excluded_pod_enrolled(api):
    assert "istio.io/dataplane-mode" not in api.get("/api/v1/namespaces/bank-payment")["metadata"].get("labels", {})
    pod = _by_app(api, "bank-payment", "payment-api")
    assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "ambient"
    assert pod["metadata"]["annotations"]["ambient.istio.io/redirection"] == "enabled"


def check_cluster_wide_grant(api):
    crb = api.get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ztunnel-workload-identity")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]
    role = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/ztunnel-workload-identity")
    assert {v for r in role["rules"] for v in r["verbs"]} == {"create", "impersonate"}


def check_role_over_broad(api):
    role = api.get("/apis/rbac.authorization.k8s.io/v1/namespaces/ossm3-demo/roles/ztunnel-workload-identity")
    assert any("*" in r["verbs"] for r in role["rules"]) and any("secrets" in r["resources"] for r in role["rules"])


def check_bypass_inbound(api):
    annotations = _by_app(api, PILOT, "bff")["metadata"]["annotations"]
    assert annotations["ambient.istio.io/bypass-inbound-capture"] == "true"
    assert annotations["ambient.istio.io/redirection"] == "enabled"


def check_pod_opted_out(api):
    pod = _by_app(api, "ossm3-demo", "demo-client")
    assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    assert "ambient.istio.io/redirection" not in pod["metadata"].get("annotations", {})


def check_native_sidecar(api):
    pod = _by_app(api, "ossm3-demo", "demo-batch")
    proxy = next(c for c in pod["spec"]["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["restartPolicy"] == "Always" and not any(c["name"] == "istio-proxy" for c in pod["spec"]["containers"])
    assert "ambient.istio.io/redirection" not in pod["metadata"].get("annotations", {})


def check_stuck_container_creating(api):
    stuck = [p for p in _pods(api, PILOT) if p["status"]["phase"] == "Pending"]
    assert len(stuck) == 1
    assert stuck[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    events = api.get(f"/api/v1/namespaces/{PILOT}/events")["items"]
    sandbox = [e for e in events if e["involvedObject"]["name"] == stuck[0]["metadata"]["name"]
               and e["reason"] == "FailedCreatePodSandBox"]
    assert sandbox and 'plugin type="istio-cni"' in sandbox[0]["message"] and sandbox[0]["type"] == "Warning"
    assert api.get(f"/apis/apps/v1/namespaces/{PILOT}/deployments/chat-backend")["status"]["unavailableReplicas"] == 1


def check_authorizationpolicy_denies_edge(api):
    policy = api.get(f"/apis/security.istio.io/v1/namespaces/{PILOT}/authorizationpolicies/eap-b-deny-bff")
    assert policy["spec"]["action"] == "DENY" and "targetRefs" not in policy["spec"]  # ztunnel's, not a waypoint's
    assert policy["spec"]["selector"]["matchLabels"] == {"app": "eap-domain-group-b"}


def check_peerauthentication_lets_plaintext_in(api):
    pa = api.get("/apis/security.istio.io/v1/namespaces/ossm3-demo/peerauthentications/demo-server-permissive")
    assert (pa["spec"]["selector"]["matchLabels"], pa["spec"]["mtls"]["mode"]) == ({"app": "demo-server"}, "PERMISSIVE")
    namespace_wide = api.get("/apis/security.istio.io/v1/namespaces/ossm3-demo/peerauthentications/default")
    assert namespace_wide["spec"]["mtls"]["mode"] == "STRICT"


def check_waypoint_pods_gone(api):
    gateway = api.get("/apis/gateway.networking.k8s.io/v1/namespaces/apps-team-x/gateways/waypoint")
    assert cond(gateway, "Programmed")["status"] == "True"  # address assignment, not pod readiness
    dep = api.get("/apis/apps/v1/namespaces/apps-team-x/deployments/waypoint")
    assert dep["spec"]["replicas"] == 0 and not dep["status"].get("replicas")
    assert not [p for p in _pods(api, "apps-team-x") if p["metadata"]["name"].startswith("waypoint-")]


def check_extra_grants_in_tenant(api):
    binding = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{PILOT}/rolebindings/ztunnel-extras")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]
    role = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{PILOT}/roles/ztunnel-extras")
    assert any(r["resources"] == ["secrets"] for r in role["rules"])
    # The pattern itself is untouched: the extra grant sits next to it.
    assert api.get_or_none(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{PILOT}/rolebindings/ztunnel-workload-identity")


def check_excluded_injection_enabled(api):
    labels = api.get("/api/v1/namespaces/bank-payment")["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled" and "istio.io/dataplane-mode" not in labels


CHECKS = {
    "ztunnel-rbac-missing": check_rbac_missing,
    "cni-daemonset-degraded": check_cni_degraded,
    "ztunnel-daemonset-degraded": check_ztunnel_degraded,
    "namespace-unlabelled": check_unlabelled,
    "mixed-mode-namespace": check_mixed_mode,
    "waypoint-missing-for-l7-policy": check_waypoint_missing,
    "istiod-networkpolicy-blocks-xds": check_np_blocks_xds,
    "istiod-networkpolicy-blocks-apiserver": check_np_blocks_apiserver,
    "peerauthentication-missing": check_pa_missing,
    "peerauthentication-permissive": check_pa_permissive,
    "csv-failed": check_csv_failed,
    "istio-not-ready": check_istio_not_ready,
    "plaintext-traffic": check_plaintext,
    "unknown-ambient-namespace": check_unknown_ambient,
    "excluded-tenant-pod-enrolled": check_excluded_pod_enrolled,
    "ztunnel-cluster-wide-grant": check_cluster_wide_grant,
    "tenant-role-over-broad": check_role_over_broad,
    "pod-bypasses-inbound-capture": check_bypass_inbound,
    "pod-opted-out": check_pod_opted_out,
    "native-sidecar-in-ambient-tenant": check_native_sidecar,
    "pod-stuck-container-creating": check_stuck_container_creating,
    "authorizationpolicy-denies-edge": check_authorizationpolicy_denies_edge,
    "peerauthentication-lets-plaintext-in": check_peerauthentication_lets_plaintext_in,
    "waypoint-pods-gone": check_waypoint_pods_gone,
    "ztunnel-placement-skips-node": check_ztunnel_skips_node,
    "waypoint-crashloop": check_waypoint_crashloop,
    "waypoint-for-workload": check_waypoint_for_workload,
    "service-opts-out-of-waypoint": check_service_opts_out,
    "virtualservice-without-waypoint": check_virtualservice,
    "selector-l7-policy-in-waypoint-namespace": check_selector_l7,
    "sidecar-in-ambient-namespace": check_sidecar,
    "ztunnel-networkpolicy-blocks-istiod": check_ztunnel_np,
    "subscription-catalog-unhealthy": check_own_catalog,
    "kiali-version-drift": check_kiali_drift,
    "trusted-ztunnel-namespace-missing": check_untrusted_ztunnel,
    "ovn-shared-gateway-mode": check_shared_gateway,
    "ztunnel-extra-grants-in-tenant": check_extra_grants_in_tenant,
    "excluded-tenant-injection-enabled": check_excluded_injection_enabled,
    "gateway-networkpolicy-blocks-istiod": check_gateway_np,
    "istiod-ingress-omits-gateways": check_istiod_ingress_omits_gateways,
}


@pytest.fixture(scope="module")
def healthy(lab, api):
    faults.reset(lab.kubeconfig)
    return reconcile.normalized_dump(api)


def test_every_fault_has_a_check():
    assert set(CHECKS) == set(faults.FAULTS)


@pytest.mark.parametrize("name", list(faults.FAULTS))
def test_fault_applies_and_reset_restores_exactly(name, lab, api, healthy):
    try:
        faults.apply(name, lab.kubeconfig)
        assert reconcile.normalized_dump(api) != healthy, f"{name} changed nothing"
        CHECKS[name](api)
    finally:
        faults.reset(lab.kubeconfig)
    assert reconcile.normalized_dump(api) == healthy


def test_reset_undoes_changes_made_by_hand(lab, api, healthy):
    api.delete("/api/v1/namespaces/ossm3-demo")                                   # a twin namespace
    api.patch("/api/v1/namespaces/bank-payment", {"metadata": {"labels": {"istio.io/dataplane-mode": "ambient"}}})
    api.request("POST", "/api/v1/namespaces/bank-payment/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-hand"}, "data": {"a": "b"}})
    api.patch("/apis/apps/v1/namespaces/istio-system/deployments/istiod", {"spec": {"replicas": 3}})
    api.patch(f"/apis/security.istio.io/v1/namespaces/{PILOT}/peerauthentications/default",
              {"spec": {"portLevelMtls": {"8080": {"mode": "DISABLE"}}, "selector": {"matchLabels": {"app": "bff"}}}})
    for obj in _added_by_hand():  # every kind a fault or a person may add
        api.create(obj)
    assert faults.reset(lab.kubeconfig) > 0
    assert reconcile.normalized_dump(api) == healthy
    istiod = api.get("/apis/apps/v1/namespaces/istio-system/deployments/istiod")
    assert istiod["status"]["observedGeneration"] == istiod["metadata"]["generation"]


def test_reset_restores_a_deleted_gateway_api_crd(lab, api, healthy):
    """A person deletes a Gateway API CRD (the API server deletes the waypoint and ingress Gateways
    with it): reset reinstalls the CRD, then recreates the Gateways and re-points their owners."""
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io"
    api.delete(crd)
    for attempt in polling(30):
        with attempt:
            assert api.get_or_none(crd) is None
    assert faults.reset(lab.kubeconfig) > 0
    assert reconcile.normalized_dump(api) == healthy
    assert "Gateway/apps-team-x/waypoint" in healthy


def _added_by_hand() -> list[dict]:
    rbac, gw = "rbac.authorization.k8s.io/v1", "gateway.networking.k8s.io/v1"
    parent = {"parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint",
                              "namespace": "apps-team-x"}]}
    return [
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "by-hand"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "by-hand"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "by-hand"},
         "subjects": [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]},
        {"apiVersion": gw, "kind": "HTTPRoute", "metadata": {"name": "by-hand", "namespace": PILOT},
         "spec": {**parent, "rules": [{"backendRefs": [{"name": "chat-backend", "port": 8080}]}]}},
        {"apiVersion": gw, "kind": "GRPCRoute", "metadata": {"name": "by-hand", "namespace": PILOT},
         "spec": {**parent, "rules": [{"backendRefs": [{"name": "chat-backend", "port": 8080}]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "by-hand", "namespace": PILOT},
         "spec": {"hosts": ["chat-backend"], "http": [{"route": [{"destination": {"host": "chat-backend"}}]}]}},
        {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
         "metadata": {"name": "install-byhand", "namespace": "openshift-operators"},
         "spec": {"approval": "Manual", "approved": False, "clusterServiceVersionNames": ["servicemeshoperator3.v3.3.8"]}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "spoke-dc-v6-worker-by-hand"}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "by-hand.1", "namespace": PILOT},
         "involvedObject": {"kind": "Service", "name": "chat-backend", "namespace": PILOT}, "reason": "ByHand", "message": "added by hand"},
    ]


def test_fault_cli(lab):
    listing = lab.cli("fault", "list")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(faults.FAULTS)
    unknown = lab.cli("fault", "no-such-fault")
    assert unknown.returncode != 0 and len(unknown.stderr.strip().splitlines()) == 1
    applied = lab.cli("fault", "peerauthentication-missing")
    assert applied.returncode == 0, applied.stderr
    reset = lab.cli("fault", "reset")
    assert reset.returncode == 0 and "restored" in reset.stdout
