"""The lab's control plane and its healthy twin: real apiserver, real CRDs, the seeded objects."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from lab import control_plane, crds, seed
from lab.kubeapi import Api
from lab.paths import CONTEXT, LabPaths
from lab_helpers import cond, run_cli

pytestmark = pytest.mark.lab


def _items(api: Api, path: str) -> list[dict]:
    return api.get(path)["items"]


def test_version_is_1_34(api):
    version = api.get("/version")
    assert version["gitVersion"].startswith("v1.34."), version
    assert (version["major"], version["minor"]) == ("1", "34")


def test_every_crd_is_established(api):
    wanted = {c["metadata"]["name"] for c in crds.load()}
    assert wanted and wanted <= crds.established(api)


def test_kubeconfig_and_env_point_at_the_lab(lab):
    kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    assert kubeconfig["current-context"] == CONTEXT
    assert kubeconfig["clusters"][0]["name"] == CONTEXT
    assert kubeconfig["clusters"][0]["cluster"]["server"] == lab.api_url
    assert lab.api_url.startswith("https://127.0.0.1:")
    assert set(lab.env) >= {"KUBECONFIG", "LAB_API_URL", "LAB_PROMETHEUS_URL", "LAB_PUSHGATEWAY_URL", "LAB_DIR", "LAB_PIDS"}
    assert Path(lab.env["KUBECONFIG"]) == lab.kubeconfig
    assert Path(lab.env["OSSM_LAB_DIR"]) == Path(lab.dir).resolve()  # `lab fault` from a shell that sourced it
    pids = json.loads((lab.dir / "pids.json").read_text())
    assert {"etcd", "kube-apiserver"} <= set(pids)
    assert sorted(lab.env["LAB_PIDS"].split()) == sorted(str(r["pid"]) for r in pids.values())


# What the sail-operator reports while the twin's master-2 reboots: the DaemonSets are 5/6 ready.
REBOOT_STATE = {"istiocnis/default": ("DaemonSetNotReady", "Ready"), "ztunnels/default": ("DaemonSetNotReady", "Ready"),
                "istios/default": ("IstioCNINotHealthy", "DependenciesHealthy"),
                "istiorevisions/default": ("IstioCNINotHealthy", "DependenciesHealthy")}


def test_sail_crs_are_current_and_report_the_rebooting_node(api):
    for name in ("istios/default", "istiocnis/default", "ztunnels/default", "istiorevisions/default",
                 "istios/openshift-gateway"):
        obj = api.get(f"/apis/sailoperator.io/v1/{name}")
        state, not_true = REBOOT_STATE.get(name, ("Healthy", None))
        assert obj["status"]["state"] == state, name
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"], name
        for c in obj["status"]["conditions"]:
            if c["type"] == not_true:
                assert (c["status"], c["reason"]) == ("False", state), (name, c)
            elif c["type"] != "InUse":
                assert c["status"] == "True" and "reason" not in c and "message" not in c, (name, c)
            assert c["lastTransitionTime"]


def test_istio_default_is_the_runbooks(api):
    istio = api.get("/apis/sailoperator.io/v1/istios/default")
    assert istio["spec"]["namespace"] == "istio-system"
    assert istio["spec"]["profile"] == "openshift-ambient"
    assert istio["spec"]["version"] == "v1.28-latest"
    assert istio["spec"]["updateStrategy"] == {"type": "InPlace", "inactiveRevisionDeletionGracePeriodSeconds": 30}
    assert istio["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "26"
    assert istio["status"]["activeRevisionName"] == "default"
    assert istio["status"]["revisions"] == {"total": 1, "ready": 1, "inUse": 0}
    assert {c["type"] for c in istio["status"]["conditions"]} == {"Reconciled", "Ready", "DependenciesHealthy"}
    revision = api.get("/apis/sailoperator.io/v1/istiorevisions/default")
    assert revision["spec"]["version"] == "v1.28.10"  # OSSM 3.3.7: v1.28-latest -> v1.28.10
    assert revision["metadata"]["ownerReferences"][0]["uid"] == istio["metadata"]["uid"]


def test_nodes_and_daemonset_pods(api, lab):
    # The lab's address slot shifts every loopback address by SLOT_SPAN (several labs per machine).
    topo = seed.Topology(seed._load("nodes.yaml"), 6, seed.load_params(LabPaths(lab.dir).seed_params)["slot"])
    nodes = _items(api, "/api/v1/nodes")
    assert [n["metadata"]["name"] for n in nodes] == [f"spoke-dc-v6-master-{i}" for i in range(3)] + \
        [f"spoke-dc-v6-worker-{i}" for i in range(3)]
    for i, node in enumerate(nodes):
        rebooting = node["metadata"]["name"] == "spoke-dc-v6-master-2"  # cordoned, kubelet silent
        assert cond(node, "Ready")["status"] == ("Unknown" if rebooting else "True")
        assert node["spec"].get("unschedulable", False) == rebooting
        assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": topo.internal_ip(node["metadata"]["name"])}
        assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
        master = i < 3
        assert ("node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]) == master
        assert bool(node["spec"].get("taints")) == master
    ip_of = {n["metadata"]["name"]: n["status"]["addresses"][0]["address"] for n in nodes}
    for ns, ds, label in (("ztunnel", "ztunnel", "app=ztunnel"), ("istio-cni", "istio-cni-node", "k8s-app=istio-cni-node")):
        daemonset = api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/{ds}")
        status = daemonset["status"]
        assert status["observedGeneration"] == daemonset["metadata"]["generation"]
        for field in ("desiredNumberScheduled", "currentNumberScheduled", "updatedNumberScheduled"):
            assert status[field] == 6, field
        assert status["numberReady"] == status["numberAvailable"] == 5  # the rebooting node's pod
        pods = api.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=label)["items"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(ip_of)
        for pod in pods:
            ready = "False" if pod["spec"]["nodeName"] == "spoke-dc-v6-master-2" else "True"
            assert pod["status"]["phase"] == "Running" and cond(pod, "Ready")["status"] == ready
            assert pod["metadata"]["ownerReferences"][0]["uid"] == daemonset["metadata"]["uid"]
            expected_ip = topo.ztunnel_ip(pod["spec"]["nodeName"]) if ns == "ztunnel" else ip_of[pod["spec"]["nodeName"]]
            assert pod["status"]["podIP"] == expected_ip
            if ns == "ztunnel":
                assert pod["spec"]["containers"][0]["name"] == "istio-proxy"
                assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
                assert pod["spec"]["serviceAccountName"] == "ztunnel"


def test_tenants(api):
    namespaces = {n["metadata"]["name"]: n for n in _items(api, "/api/v1/namespaces")}
    mode = lambda ns: namespaces[ns]["metadata"].get("labels", {}).get("istio.io/dataplane-mode")  # noqa: E731
    assert [mode(ns) for ns in ("bank-employees-jboss-chat", "ossm3-demo", "apps-team-x")] == ["ambient"] * 3
    assert mode("bank-payment") is None and mode("openshift-console") is None
    for ns in ("bank-employees-jboss-chat", "ossm3-demo", "apps-team-x"):
        role = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/ztunnel-workload-identity")
        assert role["rules"][0]["resources"] == ["serviceaccounts/token"]
        binding = api.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/ztunnel-workload-identity")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]
        pa = api.get(f"/apis/security.istio.io/v1/namespaces/{ns}/peerauthentications/default")
        assert pa["spec"]["mtls"]["mode"] == "STRICT"
    assert _items(api, "/apis/rbac.authorization.k8s.io/v1/namespaces/bank-payment/roles") == []
    pilot = {p["metadata"]["labels"]["app"]: p for p in _items(api, "/api/v1/namespaces/bank-employees-jboss-chat/pods")}
    assert set(pilot) == {"bff", "chat-backend", "eap-domain-group-a", "eap-domain-group-b"}
    assert pilot["bff"]["spec"]["nodeName"] == "spoke-dc-v6-worker-1"
    for app, pod in pilot.items():
        assert pod["metadata"]["annotations"]["ambient.istio.io/redirection"] == "enabled"
        assert pod["spec"]["serviceAccountName"] == app and len(pod["spec"]["containers"]) == 1
        assert pod["status"]["podIP"].startswith("10.128.")
    for pod in _items(api, "/api/v1/namespaces/bank-payment/pods"):
        assert "ambient.istio.io/redirection" not in pod["metadata"].get("annotations", {})
    gateway = api.get("/apis/gateway.networking.k8s.io/v1/namespaces/apps-team-x/gateways/waypoint")
    assert cond(gateway, "Programmed")["status"] == "True"
    policy = api.get("/apis/security.istio.io/v1/namespaces/apps-team-x/authorizationpolicies/web-l7-read-only")
    assert policy["spec"]["targetRefs"][0]["name"] == "waypoint"


def test_operators(api):
    subs = {s["metadata"]["name"]: s for s in _items(api, "/apis/operators.coreos.com/v1alpha1/namespaces/openshift-operators/subscriptions")}
    sm = subs["servicemeshoperator3"]
    assert sm["status"]["state"] == "AtLatestKnown"
    assert sm["status"]["installedCSV"] == sm["status"]["currentCSV"] == "servicemeshoperator3.v3.3.7"
    assert subs["kiali-ossm"]["status"]["installedCSV"] == "kiali-operator.v2.22.2"
    # Pinned with Manual approval: the next version waits for someone to approve its plan.
    assert (subs["kiali-ossm"]["status"]["state"], subs["kiali-ossm"]["status"]["currentCSV"]) == \
        ("UpgradePending", "kiali-operator.v2.22.3")
    csv = api.get("/apis/operators.coreos.com/v1alpha1/namespaces/openshift-operators/clusterserviceversions/servicemeshoperator3.v3.3.7")
    assert (csv["status"]["phase"], csv["status"]["reason"]) == ("Succeeded", "InstallSucceeded")
    istiod = api.get("/apis/apps/v1/namespaces/istio-system/deployments/istiod")
    assert istiod["status"]["availableReplicas"] == istiod["spec"]["replicas"] == 2  # its HPA scaled it
    assert istiod["status"]["observedGeneration"] == istiod["metadata"]["generation"]
    assert istiod["metadata"]["labels"]["istio.io/rev"] == "default"


def test_up_again_does_not_start_a_second_lab(lab):
    before = json.loads((lab.dir / "pids.json").read_text())
    again = lab.cli("up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert json.loads((lab.dir / "pids.json").read_text()) == before


def test_render_scales_for_benchmarks():
    objs = seed.render(nodes=300, extra_tenants=500)
    kinds = [o["kind"] for o in objs]
    assert kinds.count("Node") == 300
    assert kinds.count("Namespace") >= 500
    keys = [seed.key(o) for o in objs]
    assert len(keys) == len(set(keys))
    pod_ips = [o["status"]["podIP"] for o in objs if o["kind"] == "Pod" and not o["spec"].get("hostNetwork")]
    assert len(pod_ips) == len(set(pod_ips))


@pytest.mark.slow
def test_up_then_down_leaves_no_process_and_no_state(tmp_path):
    # Control plane only: the session's lab already serves the ztunnel endpoints on their fixed
    # addresses, which a second lab cannot bind.
    lab_dir = tmp_path / "lab"
    started = time.monotonic()
    up = run_cli(lab_dir, "up", "--no-services")
    assert up.returncode == 0, up.stdout + up.stderr
    assert time.monotonic() - started < 60
    pids = control_plane.read_pids(LabPaths(lab_dir))
    assert all(control_plane.alive(r) for r in pids.values())
    down = run_cli(lab_dir, "down")
    assert down.returncode == 0, down.stderr
    assert not any(control_plane.alive(r) for r in pids.values())
    assert not lab_dir.exists()
    assert (LabPaths().binary("kube-apiserver")).exists()
