"""Each named fault shows up the way the runbook's failure mode does, and reset restores the twin
exactly (a normalized dump of every twin object compared before and after)."""

from __future__ import annotations

import pytest

from lab import faults, reconcile
from lab.kubeapi import Api
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


def _check_daemonset(api, ns, ds, cr, reason, dependency, node):
    status = api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/{ds}")["status"]
    assert (status["numberReady"], status["currentNumberScheduled"]) == (5, 6)
    unready = [p["spec"]["nodeName"] for p in _pods(api, ns) if not _ready(p)]
    assert unready == [node]
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
    _check_daemonset(api, "ztunnel", "ztunnel", "ztunnels", "DaemonSetNotReady", "ZTunnelNotHealthy",
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


def check_np_blocks(api):
    policies = api.get("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies")["items"]
    egress = [p for p in policies if "Egress" in p["spec"].get("policyTypes", [])]
    assert egress and all(not p["spec"].get("egress") for p in egress)


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


CHECKS = {
    "ztunnel-rbac-missing": check_rbac_missing,
    "cni-daemonset-degraded": check_cni_degraded,
    "ztunnel-daemonset-degraded": check_ztunnel_degraded,
    "namespace-unlabelled": check_unlabelled,
    "mixed-mode-namespace": check_mixed_mode,
    "waypoint-missing-for-l7-policy": check_waypoint_missing,
    "istiod-networkpolicy-blocks-xds": check_np_blocks,
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
