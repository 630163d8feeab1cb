"""Where an edge runs: the nodes of its server pods (Service selector) and client pods (Deployment selector)."""

from __future__ import annotations

from field_access import tracked_snapshot
from mtls_samples import EDGE, NS

from ossm_conformance.kube.snapshot import Read, ReadResult, Snapshot
from ossm_conformance.mtls.placement import edge_nodes, running_ztunnels


def _pod(name: str, app: str, node: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": {"app": app}}, "spec": {"nodeName": node}}


def _snapshot(pods, services=None, deployments=None) -> Snapshot:
    services = services if services is not None else [
        {"kind": "Service", "metadata": {"name": "chat-backend", "namespace": NS}, "spec": {"selector": {"app": "chat-backend"}}}]
    deployments = deployments if deployments is not None else [
        {"kind": "Deployment", "metadata": {"name": "bff", "namespace": NS}, "spec": {"selector": {"matchLabels": {"app": "bff"}}}}]
    return tracked_snapshot([ReadResult(Read("pods"), pods), ReadResult(Read("services"), services),
                             ReadResult(Read("deployments"), deployments)])


def test_nodes_of_server_and_client_pods():
    pods = [_pod("bff-1", "bff", "worker-1"), _pod("chat-1", "chat-backend", "worker-0"),
            _pod("chat-2", "chat-backend", "worker-2"), _pod("other", "eap", "worker-3")]
    assert edge_nodes(_snapshot(pods), NS, EDGE) == frozenset({"worker-0", "worker-1", "worker-2"})


def test_unknown_placement_means_every_ztunnel_counts():
    assert edge_nodes(_snapshot([_pod("bff-1", "bff", "worker-1")]), NS, EDGE) is None       # no server pod
    assert edge_nodes(_snapshot([], services=[]), NS, EDGE) is None                            # no Service
    assert edge_nodes(_snapshot([_pod("chat-1", "chat-backend", "w0")], deployments=[]), NS, EDGE) is None


def test_running_ztunnels_are_the_ones_a_metrics_window_must_cover():
    def zt(name, node, phase="Running", deleting=False):
        meta = {"name": name, "namespace": "ztunnel", **({"deletionTimestamp": "2026-12-02T00:00:00Z"} if deleting else {})}
        return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node}, "status": {"phase": phase}}
    pods = [zt("ztunnel-a", "worker-0"), zt("ztunnel-b", "worker-1", phase="Pending"),
            zt("ztunnel-c", "worker-2", deleting=True), zt("ztunnel-d", "worker-3", phase="Failed")]
    assert running_ztunnels(_snapshot(pods), "ztunnel") == {"ztunnel-a": "worker-0"}
