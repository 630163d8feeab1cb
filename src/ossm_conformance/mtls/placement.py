"""PURE: which nodes an edge runs on, from the snapshot.

Only the ztunnels on those nodes can report the edge (reporter="destination" on the server's
node, reporter="source" on the client's). A ztunnel elsewhere that could not be scraped — a node
being drained, say — then leaves the edge decidable instead of turning it into "could not check".
When the placement cannot be read, every ztunnel counts (None): never a guess toward a pass.
"""

from __future__ import annotations

from ..kube.objects import labels, selector_matches
from ..kube.views import reads
from ..profile import Edge


@reads("services", "deployments", "pods")
def edge_nodes(view, tenant: str, edge: Edge) -> frozenset[str] | None:
    dest_ns = edge.destination_namespace or tenant
    service = view.get("services", edge.destination, dest_ns)
    source = view.get("deployments", edge.source, tenant)
    server_selector = {"matchLabels": (service or {}).get("spec", {}).get("selector") or {}}
    client_selector = (source or {}).get("spec", {}).get("selector") or {}
    if not server_selector["matchLabels"] or not client_selector:
        return None
    servers = _nodes(view.list("pods", dest_ns), server_selector)
    clients = _nodes(view.list("pods", tenant), client_selector)
    if not servers or not clients:
        return None
    return frozenset(servers | clients)


def _nodes(pods: list[dict], selector: dict) -> set[str]:
    return {p["spec"]["nodeName"] for p in pods
            if (p.get("spec") or {}).get("nodeName") and selector_matches(selector, labels(p))}


@reads("pods")
def running_ztunnels(view, ztunnel_namespace: str) -> dict[str, str]:
    """The ztunnel pods that run (pod -> node): the ones a metrics window must have covered."""
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in view.list("pods", ztunnel_namespace)
            if (p.get("status") or {}).get("phase") == "Running" and (p.get("spec") or {}).get("nodeName")
            and not p["metadata"].get("deletionTimestamp")}
