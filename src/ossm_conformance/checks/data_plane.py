"""The data plane's workloads: istiod, and the istio-cni and ztunnel DaemonSets on every node."""

from __future__ import annotations

from dataclasses import dataclass

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec
from ._k8s import (DAEMONSET_DEFAULT_TOLERATIONS, deployment_available, dig, labels, listing,
                   meta, name, node_ready, node_selected, pod_ready, reads, ref, selector_matches, stale_generation,
                   untolerated_taints)

_FIXES = {"cni": runbook.CNI_DAEMONSET, "ztunnel": runbook.ZTUNNEL_DAEMONSET}


@dataclass(frozen=True)
class DaemonSetRef:
    namespace: str
    name: str
    role: str          # "cni" or "ztunnel": picks the runbook remedy

    @property
    def title(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def fix(self) -> str:
        return _FIXES[self.role]


@reads("deployments")
def istiod_available(view, istio: IstioSpec) -> list[Finding]:
    return deployment_available(view, istio.istiod_deployment, istio.namespace, runbook.ISTIOD)


def covered_nodes(ds: dict, nodes: list[dict]) -> list[dict]:
    """Ready nodes the DaemonSet should run on: nodeSelector/required affinity match and every
    NoSchedule/NoExecute taint tolerated (its own tolerations plus those the controller adds)."""
    pod_spec = dig(ds, "spec.template.spec", {}) or {}
    tolerations = list(pod_spec.get("tolerations") or []) + list(DAEMONSET_DEFAULT_TOLERATIONS)
    return [n for n in nodes
            if node_ready(n) and node_selected(pod_spec, n) and not untolerated_taints(tolerations, n)]


def _missing(ref_: DaemonSetRef) -> list[Finding]:
    return [Finding(f"DaemonSet {ref_.title}", "exists", "not found", ref_.fix)]


@reads("daemonsets", "nodes")
def daemonset_rolled_out(view, ds_ref: DaemonSetRef) -> list[Finding]:
    """Fully rolled out, and on every node it should cover. Count gaps may be a rollout or a
    restarting pod: settling, bounded by the plugin."""
    ds = view.get("daemonsets", ds_ref.name, ds_ref.namespace)
    if ds is None:
        return _missing(ds_ref)
    obj, fix, status = ref(ds), ds_ref.fix, ds.get("status") or {}
    findings = []
    if stale := stale_generation(ds, obj, fix):
        findings.append(stale)
    keys = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable")
    counts = {k: status.get(k, 0) for k in keys}
    if len(set(counts.values())) != 1:
        findings.append(Finding(obj, " == ".join(keys), ", ".join(f"{k}={v}" for k, v in counts.items()), fix, settling=True))
    if status.get("numberMisscheduled", 0):
        findings.append(Finding(obj, "numberMisscheduled 0", f"numberMisscheduled={status['numberMisscheduled']}",
                                fix, settling=True))
    nodes = view.list("nodes")
    covered = covered_nodes(ds, nodes)
    if counts["desiredNumberScheduled"] != len(covered):
        uncovered = [name(n) for n in nodes if n not in covered]
        findings.append(Finding(
            obj, f"desiredNumberScheduled == {len(covered)} (the Ready nodes it should cover: {listing(name(n) for n in covered)})",
            f"desiredNumberScheduled={counts['desiredNumberScheduled']} of {len(nodes)} nodes "
            f"(not Ready or not covered: {listing(uncovered)})", fix, settling=True))
    return findings


@reads("daemonsets", "nodes", "pods")
def daemonset_pods_on_every_node(view, ds_ref: DaemonSetRef) -> list[Finding]:
    """One Ready pod of the DaemonSet on each node it should cover (a node without one has no
    redirect or no mTLS for its ambient pods)."""
    ds = view.get("daemonsets", ds_ref.name, ds_ref.namespace)
    if ds is None:
        return _missing(ds_ref)
    selector = dig(ds, "spec.selector")  # required by the API; an absent one would match every pod
    pods = [p for p in view.list("pods", ds_ref.namespace) if selector
            and selector_matches(selector, labels(p)) and not meta(p).get("deletionTimestamp")]
    by_node: dict[str, list[dict]] = {}
    for pod in pods:
        by_node.setdefault(dig(pod, "spec.nodeName", ""), []).append(pod)
    missing, unready, extra = [], [], []
    for node in covered_nodes(ds, view.list("nodes")):
        on_node = by_node.get(name(node), [])
        if not on_node:
            missing.append(name(node))
        elif len(on_node) > 1:
            extra.append(f"{name(node)}: {listing(name(p) for p in on_node)}")
        elif not pod_ready(on_node[0]):
            unready.append(f"{name(on_node[0])} on {name(node)} (phase {dig(on_node[0], 'status.phase')})")
    findings = []
    for what, items in (("no pod on node", missing), ("pod not Ready", unready), ("more than one pod on node", extra)):
        if items:
            findings.append(Finding(ref(ds), "one Ready pod on every covered node", f"{what}: {listing(items)}",
                                    ds_ref.fix, settling=True))
    return findings
