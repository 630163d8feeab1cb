"""PURE: one profiled edge + one source's Observation -> a verdict with an incident report.

What a healthy and a broken cluster show, as ztunnel 1.28 counts it (flows.py has the counter
semantics and their source files):

- healthy edge: the destination ztunnel's series with reporter="destination",
  connection_security_policy="mutual_tls" and source_principal = the source's SPIFFE identity
  (taken from the HBONE handshake) *delivered data* over the window: bytes grew, or connections
  completed (closed with response_flags "-"). A pooled / long-lived connection opened before the
  window only moves bytes: that passes. Opens alone never pass.
- edge into an ambient+waypoint tenant: judged hop by hop, as ztunnel reports it: the source's
  ztunnel (reporter="source", the source principal, destination_workload = the waypoint) moved
  bytes to the waypoint, and the destination's ztunnel saw mutual_tls *from the waypoint's
  identity* delivering data (istio/ztunnel `src/proxy/outbound.rs` picks the service's waypoint
  as the actual destination; the waypoint, an Envoy, reports for itself).
- denied: connections opened with mutual_tls and closed with DENY (an AuthorizationPolicy).
- plaintext on the edge: policy "unknown" from the edge's own source workload (ztunnel names the
  client by its IP: source_workload / source_workload_namespace; the principal stays unknown).
- plaintext from other callers (the router, user-workload Prometheus, other namespaces): counted
  at the destination before authorization; under STRICT closed with DENY and no bytes: conformant,
  shown as information. Accepted plaintext (bytes, or closes without DENY) violates STRICT: fails.
- identity failure (the bank-payment story): no plaintext fallback. The source ztunnel counts the
  open (mutual_tls, its own principal) and closes it without bytes; the destination counts nothing.
- silence: no series grew at all: no traffic in the window (or both ends bypass ztunnel).

Outcomes: "pass", "fail" (seen and wrong), "undecided" (a ztunnel was not observed and the
rest does not already prove a failure: could not check, never a pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import runbook
from ..findings import Finding
from ..profile import Edge
from . import flows
from .flows import MUTUAL_TLS, Flow
from .observation import COUNTERS, Observation, SeriesDelta

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
MAX_EXCERPT_LINES = 60


@dataclass
class Verdict:
    outcome: str
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""                  # why undecided
    excerpt: str = ""                 # the series the verdict rests on, for the report
    notes: list[str] = field(default_factory=list)   # conformant facts worth showing (denied plaintext callers)


@dataclass(frozen=True)
class Waypoint:
    """The waypoint the destination's namespace uses (profile: tenant mode ambient+waypoint)."""
    namespace: str
    name: str                          # the Gateway; istiod names its Deployment and ServiceAccount alike


