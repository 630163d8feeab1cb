"""Data-plane checks: istiod, and the DaemonSets on every node they should cover."""

import pytest
from objects import broken, PROFILE, cond, find, healthy, param, remove, run, snapshot, text

from ossm_conformance.checks import data_plane

DS_IDS = ("istio-cni/istio-cni-node", "ztunnel/ztunnel")


def _ds(c, ds_id="ztunnel/ztunnel"):
    ns, name = ds_id.split("/")
    return find(c, "daemonsets", name, ns)


def _five_of_six(c, ds_id="ztunnel/ztunnel"):
    _ds(c, ds_id)["status"].update({k: 5 for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                                    "updatedNumberScheduled", "numberAvailable")})


def test_healthy_istiod_passes():
    assert run(data_plane.istiod_available, healthy(), PROFILE.istio) == []


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: remove(c, "deployments", "istiod", "istio-system"), "not found"),
    (lambda c: find(c, "deployments", "istiod", "istio-system")["status"].update(readyReplicas=0, availableReplicas=0),
     "readyReplicas=0"),
    (lambda c: find(c, "deployments", "istiod", "istio-system")["status"].update(observedGeneration=0), "observedGeneration=0"),
], ids=["missing", "not-ready", "generation"])
def test_istiod_findings(mutate, fragment):
    assert fragment in text(broken(mutate, data_plane.istiod_available, PROFILE.istio))


@pytest.mark.parametrize("ds_id", DS_IDS)
@pytest.mark.parametrize("check", [data_plane.daemonset_rolled_out, data_plane.daemonset_pod_ready_on_every_node],
                         ids=lambda f: f.__name__)
def test_healthy_daemonsets_pass(check, ds_id):
    assert run(check, healthy(), param("daemonset", ds_id)) == []


@pytest.mark.parametrize("ds_id", DS_IDS)
def test_five_of_six_nodes_fails(ds_id):
    c = healthy()
    _five_of_six(c, ds_id)
    findings = run(data_plane.daemonset_rolled_out, c, param("daemonset", ds_id))
    assert "desiredNumberScheduled == 6" in text(findings)
    assert "desiredNumberScheduled=5; the template covers all 6 nodes, but the DaemonSet controller counts 5" in text(findings)
    assert all(f.settling for f in findings)


def test_cni_findings_carry_the_plaintext_remedy():
    c = healthy()
    _ds(c, "istio-cni/istio-cni-node")["status"]["numberReady"] = 5
    findings = run(data_plane.daemonset_rolled_out, c, param("daemonset", "istio-cni/istio-cni-node"))
    assert "numberReady=5" in text(findings)
    assert "Verify oc get ds -n istio-cni; relabel ns" in findings[0].fix


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: _ds(c)["metadata"].update(generation=3), "observedGeneration=1, generation=3"),
    (lambda c: _ds(c)["status"].update(updatedNumberScheduled=4), "updatedNumberScheduled=4"),
    (lambda c: _ds(c)["status"].update(numberMisscheduled=1), "numberMisscheduled=1"),
    (lambda c: remove(c, "daemonsets", "ztunnel", "ztunnel"), "not found"),
], ids=["generation", "updating", "misscheduled", "missing"])
def test_rollout_findings(mutate, fragment):
    assert fragment in text(broken(mutate, data_plane.daemonset_rolled_out, param("daemonset", "ztunnel/ztunnel")))


def test_taints_not_tolerated_shrink_the_expected_nodes():
    c = healthy()
    _ds(c)["spec"]["template"]["spec"]["tolerations"] = []  # masters' NoSchedule taint now excludes them
    _five_of_six(c)
    findings = run(data_plane.daemonset_rolled_out, c, param("daemonset", "ztunnel/ztunnel"))
    assert "desiredNumberScheduled == 3" in text(findings)
    _ds(c)["status"].update({k: 3 for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                             "updatedNumberScheduled", "numberAvailable")})
    assert run(data_plane.daemonset_rolled_out, c, param("daemonset", "ztunnel/ztunnel")) == []


