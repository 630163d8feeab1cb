"""The data plane's workloads: istiod, and the istio-cni and ztunnel DaemonSets on every node."""

from __future__ import annotations

from dataclasses import dataclass

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec
from .mesh import enrolled_pods
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


def covered_nodes(ds: dict, nodes: list[dict], ready_only: bool = True) -> list[dict]:
    """Nodes the DaemonSet should run on: nodeSelector/required affinity match and every
    NoSchedule/NoExecute taint tolerated (its own tolerations plus those the controller adds,
    which include not-ready and unreachable: a rebooting node stays covered). `ready_only`
    keeps the Ready ones, where a Ready pod can be expected."""
    pod_spec = dig(ds, "spec.template.spec", {}) or {}
    tolerations = list(pod_spec.get("tolerations") or []) + list(DAEMONSET_DEFAULT_TOLERATIONS)
    return [n for n in nodes if (node_ready(n) or not ready_only)
            and node_selected(pod_spec, n) and not untolerated_taints(tolerations, n)]


def not_ready_covered_nodes(ds: dict, nodes: list[dict]) -> list[str]:
    """Covered nodes whose kubelet is not Ready (rebooting in a MachineConfig rollout, joining):
    the DaemonSet controller still counts them in desiredNumberScheduled, and the node lifecycle
    controller marks their pods not Ready (kubernetes/kubernetes pkg/controller/nodelifecycle),
    so the DaemonSet's ready count is short by one per such node. Information, not a failure."""
    return sorted(name(n) for n in covered_nodes(ds, nodes, ready_only=False) if not node_ready(n))


def _missing(ref_: DaemonSetRef) -> list[Finding]:
    return [Finding(f"DaemonSet {ref_.title}", "exists", "not found", ref_.fix)]


def shortfall_on_not_ready_nodes(view, namespace: str, ds_name: str) -> list[str] | None:
    """The NotReady nodes that explain all of the DaemonSet's unready pods, or None when some
    unready pod sits on a Ready node (or there is no such DaemonSet). The sail-operator reports
    IstioCNI/ZTunnel Ready=False as soon as numberReady < currentNumberScheduled
    (sail-operator pkg/controller/istiocni, ztunnel: DaemonSetNotReady), which a rebooting node
    causes on every healthy cluster."""
    ds = view.get("daemonsets", ds_name, namespace)
    if ds is None:
        return None
    status = ds.get("status") or {}
    shortfall = status.get("currentNumberScheduled", 0) - status.get("numberReady", 0)
    outages = not_ready_covered_nodes(ds, view.list("nodes"))
    return outages if 0 < shortfall <= len(outages) else None


def _outage_note(outages: list[str]) -> str:
    return f"; NotReady nodes (information, not counted against readiness): {listing(outages)}" if outages else ""


@reads("daemonsets", "nodes")
def daemonset_rolled_out(view, ds_ref: DaemonSetRef) -> list[Finding]:
    """Fully rolled out, and scheduled on every node it should cover.

    Healthy (upstream DaemonSet controller): desired == current == updated == the nodes its
    template selects and tolerates (NotReady ones included); numberReady/numberAvailable short
    only by the NotReady nodes. Broken: a node it should cover is not counted, pods not updated
    or not Ready on Ready nodes. Count gaps may be a rollout: settling, bounded by the plugin."""
    ds = view.get("daemonsets", ds_ref.name, ds_ref.namespace)
    if ds is None:
        return _missing(ds_ref)
    obj, fix, status = ref(ds), ds_ref.fix, ds.get("status") or {}
    findings = []
    if stale := stale_generation(ds, obj, fix):
        findings.append(stale)
    nodes = view.list("nodes")
    outages = not_ready_covered_nodes(ds, nodes)
    keys = ("desiredNumberScheduled", "currentNumberScheduled", "updatedNumberScheduled")
    counts = {k: status.get(k, 0) for k in keys + ("numberReady", "numberAvailable")}
    desired = counts["desiredNumberScheduled"]
    seen = ", ".join(f"{k}={v}" for k, v in counts.items())
    if len({counts[k] for k in keys}) != 1 or any(counts[k] < desired - len(outages) or counts[k] > desired
                                                   for k in ("numberReady", "numberAvailable")):
        findings.append(Finding(obj, f"{' == '.join(keys)}, numberReady == numberAvailable == desired"
                                     f"{f' - {len(outages)} (NotReady nodes)' if outages else ''}",
                                seen + _outage_note(outages), fix, settling=True))
    if status.get("numberMisscheduled", 0):
        findings.append(Finding(obj, "numberMisscheduled 0", f"numberMisscheduled={status['numberMisscheduled']}",
                                fix, settling=True))
    covered = covered_nodes(ds, nodes, ready_only=False)
    if desired != len(covered):
        uncovered = [name(n) for n in nodes if n not in covered]
        findings.append(Finding(
            obj, f"desiredNumberScheduled == {len(covered)} (the nodes it should cover: {listing(name(n) for n in covered)})",
            f"desiredNumberScheduled={desired}; " + (
                f"its template leaves out {listing(uncovered)}" if uncovered else
                f"the template covers all {len(nodes)} nodes, but the DaemonSet controller counts {desired} "
                "(it has not caught up with a node change yet)") + _outage_note(outages), fix, settling=True))
    return findings


