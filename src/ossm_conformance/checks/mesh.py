"""Istio's names for enrolment, which pods istio-cni enrols, and which pods are the tenant's own
workloads. Each rule names the upstream source it follows (istio/istio 1.28)."""

from __future__ import annotations

from ._k8s import annotations, dig, labels, meta, selector_matches

DATAPLANE_MODE = "istio.io/dataplane-mode"
INJECTION = "istio-injection"
REVISION = "istio.io/rev"
USE_WAYPOINT = "istio.io/use-waypoint"
REDIRECTION = "ambient.istio.io/redirection"
BYPASS_INBOUND = "ambient.istio.io/bypass-inbound-capture"
SIDECAR_STATUS = "sidecar.istio.io/status"
SIDECAR_CONTAINER = "istio-proxy"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_MANAGED = ("gateway.istio.io/managed", "istio.io-mesh-controller")
GATEWAY_CLASS = "istio"
GATEWAY_MANAGED = ("gateway.istio.io/managed", "istio.io-gateway-controller")


def is_ambient(ns: dict | None) -> bool:
    return ns is not None and labels(ns).get(DATAPLANE_MODE) == "ambient"


def sidecar_labels(ns: dict) -> dict:
    """The namespace labels that make istiod's injection webhook inject sidecars (a second mode next
    to ambient); empty when it does not inject. istio/istio
    manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml, namespaceSelectors:
    the default revision's webhook matches istio-injection=enabled; a revision's matches istio.io/rev
    only while istio-injection does not exist. So istio-injection=disabled (an explicit opt-out)
    injects nothing, with or without istio.io/rev."""
    ns_labels = labels(ns)
    if ns_labels.get(INJECTION) == "enabled":
        return {k: v for k, v in ns_labels.items() if k in (INJECTION, REVISION)}
    if INJECTION not in ns_labels and REVISION in ns_labels:
        return {REVISION: ns_labels[REVISION]}
    return {}


def pod_mode(pod: dict) -> str | None:
    return labels(pod).get(DATAPLANE_MODE)


def sidecars(pod: dict) -> list[str]:
    """Where an istio-proxy sidecar sits: 'containers' (classic) or 'initContainers' (native
    sidecar: pkg/kube/inject puts it there with restartPolicy Always when ENABLE_NATIVE_SIDECARS
    resolves true, or the pod asks with sidecar.istio.io/nativeSidecar)."""
    return [field for field in ("containers", "initContainers")
            if any(c.get("name") == SIDECAR_CONTAINER for c in dig(pod, f"spec.{field}", []) or [])]


def has_sidecar(pod: dict) -> bool:
    return bool(sidecars(pod)) or SIDECAR_STATUS in annotations(pod)


def enrolled_by_cni(pod: dict, ns: dict | None) -> bool:
    """istio-cni's decision (cni/pkg/util/enablement_selector.go, Matches, with the chart's default
    ambient.enablementSelectors in manifests/charts/istio-cni/values.yaml): never a host-network
    pod nor one with a sidecar; otherwise the pod label ambient, or the namespace label ambient
    unless the pod label says none."""
    if dig(pod, "spec.hostNetwork") or has_sidecar(pod):
        return False
    mode = pod_mode(pod)
    return mode == "ambient" or (is_ambient(ns) and mode != "none")


def is_mesh_infrastructure(pod: dict) -> bool:
    """ztunnel, waypoint and gateway pods: the mesh's own proxies, not the tenant's workloads.
    istiod's gateway deployment controller (pilot/pkg/config/kube/gateway/deploymentcontroller.go)
    labels every pod it deploys for a Gateway with gateway.networking.k8s.io/gateway-name, and a
    non-waypoint one (class istio) istio.io/dataplane-mode=none."""
    pod_labels = labels(pod)
    return (pod_labels.get("app") == "ztunnel" or pod_labels.get(WAYPOINT_MANAGED[0]) == WAYPOINT_MANAGED[1]
            or GATEWAY_NAME in pod_labels)


def finished(pod: dict) -> bool:
    """Succeeded or Failed (a completed Job, an Evicted pod) or being deleted: nothing to judge."""
    return dig(pod, "status.phase") in ("Succeeded", "Failed") or bool(meta(pod).get("deletionTimestamp"))