def _reboot(c, node_name="worker-1", ds_id="ztunnel/ztunnel"):
    """A node rebooting in a MachineConfig rollout: cordoned, kubelet NotReady, and its daemon pod
    marked not Ready by the node lifecycle controller; the DaemonSet still counts it."""
    node = find(c, "nodes", node_name)
    node["spec"]["unschedulable"] = True
    node["spec"]["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                              {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    node["status"]["conditions"] = [cond("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")]
    ns, ds_name = ds_id.split("/")
    find(c, "pods", f"{ds_name}-{node_name}", ns)["status"]["conditions"] = [cond("Ready", "False")]
    _ds(c, ds_id)["status"].update(numberReady=5, numberAvailable=5)


def test_node_selector_and_cordon_and_not_ready_nodes():
    c = healthy()
    _ds(c)["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/worker": ""}
    find(c, "nodes", "worker-0")["spec"]["unschedulable"] = True  # cordoned: daemon pods tolerate it
    find(c, "nodes", "worker-1")["status"]["conditions"] = [cond("Ready", "False", "KubeletNotReady")]
    _five_of_six(c)
    findings = run(data_plane.daemonset_rolled_out, c, param("daemonset", "ztunnel/ztunnel"))
    # The NotReady node is still one the DaemonSet controller schedules on.
    assert "desiredNumberScheduled == 3 (the nodes it should cover: worker-0, worker-1, worker-2)" in text(findings)
    assert "NotReady nodes (information, not counted against readiness): worker-1" in text(findings)


@pytest.mark.parametrize("ds_id", DS_IDS)
@pytest.mark.parametrize("check", [data_plane.daemonset_rolled_out, data_plane.daemonset_pod_ready_on_every_node],
                         ids=lambda f: f.__name__)
def test_rebooting_node_is_not_a_failure(check, ds_id):
    c = healthy()
    _reboot(c, ds_id=ds_id)
    assert run(check, c, param("daemonset", ds_id)) == []


def test_unready_pod_on_a_ready_node_still_fails_beside_a_rebooting_one():
    c = healthy()
    _reboot(c)
    find(c, "pods", "ztunnel-worker-2", "ztunnel")["status"]["conditions"] = [cond("Ready", "False")]
    _ds(c)["status"].update(numberReady=4, numberAvailable=4)
    ds = param("daemonset", "ztunnel/ztunnel")
    assert "numberReady=4" in text(run(data_plane.daemonset_rolled_out, c, ds))
    findings = run(data_plane.daemonset_pod_ready_on_every_node, c, ds)
    assert "pod not Ready: ztunnel-worker-2 on worker-2" in text(findings) and "NotReady nodes" in text(findings)
    assert "ztunnel-worker-1" not in text(findings).split("NotReady nodes")[0]


def test_shortfall_on_not_ready_nodes():
    c = healthy()
    _reboot(c)
    assert data_plane.shortfall_on_not_ready_nodes(snapshot(c), "ztunnel", "ztunnel") == ["worker-1"]
    _ds(c)["status"].update(numberReady=4)
    assert data_plane.shortfall_on_not_ready_nodes(snapshot(c), "ztunnel", "ztunnel") is None
    assert data_plane.shortfall_on_not_ready_nodes(snapshot(healthy()), "ztunnel", "ztunnel") is None


@pytest.mark.parametrize("ds_id", DS_IDS)
def test_healthy_placement_covers_enrolled_pods(ds_id):
    assert run(data_plane.daemonset_covers_enrolled_pods, healthy(), param("daemonset", ds_id)) == []


def test_node_selector_leaving_out_enrolled_pods_fails_naming_node_and_pods():
    c = healthy()
    selector = {"ossm.example/ztunnel": "true"}
    find(c, "ztunnels", "default")["spec"]["values"] = {"ztunnel": {"nodeSelector": selector}}
    _ds(c)["spec"]["template"]["spec"]["nodeSelector"] = selector
    for n in ("master-0", "master-1", "master-2", "worker-1", "worker-2"):
        find(c, "nodes", n)["metadata"]["labels"].update(selector)
    findings = run(data_plane.daemonset_covers_enrolled_pods, c, param("daemonset", "ztunnel/ztunnel"))
    assert len(findings) == 1
    assert "worker-0 (pods apps-team-x/frontend-0, apps-team-x/web-0, bank-employees-jboss-chat/bff-0" in text(findings)
    assert "ossm3-demo/demo-client-0" in text(findings)
    assert "spec.values.ztunnel: {'nodeSelector': {'ossm.example/ztunnel': 'true'}}" in text(findings)
    # Waypoint and opted-out pods are not enrolled: they need no ztunnel redirect on their node.
    assert "waypoint-0" not in text(findings)


def test_pods_outside_the_mesh_on_a_left_out_node_are_fine():
    c = healthy()
    _ds(c)["spec"]["template"]["spec"]["nodeSelector"] = {"node-role.kubernetes.io/master": ""}
    for pod in c["pods"]:
        if pod["metadata"]["namespace"] in ("bank-employees-jboss-chat", "ossm3-demo", "apps-team-x"):
            pod["metadata"].setdefault("labels", {})["istio.io/dataplane-mode"] = "none"
    assert run(data_plane.daemonset_covers_enrolled_pods, c, param("daemonset", "ztunnel/ztunnel")) == []


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: remove(c, "pods", "ztunnel-worker-2", "ztunnel"), "no pod on node: worker-2"),
    (lambda c: find(c, "pods", "ztunnel-worker-1", "ztunnel")["status"].update(conditions=[cond("Ready", "False")]),
     "pod not Ready: ztunnel-worker-1 on worker-1"),
], ids=["missing-pod", "unready-pod"])
def test_pod_findings(mutate, fragment):
    findings = broken(mutate, data_plane.daemonset_pod_ready_on_every_node, param("daemonset", "ztunnel/ztunnel"))
    assert fragment in text(findings)
    assert all(f.settling for f in findings)


def test_pods_of_other_workloads_do_not_count():
    c = healthy()
    find(c, "pods", "ztunnel-worker-2", "ztunnel")["metadata"]["labels"] = {"app": "something-else"}
    assert "no pod on node: worker-2" in text(run(data_plane.daemonset_pod_ready_on_every_node, c, param("daemonset", "ztunnel/ztunnel")))


@pytest.mark.parametrize("ds_id", DS_IDS)
def test_an_evicted_pod_beside_its_replacement_is_not_a_second_pod(ds_id):
    """The DaemonSet controller deletes a Failed pod and creates a new one; until it does, both are
    listed on the node (an everyday sight after a node's memory pressure)."""
    import copy
    c = healthy()
    ns, ds_name = ds_id.split("/")
    running = find(c, "pods", f"{ds_name}-worker-0", ns)
    evicted = copy.deepcopy(running)
    evicted["metadata"]["name"] = f"{ds_name}-evicted"
    evicted["status"] = {"phase": "Failed", "reason": "Evicted", "conditions": [cond("Ready", "False")]}
    c["pods"].append(evicted)
    assert run(data_plane.daemonset_pod_ready_on_every_node, c, param("daemonset", ds_id)) == []