def spiffe(trust_domain: str, namespace: str, service_account: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


@dataclass
class _Case:
    """Everything the findings of one edge need."""
    tenant: str
    edge: Edge
    dest_ns: str
    principal: str
    trust_domain: str
    obs: Observation
    toward: list[SeriesDelta]
    waypoint: Waypoint | None
    policies: tuple[str, ...]

    @property
    def object(self) -> str:
        return f"edge {self.edge.id(self.tenant)} ({self.edge.source} -> {self.edge.destination}.{self.dest_ns})"

    @property
    def window(self) -> str:
        return f"{self.obs.window:g}s window ({self.obs.source})"

    def own(self, d: SeriesDelta) -> bool:
        return flows.caller(d) == (self.tenant, self.edge.source)

    def select(self, reporter: str, principal: str | None = None, to_workload: str | None = None) -> Flow:
        return flows.flow(d for d in self.toward if flows.reporter(d) == reporter and flows.policy(d) == MUTUAL_TLS
                          and (principal is None or flows.principal(d) == principal)
                          and (to_workload is None or d.labels.get("destination_workload") == to_workload))


def judge(tenant: str, edge: Edge, trust_domain: str, obs: Observation,
          edge_nodes: frozenset[str] | None = None, waypoint: Waypoint | None = None,
          policies: tuple[str, ...] = ()) -> Verdict:
    """`edge_nodes`: the nodes the edge's client and server pods run on (placement.py); an
    unobserved ztunnel elsewhere cannot hide this edge's evidence. None: every ztunnel matters.
    `policies`: AuthorizationPolicies ztunnel may enforce at the destination, named when a deny shows."""
    dest_ns = edge.destination_namespace or tenant
    toward = [d for d in obs.deltas if d.name in COUNTERS and flows.toward(d, edge.destination, dest_ns)]
    case = _Case(tenant, edge, dest_ns, spiffe(trust_domain, tenant, edge.source_service_account), trust_domain,
                 obs, toward, waypoint, policies)
    excerpt = _excerpt(obs, toward)

    plaintext = [d for d in toward if flows.policy(d) != MUTUAL_TLS]
    own = [d for d in plaintext if case.own(d) and d.delta > 0]
    if own:
        return Verdict(FAIL, [_own_plaintext(case, own)], excerpt=excerpt)
    callers = flows.by_caller(d for d in plaintext if flows.reporter(d) == "destination" and not case.own(d))
    accepted = {c: f for c, f in callers.items() if f.delivered("destination")}
    notes = [f"plaintext from {_caller(c)} toward {edge.destination}.{dest_ns}: {f.describe()} — refused under "
             f"STRICT, as it must be (not traffic of this edge)" for c, f in callers.items()
             if f.grew and c not in accepted]
    if accepted:
        return Verdict(FAIL, [_accepted_plaintext(case, accepted)], excerpt=excerpt, notes=notes)
    blind = {pod: why for pod, why in obs.unobserved.items()
             if edge_nodes is None or pod not in obs.ztunnels or obs.ztunnels[pod].node in edge_nodes}
    if blind:
        return Verdict(UNDECIDED, reason=_unobserved(blind), excerpt=excerpt, notes=notes)
    findings = _through_waypoint(case) if waypoint else _direct(case)
    return Verdict(FAIL if findings else PASS, findings, excerpt=excerpt, notes=notes)


# -- hops ---------------------------------------------------------------------------------------

def _direct(case: _Case) -> list[Finding]:
    arrived = case.select("destination", case.principal)
    if arrived.denied:
        return [_denied(case, "destination", arrived)]
    if arrived.delivered("destination"):
        return []
    sent = case.select("source", case.principal)
    if sent.opened and not sent.bytes and not arrived.grew:
        return [_never_arrived(case, sent)]
    return [_nothing_delivered(case, arrived, hop="")]


def _through_waypoint(case: _Case) -> list[Finding]:
    waypoint = case.waypoint
    to_waypoint = case.select("source", case.principal, to_workload=waypoint.name)
    from_waypoint = case.select("destination", spiffe(case.trust_domain, waypoint.namespace, waypoint.name))
    direct = case.select("destination", case.principal)
    if direct.delivered("destination") and not to_waypoint.grew:
        return [_bypassed(case, direct)]
    findings = []
    if to_waypoint.denied or from_waypoint.denied:
        findings.append(_denied(case, "destination", from_waypoint if from_waypoint.denied else to_waypoint))
    elif not to_waypoint.delivered("source"):
        findings.append(_nothing_delivered(case, to_waypoint, hop=f"source -> waypoint {waypoint.name}"))
    elif not from_waypoint.delivered("destination"):
        findings.append(_nothing_delivered(case, from_waypoint, hop=f"waypoint {waypoint.name} -> destination"))
    return findings


# -- findings -----------------------------------------------------------------------------------

def _expected(case: _Case) -> str:
    if case.waypoint:
        wp = case.waypoint
        return (f"through waypoint {wp.namespace}/{wp.name}: reporter=source, mutual_tls, source_principal="
                f"{case.principal}, destination_workload={wp.name} moves bytes; and reporter=destination, mutual_tls, "
                f"source_principal={spiffe(case.trust_domain, wp.namespace, wp.name)} delivers data "
                f"(bytes or completed connections) over the {case.window}; no plaintext from {case.edge.source}")
    return (f"reporter=destination, connection_security_policy=mutual_tls, source_principal={case.principal}: "
            f"data delivered (bytes grow or connections complete without DENY) over the {case.window}; "
            f"no plaintext from {case.edge.source}")


def _finding(case: _Case, actual: str, fix: str) -> Finding:
    return Finding(object=case.object, expected=_expected(case), actual=actual, fix=fix)


def _own_plaintext(case: _Case, own: list[SeriesDelta]) -> Finding:
    namespaces = " and ".join(dict.fromkeys((case.tenant, case.dest_ns)))
    fix = (f"{runbook.PLAINTEXT.replace('<ns>', namespaces)} If {namespaces} "
           f"{'is' if case.tenant == case.dest_ns else 'are'} labelled and istio-cni is healthy on the nodes above, "
           f"check that the pods carry ambient.istio.io/redirection=enabled.")
    return _finding(case, f"plaintext from {case.edge.source} ({case.tenant}) grew: {_summary(case.obs, own)}", fix)


def _accepted_plaintext(case: _Case, accepted: dict[tuple[str, str], Flow]) -> Finding:
    who = "; ".join(f"{_caller(c)}: {f.describe()}" for c, f in accepted.items())
    return _finding(case, f"plaintext toward {case.edge.destination}.{case.dest_ns} was accepted (data delivered, "
                          f"no DENY) from {who}",
                    runbook.STRICT_VIOLATION)


def _denied(case: _Case, reporter: str, denied: Flow) -> Finding:
    candidates = ", ".join(case.policies) or f"none found in the snapshot of {case.dest_ns} and the root namespace"
    actual = (f"mutual_tls connections from {case.principal} were refused: reporter={reporter} "
              f"response_flags=DENY {denied.denied:g} of {denied.opened:g} opened ({denied.describe()}); "
              f"denied by policy {candidates}?")
    return _finding(case, actual, runbook.AUTHORIZATION_DENY.replace("<ns>", case.dest_ns))


def _never_arrived(case: _Case, sent: Flow) -> Finding:
    actual = (f"the source ztunnel opened mutual_tls connections as {case.principal} ({sent.describe()}) but moved "
              f"no bytes, and the destination ztunnel counted nothing: the destination never saw the connection")
    fix = (f"No plaintext fallback: the HBONE connection failed before reaching {case.edge.destination}. Most often "
           f"ztunnel could not get a workload certificate: check the ztunnel-workload-identity Role/RoleBinding of "
           f"{' and '.join(dict.fromkeys((case.tenant, case.dest_ns)))}. {runbook.WORKLOAD_IDENTITY_RBAC} "
           f"{runbook.TRUSTED_ZTUNNEL_NAMESPACE} Otherwise the destination node's ztunnel is not accepting HBONE "
           f"(oc -n ztunnel get pods -o wide: Ready on that node?).")
    return _finding(case, actual, fix)


def _bypassed(case: _Case, direct: Flow) -> Finding:
    wp = case.waypoint
    actual = (f"mutual_tls from {case.principal} reached {case.edge.destination} directly ({direct.describe()}), "
              f"not through waypoint {wp.namespace}/{wp.name}: its L7 policies are not enforced")
    return _finding(case, actual, runbook.WAYPOINT_BYPASSED.replace("<ns>", case.dest_ns))


def _nothing_delivered(case: _Case, seen: Flow, hop: str) -> Finding:
    where = f" on hop {hop}" if hop else ""
    grew = [d for d in case.toward if d.delta > 0]
    actual = (f"no data delivered{where} in the {case.window}: {seen.describe()}; "
              f"grew toward {case.edge.destination}: {_summary(case.obs, grew) or 'nothing, on any ztunnel'}")
    if _other_principals(case):
        fix = (f"mutual_tls is seen from another identity: {case.edge.source} runs under a different ServiceAccount "
               f"than the profiled {case.edge.source_service_account}; fix the Deployment's serviceAccountName or "
               f"the profile.")
    elif case.waypoint and hop.startswith("source"):
        fix = (f"Nothing reached the waypoint. {runbook.WAYPOINT_DOWN.replace('<ns>', case.waypoint.namespace)}"
               .replace("<waypoint>", case.waypoint.name) + f" Also check that {case.edge.source} runs.")
    elif seen.opened:
        fix = (f"Connections were opened but carried nothing and none completed: check that {case.edge.destination} "
               f"answers, or use a longer --mtls-window (now {case.obs.window:g}s).")
    else:
        # Two pods that are not redirected to ztunnel produce no series at all: silence is also
        # what plaintext between un-enrolled pods looks like.
        fix = (f"No traffic in the {case.obs.window:g}s window: either {case.edge.source} is not calling "
               f"{case.edge.destination} (check that both run; a longer --mtls-window helps with sparse traffic), "
               f"or its traffic bypasses ztunnel (plaintext between pods that are not enrolled: "
               f"{runbook.PLAINTEXT.replace('<ns>', case.tenant)}). {runbook.POD_NOT_READY}")
    return _finding(case, actual, fix)


def _other_principals(case: _Case) -> bool:
    return any(flows.policy(d) == MUTUAL_TLS and d.delta > 0 and case.own(d) and flows.principal(d) != case.principal
               and flows.reporter(d) == "destination" for d in case.toward)


# -- report text ----------------------------------------------------------------------------------

def _caller(c: tuple[str, str]) -> str:
    namespace, workload = c
    return f"{workload} ({namespace})" if (namespace, workload) != ("unknown", "unknown") else "an unnamed client (host network or outside the cluster)"


def _summary(obs: Observation, series: list[SeriesDelta]) -> str:
    """'opened, policy unknown, reporter destination, source_principal unknown, from bff: +12 on ztunnel ...'; ..."""
    groups: dict[tuple, float] = {}
    for d in series:
        key = (d.name.removeprefix("istio_tcp_").removesuffix("_total"), flows.policy(d), flows.reporter(d),
               flows.principal(d), flows.caller(d)[1], d.labels.get("response_flags", "-"), d.ztunnel)
        groups[key] = groups.get(key, 0.0) + d.delta
    parts = []
    for (name, policy, reporter, principal, caller, flags, ztunnel), delta in sorted(groups.items()):
        where = obs.ztunnels[ztunnel].describe() if ztunnel in obs.ztunnels else ztunnel
        flag = f" flags {flags}" if name == "connections_closed" else ""
        parts.append(f"{name}{flag}, policy {policy}, reporter {reporter}, source_principal {principal}, "
                     f"from {caller}: +{delta:g} on ztunnel {where}")
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