@reads("daemonsets", "nodes", "pods")
def daemonset_pod_ready_on_every_node(view, ds_ref: DaemonSetRef) -> list[Finding]:
    """One Ready pod of the DaemonSet on each Ready node it should cover (a node without one has
    no redirect or no mTLS for its ambient pods). NotReady nodes are named, never a failure by
    themselves: their pods are marked not Ready by the node lifecycle controller until the
    kubelet is back."""
    ds = view.get("daemonsets", ds_ref.name, ds_ref.namespace)
    if ds is None:
        return _missing(ds_ref)
    selector = dig(ds, "spec.selector")  # required by the API; an absent one would match every pod
    pods = [p for p in view.list("pods", ds_ref.namespace) if selector
            and selector_matches(selector, labels(p)) and not meta(p).get("deletionTimestamp")
            # An Evicted/Failed pod left beside its replacement is the DaemonSet controller's to delete
            # (pkg/controller/daemon: failed pods are killed and recreated); it is not a second pod.
            and dig(p, "status.phase") not in ("Failed", "Succeeded")]
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
    note = _outage_note(not_ready_covered_nodes(ds, view.list("nodes")))
    for what, items in (("no pod on node", missing), ("pod not Ready", unready), ("more than one pod on node", extra)):
        if items:
            findings.append(Finding(ref(ds), "one Ready pod on every Ready node it covers",
                                    f"{what}: {listing(items)}{note}", ds_ref.fix, settling=True))
    return findings


# Where the sail-operator CR lets a user restrict the DaemonSet's nodes (the charts copy these
# into the pod template): ZTunnel spec.values.ztunnel.*, IstioCNI spec.values.cni.affinity.
_CR_TITLES = {"ztunnels": "ZTunnel", "istiocnis": "IstioCNI"}
_PLACEMENT_VALUES = {"ztunnel": ("ztunnels", "ztunnel", ("nodeSelector", "affinity", "tolerations")),
                     "cni": ("istiocnis", "cni", ("affinity",))}


def _placement_values(view, ds_ref: DaemonSetRef) -> str:
    kind, key, fields = _PLACEMENT_VALUES[ds_ref.role]
    cr = view.get(kind, "default")
    values = dig(cr or {}, f"spec.values.{key}", {}) or {}
    set_ = {f: values[f] for f in fields if values.get(f)}
    return f"{_CR_TITLES[kind]} default spec.values.{key}: {set_}" if set_ else f"{_CR_TITLES[kind]} default sets no node placement"


@reads("daemonsets", "nodes", "pods", "namespaces", "ztunnels", "istiocnis")
def daemonset_covers_enrolled_pods(view, ds_ref: DaemonSetRef) -> list[Finding]:
    """Every node where enrolled tenant pods run is one the DaemonSet's pod template can run on.

    Healthy: the charts tolerate every taint and select no nodes, so ztunnel and istio-cni reach
    every node. Broken: a nodeSelector, affinity or toleration list in the ZTunnel/IstioCNI
    spec.values leaves out a node where enrolled pods run; those pods get no redirect (istio-cni)
    or no mTLS (ztunnel). Readiness is not judged here (daemonset_pod_ready_on_every_node does)."""
    ds = view.get("daemonsets", ds_ref.name, ds_ref.namespace)
    if ds is None:
        return _missing(ds_ref)
    nodes = view.list("nodes")
    covered = {name(n) for n in covered_nodes(ds, nodes, ready_only=False)}
    left_out: dict[str, list[str]] = {}
    for ns in view.list("namespaces"):
        for pod in enrolled_pods(view, ns):
            node_name = dig(pod, "spec.nodeName")
            if node_name and node_name not in covered:
                left_out.setdefault(node_name, []).append(f"{name(ns)}/{name(pod)}")
    if not left_out:
        return []
    return [Finding(ref(ds), "its pod template covers every node where enrolled pods run",
                    f"left out: {'; '.join(f'{n} (pods {listing(p)})' for n, p in sorted(left_out.items()))}; "
                    f"{_placement_values(view, ds_ref)}",
                    f"{ds_ref.fix} Remove the node restriction from the {_CR_TITLES[_PLACEMENT_VALUES[ds_ref.role][0]]} "
                    "default CR's spec.values, or keep "
                    "enrolled workloads off those nodes.")]
