"""Istio's names for enrolment, and which pods are the tenant's own workloads."""

from __future__ import annotations

from ._k8s import annotations, dig, labels, meta

DATAPLANE_MODE = "istio.io/dataplane-mode"
INJECTION = "istio-injection"
REVISION = "istio.io/rev"
USE_WAYPOINT = "istio.io/use-waypoint"
REDIRECTION = "ambient.istio.io/redirection"
SIDECAR_CONTAINER = "istio-proxy"
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_MANAGED = ("gateway.istio.io/managed", "istio.io-mesh-controller")


def is_ambient(ns: dict | None) -> bool:
    return ns is not None and labels(ns).get(DATAPLANE_MODE) == "ambient"


def sidecar_labels(ns: dict) -> dict:
    """The labels that put a namespace in sidecar mode (a second mode next to ambient)."""
    return {k: v for k, v in labels(ns).items() if k in (INJECTION, REVISION)}


def is_mesh_infrastructure(pod: dict) -> bool:
    """ztunnel and waypoint pods: the mesh's own proxies, not the tenant's workloads."""
    pod_labels = labels(pod)
    return pod_labels.get("app") == "ztunnel" or pod_labels.get(WAYPOINT_MANAGED[0]) == WAYPOINT_MANAGED[1]


def workload_pods(view, namespace: str) -> list[dict]:
    """Running, not terminating, not the mesh's own proxies."""
    return [p for p in view.list("pods", namespace)
            if dig(p, "status.phase") == "Running" and not meta(p).get("deletionTimestamp")
            and not is_mesh_infrastructure(p)]


def redirected(pod: dict) -> bool:
    return annotations(pod).get(REDIRECTION) == "enabled"


def waypoint_gateways(view, namespace: str | None = None) -> list[dict]:
    return [g for g in view.list("gateways", namespace) if dig(g, "spec.gatewayClassName") == WAYPOINT_CLASS]
