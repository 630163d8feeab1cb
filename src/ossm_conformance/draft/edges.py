"""PURE: the mTLS edges a window of ztunnel counters shows, as profile edges.

An edge is drafted from what the *destination* ztunnel counted: istio_tcp_connections_opened_total
with reporter="destination" and connection_security_policy="mutual_tls" grew, and its
source_principal names the caller's SPIFFE identity (spiffe://<trust domain>/ns/<ns>/sa/<sa>).
That series is only written after the HBONE handshake succeeded (istio/ztunnel
`src/proxy/metrics.rs`, `src/proxy/inbound.rs`; reference/upstream-behaviour.md), so it is the
same evidence the suite's judge (mtls/evidence.py) later asks for: a drafted edge passes there.

Through a waypoint the destination ztunnel sees the waypoint's identity, not the client's
(upstream-behaviour.md, "Waypoints"): such series are reported as notes, never as an edge from the
waypoint, because the client behind it is not visible at the destination.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..checks import _mesh
from ..checks._k8s import dig, labels, name, namespace
from ..mtls.observation import OPENED, Observation
from ..profile import Edge

SPIFFE = re.compile(r"^spiffe://(?P<td>[^/]+)/ns/(?P<ns>[^/]+)/sa/(?P<sa>[^/]+)$")
UNKNOWN = ("", "unknown")


def observed_edges(obs: Observation, view, tenants: set[str]) -> tuple[dict[str, list[tuple[Edge, str]]], list[str]]:
    """tenant namespace -> [(edge, note)], in a stable order; and notes on waypoint traffic."""
    grown: dict[tuple, float] = defaultdict(float)
    for d in obs.deltas:
        lab = d.labels
        if (d.name != OPENED or d.delta <= 0 or lab.get("reporter") != "destination"
                or lab.get("connection_security_policy") != "mutual_tls"):
            continue
        who = SPIFFE.match(lab.get("source_principal", ""))
        if not who:
            continue
        dest_ns = _known(lab.get("destination_service_namespace")) or _known(lab.get("destination_workload_namespace"))
        dest = _known(lab.get("destination_service_name")) or _known(lab.get("destination_workload"))
        source = _known(lab.get("source_workload"))
        if dest_ns and dest and source:
            grown[(who["ns"], source, who["sa"], dest_ns, dest)] += d.delta
    waypoints = {(namespace(g), name(g)) for g in _mesh.waypoint_gateways(view)}
    edges: dict[str, list[tuple[Edge, str]]] = defaultdict(list)
    via_waypoint: list[str] = []
    window = f"{obs.window:g}s ({obs.source})"
    for (src_ns, source, sa, dest_ns, dest), count in sorted(grown.items()):
        if (src_ns, sa) in waypoints:
            via_waypoint.append(f"{dest}.{dest_ns} reached through waypoint {src_ns}/{sa}: +{_about(count)} mutual_tls "
                                f"connections over {window}; the client behind the waypoint is not visible here")
            continue
        if src_ns not in tenants:
            continue
        dest_sa, sa_note = _service_account(view, dest, dest_ns)
        edge = Edge(source=source, source_service_account=sa, destination=dest, destination_service_account=dest_sa,
                    destination_namespace="" if dest_ns == src_ns else dest_ns)
        note = f"seen: +{_about(count)} mutual_tls connections over {window}{sa_note}; CONFIRM this traffic must be encrypted"
        edges[src_ns].append((edge, note))
    return dict(edges), via_waypoint


def _about(count: float) -> str:
    """Prometheus' increase() extrapolates (15.0075 connections): a whole number reads better."""
    return f"{count:.0f}" if count >= 1 else f"{count:.2g}"


def _known(value: str | None) -> str:
    return "" if value in UNKNOWN or value is None else value


def _service_account(view, service: str, ns: str) -> tuple[str, str]:
    """The destination's ServiceAccount: that of the pods behind the Service (or of the workload)."""
    svc = view.get("services", service, ns)
    selector = dig(svc, "spec.selector") if svc else None
    # Running pods only: an Evicted or completed pod keeps its old spec (and maybe another account).
    chosen = (_mesh.selected_pods(view, ns, {"matchLabels": selector}) if selector
              else [p for p in _mesh.workload_pods(view, ns) if labels(p).get("app") == service])
    accounts = sorted({dig(p, "spec.serviceAccountName") or "default" for p in chosen})
    if len(accounts) == 1:
        return accounts[0], ""
    if not accounts:
        return service, f"; no pod behind {service}.{ns} found: destination_service_account guessed as {service}, confirm"
    return accounts[0], f"; pods behind {service}.{ns} run as {', '.join(accounts)}: confirm destination_service_account"
