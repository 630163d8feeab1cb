"""PURE: the mTLS edges a window of ztunnel counters shows, as profile edges the suite will pass.

Candidates come from every series that grew with connection_security_policy="mutual_tls" and a
SPIFFE source_principal (spiffe://<trust domain>/ns/<ns>/sa/<sa>): the destination ztunnel's view
(reporter="destination") of a direct call, and the source ztunnel's view (reporter="source") of a
call into a waypoint namespace, because behind a waypoint the destination sees the waypoint's
identity, not the client's (istio/ztunnel `src/proxy/outbound.rs`).
Each candidate is then judged by the suite's own judge (mtls/evidence.py), exactly as
test_edge_traffic_is_mutual_tls will judge it: only an edge that delivered data encrypted (not mere
opens, which a DENY also counts) is drafted; the others are reported as notes.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..checks import mesh
from ..kube.objects import labels, name, namespace
from ..mtls import evidence, flows, placement
from ..mtls.observation import Observation
from ..profile import Edge

SPIFFE = re.compile(r"^spiffe://(?P<td>[^/]+)/ns/(?P<ns>[^/]+)/sa/(?P<sa>[^/]+)$")
UNKNOWN = ("", "unknown")


def observed_edges(obs: Observation, view, tenants: set[str], trust_domain: str,
                   waypoints: dict[str, str]) -> tuple[dict[str, list[tuple[Edge, str]]], list[str]]:
    """tenant namespace -> [(edge, note)] in a stable order, and notes on what was seen but not drafted.
    `waypoints`: namespace -> the waypoint Gateway its traffic goes through."""
    waypoint_identities = {(namespace(g), name(g)) for g in mesh.waypoint_gateways(view)}
    window = f"{obs.window:g}s ({obs.source})"
    drafted: dict[str, list[tuple[Edge, str]]] = {}
    notes: list[str] = []
    toward = _by_destination(obs)
    for src_ns, source, sa, dest_ns, dest in _candidates(obs, waypoint_identities):
        if src_ns not in tenants:
            continue
        dest_sa, sa_note = _service_account(view, dest, dest_ns)
        edge = Edge(source=source, source_service_account=sa, destination=dest, destination_service_account=dest_sa,
                    destination_namespace="" if dest_ns == src_ns else dest_ns)
        through = evidence.Waypoint(dest_ns, waypoints[dest_ns]) if dest_ns in waypoints else None
        # The judge scans the observation it is given: hand it only the series toward this destination
        # (500 tenants: one scan each of ~4,000 series made the draft 10x slower).
        mine = replace(obs, deltas=toward.get((dest_ns, dest), []))
        verdict = evidence.judge(src_ns, edge, trust_domain, mine, placement.edge_nodes(view, src_ns, edge), through)
        if verdict.outcome != evidence.PASS:
            why = verdict.reason if verdict.outcome == evidence.UNDECIDED else verdict.findings[0].actual
            notes.append(f"{edge.id(src_ns)} seen with mutual_tls but not drafted ({verdict.outcome}: {why[:200]})")
            continue
        hop = f" through waypoint {through.namespace}/{through.name}" if through else ""
        drafted.setdefault(src_ns, []).append((edge, f"seen over {window}: mutual_tls, data delivered{hop}; the suite's "
                                                     f"mTLS judge passes it{sa_note}; CONFIRM this traffic must be encrypted"))
    return drafted, notes


def _candidates(obs: Observation, waypoint_identities: set[tuple[str, str]]) -> list[tuple[str, str, str, str, str]]:
    """(source namespace, source workload, source account, destination namespace, destination), sorted."""
    found = set()
    for d in obs.deltas:
        if d.delta <= 0 or flows.policy(d) != flows.MUTUAL_TLS:
            continue
        who = SPIFFE.match(flows.principal(d))
        lab = d.labels
        dest_ns = _known(lab.get("destination_service_namespace")) or _known(lab.get("destination_workload_namespace"))
        dest = _known(lab.get("destination_service_name")) or _known(lab.get("destination_workload"))
        source = _known(lab.get("source_workload"))
        if who and dest_ns and dest and source and (who["ns"], who["sa"]) not in waypoint_identities:
            found.add((who["ns"], source, who["sa"], dest_ns, dest))
    return sorted(found)


def _by_destination(obs: Observation) -> dict[tuple[str, str], list]:
    """Series by every (namespace, destination) flows.toward() would match them to."""
    index: dict[tuple[str, str], list] = {}
    for d in obs.deltas:
        lab = d.labels
        keys = {(ns, dest) for ns in (lab.get("destination_workload_namespace"), lab.get("destination_service_namespace"))
                for dest in (lab.get("destination_service_name"), lab.get("destination_workload")) if ns and dest}
        for key in keys:
            index.setdefault(key, []).append(d)
    return index


def _known(value: str | None) -> str:
    return "" if value in UNKNOWN or value is None else value


def _service_account(view, service: str, ns: str) -> tuple[str, str]:
    """The destination's ServiceAccount: that of the pods behind the Service (or of the workload)."""
    svc = view.get("services", service, ns)
    selector = (svc or {}).get("spec", {}).get("selector")
    # Running pods only: an Evicted or completed pod keeps its old spec (and maybe another account).
    chosen = (mesh.selected_pods(view, ns, {"matchLabels": selector}) if selector
              else [p for p in mesh.workload_pods(view, ns) if labels(p).get("app") == service])
    accounts = sorted({(p.get("spec") or {}).get("serviceAccountName") or "default" for p in chosen})
    if len(accounts) == 1:
        return accounts[0], ""
    if not accounts:
        return service, f"; no pod behind {service}.{ns} found: destination_service_account guessed as {service}, CONFIRM"
    return accounts[0], f"; pods behind {service}.{ns} run as {', '.join(accounts)}: CONFIRM destination_service_account"
