"""PURE: one profiled edge + one source's Observation -> a verdict with an incident report.

An edge passes when, over the window, the destination ztunnel counted new connections with
reporter="destination", connection_security_policy="mutual_tls" and source_principal equal to
the source's SPIFFE identity, toward the destination namespace and service/workload; and no
plaintext (policy != mutual_tls) connection toward that destination grew, whichever ztunnel
reported it. reporter="destination" + mutual_tls is counted only after the HBONE handshake
succeeded (the principal comes from it), so "opened" is enough there (ztunnel-metrics.md §4-§5).

Outcomes: "pass", "fail" (seen and wrong), "undecided" (a ztunnel was not observed and the
rest does not already prove a failure: could not check, never a pass).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .. import runbook
from ..findings import Finding
from ..profile import Edge
from .observation import OPENED, Observation, SeriesDelta

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
MAX_EXCERPT_LINES = 40


@dataclass
class Verdict:
    outcome: str
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""                  # why undecided
    excerpt: str = ""                 # the series the verdict rests on, for the report


def spiffe(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def judge(tenant: str, edge: Edge, trust_domain: str, obs: Observation,
          edge_nodes: frozenset[str] | None = None) -> Verdict:
    """`edge_nodes`: the nodes the edge's client and server pods run on (placement.py); an
    unobserved ztunnel elsewhere cannot hide this edge's evidence. None: every ztunnel matters."""
    dest_ns = edge.destination_namespace or tenant
    principal = spiffe(trust_domain, tenant, edge.source_service_account)
    toward = [d for d in obs.deltas if d.name == OPENED and _toward(d, edge.destination, dest_ns)]
    encrypted = [d for d in toward if _reporter(d) == "destination" and _policy(d) == "mutual_tls"
                 and d.labels.get("source_principal") == principal]
    plaintext = [d for d in toward if _policy(d) != "mutual_tls" and d.delta > 0]
    grew = sum(d.delta for d in encrypted)
    excerpt = _excerpt(obs, toward)

    if plaintext:
        return Verdict(FAIL, [_finding(tenant, edge, dest_ns, principal, obs, toward, grew, plaintext=True)],
                       excerpt=excerpt)
    blind = {pod: why for pod, why in obs.unobserved.items()
             if edge_nodes is None or pod not in obs.ztunnels or obs.ztunnels[pod].node in edge_nodes}
    if blind:
        return Verdict(UNDECIDED, reason=_unobserved(blind), excerpt=excerpt)
    if grew > 0:
        return Verdict(PASS, excerpt=excerpt)
    return Verdict(FAIL, [_finding(tenant, edge, dest_ns, principal, obs, toward, grew, plaintext=False)],
                   excerpt=excerpt)


def _reporter(d: SeriesDelta) -> str:
    return d.labels.get("reporter", "unknown")


def _policy(d: SeriesDelta) -> str:
    return d.labels.get("connection_security_policy", "unknown")


def _toward(d: SeriesDelta, destination: str, namespace: str) -> bool:
    labels = d.labels
    in_namespace = namespace in (labels.get("destination_workload_namespace"), labels.get("destination_service_namespace"))
    # A client dialling a pod IP leaves destination_service* "unknown" (istio/ztunnel#404): the workload still names it.
    return in_namespace and destination in (labels.get("destination_service_name"), labels.get("destination_workload"))


def _finding(tenant, edge, dest_ns, principal, obs, toward, grew, *, plaintext: bool) -> Finding:
    window = f"{obs.window:g}s window ({obs.source})"
    expected = (f"reporter=destination, connection_security_policy=mutual_tls, source_principal={principal}: "
                f"istio_tcp_connections_opened_total grows over the {window}; no plaintext (unknown) connection "
                f"toward {edge.destination}.{dest_ns}")
    growing, flat = [d for d in toward if d.delta > 0], [d for d in toward if d.delta <= 0]
    actual = (f"mutual_tls from {principal}: +{grew:g}; grew: {_summary(obs, growing) or 'nothing, on any ztunnel'}"
              + (f"; flat: {_summary(obs, flat)}" if flat else ""))
    if plaintext:
        namespaces = " and ".join(dict.fromkeys((tenant, dest_ns)))
        fix = (f"{runbook.PLAINTEXT.replace('<ns>', namespaces)} If {namespaces} {'is' if tenant == dest_ns else 'are'} "
               f"labelled and istio-cni is healthy on the nodes above, ztunnel may lack workload identity there: "
               f"{runbook.WORKLOAD_IDENTITY_RBAC}")
    elif _other_principals(toward, edge):
        fix = (f"mutual_tls is seen from another identity: {edge.source} runs under a different ServiceAccount than "
               f"the profiled {edge.source_service_account}; fix the Deployment's serviceAccountName or the profile.")
    else:
        # Two pods that are not redirected to ztunnel produce no series at all: silence is also
        # what plaintext between un-enrolled pods looks like.
        fix = (f"No ztunnel counted this edge in the window: either its traffic bypasses ztunnel (plaintext between pods "
               f"that are not enrolled: {runbook.PLAINTEXT.replace('<ns>', tenant)}), or {edge.source} is not calling "
               f"{edge.destination} (check that it runs; a longer --mtls-window helps with sparse traffic). "
               f"{runbook.POD_NOT_READY}")
    return Finding(object=f"edge {edge.id(tenant)} ({edge.source} -> {edge.destination}.{dest_ns})",
                   expected=expected, actual=actual, fix=fix)


def _other_principals(toward: list[SeriesDelta], edge: Edge) -> bool:
    return any(_policy(d) == "mutual_tls" and d.delta > 0 and d.labels.get("source_workload") == edge.source
               for d in toward)


def _summary(obs: Observation, series: list[SeriesDelta]) -> str:
    """'policy unknown, reporter destination, principal unknown: +12 on ztunnel-a (node w1)'; ..."""
    groups: dict[tuple, float] = defaultdict(float)
    for d in series:
        groups[(_policy(d), _reporter(d), d.labels.get("source_principal", "unknown"), d.ztunnel)] += d.delta
    parts = []
    for (policy, reporter, principal, ztunnel), delta in sorted(groups.items()):
        where = obs.ztunnels[ztunnel].describe() if ztunnel in obs.ztunnels else ztunnel
        parts.append(f"policy {policy}, reporter {reporter}, source_principal {principal}: +{delta:g} on ztunnel {where}")
    return "; ".join(parts)


def _unobserved(blind: dict[str, str]) -> str:
    return "; ".join(f"ztunnel {pod}: {why}" for pod, why in sorted(blind.items()))


def _excerpt(obs: Observation, series: list[SeriesDelta]) -> str:
    lines = [f"# source {obs.source}, window {obs.window:g}s, ztunnels observed: "
             + (", ".join(z.describe() for p, z in sorted(obs.ztunnels.items()) if p not in obs.unobserved) or "none")]
    if obs.query:
        lines.append(f"# query: {obs.query}")
    for pod, why in sorted(obs.unobserved.items()):
        lines.append(f"# unobserved ztunnel {pod}: {why}")
    for d in series[:MAX_EXCERPT_LINES]:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(d.labels.items()))
        # A series absent before the window grew from zero (counters appear on first increment).
        raw = f" (before {d.before or 0:g}, after {d.after:g})" if d.after is not None else ""
        lines.append(f"{d.name}{{{labels}}} delta {d.delta:g}{raw}  # ztunnel {d.ztunnel}")
    if len(series) > MAX_EXCERPT_LINES:
        lines.append(f"# ... {len(series) - MAX_EXCERPT_LINES} more series")
    return "\n".join(lines)