def unscheduled(pod: dict) -> bool:
    """Pending with no node (PodScheduled=False, e.g. FailedScheduling "Insufficient cpu" on an HPA
    scale-up past capacity): no sandbox exists yet, and istio-cni acts only when the kubelet creates
    one on a node (istio/istio cni/pkg/plugin, CmdAdd), so the mesh has nothing to do with it yet."""
    return dig(pod, "status.phase") == "Pending" and not dig(pod, "spec.nodeName")


def judged_pods(view, namespace: str) -> list[dict]:
    """The tenant's workload pods a person would look at: not finished, not unscheduled, not the
    mesh's proxies. Pending pods on a node are included: one stuck in ContainerCreating is a finding."""
    return [p for p in view.list("pods", namespace)
            if not finished(p) and not unscheduled(p) and not is_mesh_infrastructure(p)]


def enrolled_pods(view, ns: dict) -> list[dict]:
    """The namespace's judged pods istio-cni enrols, Pending ones included: a pod bound to a node
    needs that node's ztunnel as much as a Running one."""
    return [p for p in judged_pods(view, meta(ns).get("name", "")) if enrolled_by_cni(p, ns)]


def workload_pods(view, namespace: str) -> list[dict]:
    """Running, not terminating, not the mesh's own proxies: the pods that carry traffic."""
    return [p for p in judged_pods(view, namespace) if dig(p, "status.phase") == "Running"]


def selected_pods(view, namespace: str, selector: dict | None) -> list[dict]:
    """Running workload pods a metav1.LabelSelector (a Deployment's; a Service's as matchLabels)
    selects; none for an empty or absent selector, which would mean every pod."""
    if not selector:
        return []
    return [p for p in workload_pods(view, namespace) if selector_matches(selector, labels(p))]


def gateway_pods(view, namespace: str, gateway: str) -> list[dict]:
    return [p for p in view.list("pods", namespace)
            if labels(p).get(GATEWAY_NAME) == gateway and dig(p, "status.phase") == "Running"]


def redirected(pod: dict) -> bool:
    return annotations(pod).get(REDIRECTION) == "enabled"


def bypasses_inbound_capture(pod: dict) -> bool:
    """istio-cni's pod-level override (cni/pkg/nodeagent, getPodLevelTrafficOverrides): the
    annotation 'true' turns on ingress mode, in which only outbound traffic is captured."""
    return (annotations(pod).get(BYPASS_INBOUND) or "").lower() == "true"


def waypoint_gateways(view, namespace: str | None = None) -> list[dict]:
    return [g for g in view.list("gateways", namespace) if dig(g, "spec.gatewayClassName") == WAYPOINT_CLASS]


def istiod_gateways(view) -> list[dict]:
    """The Gateways istiod deploys an Envoy for (classes istio-waypoint and istio): each such proxy
    dials istiod:15012 for its configuration and certificate like ztunnel does."""
    return [g for g in view.list("gateways") if dig(g, "spec.gatewayClassName") in (WAYPOINT_CLASS, GATEWAY_CLASS)]


def gateway_pod_labels(view, gateway: dict) -> dict:
    """The labels of a Gateway's Envoy pods: a running pod's own, or else the ones istiod's
    deployment controller stamps on them (gateway-name, and gateway.istio.io/managed per class;
    istio/istio pilot/pkg/config/kube/gateway/deploymentcontroller.go and its templates)."""
    ns, gw_name = meta(gateway).get("namespace", ""), meta(gateway).get("name", "")
    pods = gateway_pods(view, ns, gw_name)
    if pods:
        return dict(labels(pods[0]))
    managed = WAYPOINT_MANAGED if dig(gateway, "spec.gatewayClassName") == WAYPOINT_CLASS else GATEWAY_MANAGED
    return {managed[0]: managed[1], GATEWAY_NAME: gw_name}


def workload_of(pod: dict) -> str:
    """The controller a pod belongs to, as istiod names a workload (a ReplicaSet's pods belong to
    its Deployment: the ReplicaSet name without the pod-template-hash suffix)."""
    for owner in meta(pod).get("ownerReferences") or []:
        owner_name = owner.get("name", "")
        template_hash = labels(pod).get("pod-template-hash")
        if owner.get("kind") == "ReplicaSet" and template_hash and owner_name.endswith(f"-{template_hash}"):
            return owner_name[: -len(template_hash) - 1]
        if owner.get("controller"):
            return owner_name
    return meta(pod).get("name", "")
