"""Tenant namespaces: enrolment (per pod, as istio-cni decides it), PeerAuthentication (as istiod
resolves it), NetworkPolicies for HBONE (per profiled edge), pods."""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import Profile, Tenant
from . import mesh
from ._k8s import annotations, dig, labels, listing, meta, name, namespace, namespace_labels, pod_ready, reads, ref
from ._netpol import Peer, admits, pod_peer, policy_names, selecting

HBONE_PORT = 15008
_WEAK_MODES = ("PERMISSIVE", "DISABLE")


def _namespace_missing(tenant: Tenant) -> Finding:
    return Finding(f"Namespace {tenant.namespace}", f"exists (profiled as a {tenant.mode} tenant)", "not found",
                   runbook.MISSING_NAMESPACE)


@reads("namespaces")
def ambient_namespace_enrolled(view, tenant: Tenant) -> list[Finding]:
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    obj, findings = f"Namespace {tenant.namespace}", []
    mode = labels(ns).get(mesh.DATAPLANE_MODE)
    if mode != "ambient":
        findings.append(Finding(obj, f"label {mesh.DATAPLANE_MODE}=ambient",
                                f"{mesh.DATAPLANE_MODE}={mode}" if mode else f"no {mesh.DATAPLANE_MODE} label",
                                runbook.PLAINTEXT))
    sidecar = mesh.sidecar_labels(ns)
    if sidecar:
        findings.append(Finding(obj, f"no label that makes istiod inject sidecars ({mesh.INJECTION}=enabled, "
                                     f"{mesh.REVISION}) (one mode per namespace)",
                                ", ".join(f"{k}={v}" for k, v in sorted(sidecar.items())), runbook.MIXED_MODE))
    return findings


# -- PeerAuthentication -----------------------------------------------------------------------
def _namespace_wide(pa: dict) -> bool:
    return not dig(pa, "spec.selector.matchLabels")


def _mode(pa: dict) -> str:
    return dig(pa, "spec.mtls.mode") or "UNSET"


def _applied(pas: list[dict]) -> dict | None:
    """The namespace-wide policy istiod applies among several: the oldest by creationTimestamp
    (istio/istio pilot/pkg/security/authn/policy_applier.go, ComposePeerAuthentication: "When
    there are more than one policy in the same scope ..., the oldest one win"). Equal timestamps
    (one-second resolution): the first by name, the order istiod's config store lists them in."""
    wide = [pa for pa in pas if _namespace_wide(pa)]
    return min(wide, key=lambda pa: (meta(pa).get("creationTimestamp") or "", name(pa))) if wide else None


def _effective_mode(pa: dict | None, parent_mode: str) -> str:
    """UNSET inherits the parent's mode (ComposePeerAuthentication: "UNSET will be replaced with the
    setting from the parent"); with no policy at all the mesh default is PERMISSIVE."""
    mode = _mode(pa) if pa is not None else "UNSET"
    return parent_mode if mode == "UNSET" else mode


@reads("peerauthentications")
def peer_authentication_strict(view, tenant: Tenant, root_namespace: str) -> list[Finding]:
    """The namespace-level PeerAuthentication Istio applies resolves to STRICT; no PERMISSIVE/DISABLE
    override below it.

    Healthy: PeerAuthentication `default` (no selector) mode STRICT; a PERMISSIVE mesh-wide policy in
    the root namespace changes nothing (the namespace scope wins). Broken: no namespace-level policy
    (the runbook pins one: "what an auditor will look for"); the oldest namespace-wide policy is
    PERMISSIVE/DISABLE, or UNSET under a non-STRICT mesh-wide mode; a workload- or port-level
    PERMISSIVE/DISABLE override.
    """
    fix, findings = runbook.PEER_AUTHENTICATION, []
    pas = sorted(view.list("peerauthentications", tenant.namespace), key=name)
    mesh_pa = _applied(view.list("peerauthentications", root_namespace))
    mesh_mode = _effective_mode(mesh_pa, "PERMISSIVE")
    mesh_text = f"mesh-wide {ref(mesh_pa)} mode {_mode(mesh_pa)}" if mesh_pa else "no mesh-wide policy (PERMISSIVE)"
    applied = _applied(pas)
    if applied is None:
        weak_mesh = f"; {mesh_text} applies instead" if mesh_pa is not None and mesh_mode in _WEAK_MODES else ""
        findings.append(Finding(
            f"Namespace {tenant.namespace}", "a namespace-level PeerAuthentication (no selector) with mtls.mode STRICT",
            f"namespace-level PeerAuthentications: none{weak_mesh}", fix))
    elif (effective := _effective_mode(applied, mesh_mode)) != "STRICT":
        others = [name(pa) for pa in pas if _namespace_wide(pa) and pa is not applied]
        why = f"the oldest of the namespace-wide policies ({listing([name(applied), *others])}), so Istio applies it; " \
            if others else ""
        inherited = f" inherited from {mesh_text}" if _mode(applied) == "UNSET" else ""
        findings.append(Finding(ref(applied), "mtls.mode STRICT (effective)",
                                f"{why}mtls.mode {_mode(applied)}" + (f" -> {effective}{inherited}" if inherited else ""),
                                fix))
    for pa in pas:
        if not _namespace_wide(pa) and _mode(pa) in _WEAK_MODES:
            selector = dig(pa, "spec.selector.matchLabels", {})
            findings.append(Finding(ref(pa), "no workload-level PERMISSIVE/DISABLE override",
                                    f"mtls.mode {_mode(pa)} for pods {selector}", fix))
        weak_ports = {port: m.get("mode") for port, m in (dig(pa, "spec.portLevelMtls", {}) or {}).items()
                      if (m or {}).get("mode") in _WEAK_MODES}
        if weak_ports:
            findings.append(Finding(ref(pa), "no port-level PERMISSIVE/DISABLE override",
                                    "portLevelMtls " + ", ".join(f"{p}: {m}" for p, m in sorted(weak_ports.items())), fix))
    return findings


# -- NetworkPolicies: HBONE -------------------------------------------------------------------
def _waypoint_of(view, service: dict | None, namespace_: str) -> str | None:
    """The waypoint a Service's traffic goes through: its own istio.io/use-waypoint label, else its
    namespace's; `none` (or no label) means direct (istio/istio pilot/pkg/serviceregistry/kube/controller/ambient,
    the use-waypoint lookup: service label first, then namespace label, "none" opts out)."""
    wanted = labels(service or {}).get(mesh.USE_WAYPOINT) or namespace_labels(
        view.get("namespaces", namespace_)).get(mesh.USE_WAYPOINT)
    return None if wanted in (None, "", "none") else wanted


def _hbone_pairs(view, tenant: Tenant) -> list[tuple[str, Peer, Peer]]:
    """(why, client, server) for each connection on 15008 the tenant's real traffic needs.

    Profiled edges, hop by hop: the source ztunnel dials the destination's waypoint over HBONE and
    the waypoint dials the destination pod over HBONE (istio/ztunnel src/proxy/outbound.rs: a
    destination with a waypoint is sent to the waypoint, not to the pod), so an edge through a waypoint needs
    exactly source -> waypoint and waypoint -> destination, and a direct path only when the
    destination Service opts out (istio.io/use-waypoint=none). Tenants without profiled edges:
    every pair of workload pods, and the workloads to and from the tenant's waypoint."""
    ns = tenant.namespace
    workloads = [pod_peer(p) for p in sorted(mesh.workload_pods(view, ns), key=name)]
    pairs = []
    for edge in tenant.edges:
        dest_ns = edge.destination_namespace or ns
        service, source = view.get("services", edge.destination, dest_ns), view.get("deployments", edge.source, ns)
        servers = [pod_peer(s) for s in mesh.selected_pods(view, dest_ns, {"matchLabels": dig(service or {}, "spec.selector") or {}})]
        clients = [pod_peer(c) for c in mesh.selected_pods(view, ns, dig(source or {}, "spec.selector"))]
        if waypoint := _waypoint_of(view, service, dest_ns):
            why = f"the pods of edge {edge.id(ns)} through waypoint {waypoint}"
            hops = [pod_peer(w) for w in mesh.gateway_pods(view, dest_ns, waypoint)]
            pairs += [(why, c, w) for c in clients for w in hops] + [(why, w, s) for w in hops for s in servers]
        else:
            pairs += [(f"the pods of edge {edge.id(ns)}", c, s) for c in clients for s in servers]
    if not tenant.edges:
        pairs += [("the namespace's workload pods", c, s) for c in workloads for s in workloads if c is not s]
        if tenant.waypoint:
            why = f"the waypoint {tenant.waypoint} and the namespace's workload pods"
            for waypoint in map(pod_peer, mesh.gateway_pods(view, ns, tenant.waypoint)):
                pairs += [(why, w, waypoint) for w in workloads] + [(why, waypoint, w) for w in workloads]
    return pairs


@reads("pods", "networkpolicies", "namespaces", "services", "deployments")
def network_policies_admit_hbone(view, tenant: Tenant) -> list[Finding]:
    """NetworkPolicies admit HBONE (TCP 15008) for the tenant's real traffic: ingress at each
    destination pod from its clients, egress at each client to its destinations.

    ztunnel's HBONE runs in the pods' network namespaces (in-pod redirection), so the pods'
    NetworkPolicies apply to it. Healthy: no policies (all admitted), or policies admitting 15008
    for every profiled edge (through a waypoint: source -> waypoint and waypoint -> destination,
    nothing else), however micro-segmented the rest. Broken: one edge or hop (or, for a tenant
    without profiled edges, one pair of workload pods or the waypoint) denied on 15008.
    """
    pairs = _hbone_pairs(view, tenant)
    namespaces = {p.namespace for _, c, s in pairs for p in (c, s)}
    policies = {n: view.list("networkpolicies", n) for n in namespaces}
    ns_labels = {n: namespace_labels(view.get("namespaces", n)) for n in namespaces}
    denied: dict[tuple[str, str, str, str], list[str]] = {}
    isolating: dict[tuple[str, str, str], list[dict]] = {}
    for why, client, server in pairs:
        # Ingress: client -> server:15008 at the server. Egress: the same connection at the client.
        for direction, subject, other in (("Ingress", server, client), ("Egress", client, server)):
            key = (subject.namespace, subject.title, direction)
            if key not in isolating:
                isolating[key] = selecting(policies[subject.namespace], subject, direction)
            if not admits(isolating[key], direction, subject, other, HBONE_PORT, ns_labels):
                denied.setdefault((*key, why), []).append(other.title)
    findings = []
    for (ns, title, direction, why), others in sorted(denied.items()):
        towards = "from" if direction == "Ingress" else "to"
        findings.append(Finding(
            f"Pod {ns}/{title}", f"{direction.lower()} TCP {HBONE_PORT} (HBONE) admitted {towards} {why}",
            f"denied {towards} {listing(set(others))} by NetworkPolicies "
            f"{listing(policy_names(isolating[(ns, title, direction)]))}", runbook.HBONE_NETWORK_POLICY))
    return findings


# -- pods -------------------------------------------------------------------------------------
def _waiting_reasons(pod: dict) -> list[str]:
    statuses = (dig(pod, "status.initContainerStatuses", []) or []) + (dig(pod, "status.containerStatuses", []) or [])
    return sorted({dig(s, "state.waiting.reason") for s in statuses if dig(s, "state.waiting.reason")})


def _latest_event(view, pod: dict) -> str:
    """The newest Warning event the kubelet (or scheduler) recorded for the pod, as `oc describe` shows it.
    Filtered here too: a settle re-read lists the namespace's events without the snapshot's selector."""
    mine = [e for e in view.list("events", namespace(pod)) if e.get("type") == "Warning"
            and dig(e, "involvedObject.kind") == "Pod" and dig(e, "involvedObject.name") == name(pod)]
    if not mine:
        return "no events"
    newest = max(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or meta(e).get("creationTimestamp") or "")
    return f"latest event {newest.get('reason')}: {newest.get('message')}"


def _not_started(view, pod: dict) -> Finding:
    """A pod still Pending: ContainerCreating while the CNI chain (istio-cni among it) sets up the
    sandbox, Unschedulable, image pulls. Settling: a rollout's new pod may still start."""
    reasons = _waiting_reasons(pod)
    unscheduled = [c.get("reason") for c in dig(pod, "status.conditions", []) or []
                   if c.get("type") == "PodScheduled" and c.get("status") == "False"]
    state = ", ".join(reasons or unscheduled) or "not started"
    return Finding(ref(pod), "Running and Ready",
                   f"Pending ({state}) on node {dig(pod, 'spec.nodeName') or '(none)'}; {_latest_event(view, pod)}",
                   runbook.POD_NOT_STARTED, settling=True)


@reads("pods", "namespaces", "events")
def pods_redirected_and_ready(view, tenant: Tenant) -> list[Finding]:
    """Each workload pod of an ambient tenant is enrolled and redirected by istio-cni, captures its
    inbound traffic, carries no sidecar, and is Ready.

    Judged as a person would: Succeeded/Failed pods (a completed Job, an Evicted pod) and pods being
    deleted are not; a pod stuck Pending (ContainerCreating) is, with its latest event. Gateway and
    waypoint pods (labelled none by istiod) are not workload pods. Healthy: every workload pod
    annotated ambient.istio.io/redirection=enabled and Ready; a pod labelled none only when the
    profile lists its workload under opt_outs. Broken: an unlisted opt-out, a sidecar (in
    containers, or a native sidecar in initContainers), bypass-inbound-capture (inbound plaintext
    is then not intercepted, so STRICT is not enforced for it), no redirection, not Ready.
    """
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    allowed = {o.workload for o in tenant.opt_outs}
    findings = []
    for pod in sorted(mesh.judged_pods(view, tenant.namespace), key=name):
        obj = ref(pod)
        if dig(pod, "status.phase") == "Pending":
            findings.append(_not_started(view, pod))
            continue
        if where := mesh.sidecars(pod):
            findings.append(Finding(obj, f"no {mesh.SIDECAR_CONTAINER} sidecar (ambient: ztunnel, not a sidecar)",
                                    f"{mesh.SIDECAR_CONTAINER} in {' and '.join(f'spec.{w}' for w in where)}"
                                    + (" (native sidecar)" if "initContainers" in where else ""), runbook.MIXED_MODE))
        elif mesh.pod_mode(pod) == "none":
            if mesh.workload_of(pod) not in allowed:
                findings.append(Finding(obj, f"enrolled (no pod label {mesh.DATAPLANE_MODE}=none, or workload "
                                             f"{mesh.workload_of(pod)} listed under the tenant's opt_outs with a reason)",
                                        f"pod label {mesh.DATAPLANE_MODE}=none: istio-cni leaves it out, its traffic "
                                        "is plaintext", runbook.POD_OPTED_OUT))
        elif not mesh.redirected(pod):
            # While the namespace is labelled the CNI agent annotates live pods on its own.
            findings.append(Finding(obj, f"annotation {mesh.REDIRECTION}=enabled",
                                    f"{mesh.REDIRECTION}={annotations(pod).get(mesh.REDIRECTION)}"
                                    f" on node {dig(pod, 'spec.nodeName')}", runbook.PLAINTEXT,
                                    settling=mesh.enrolled_by_cni(pod, ns)))
        if mesh.bypasses_inbound_capture(pod):
            findings.append(Finding(obj, f"no annotation {mesh.BYPASS_INBOUND}=true (inbound captured, STRICT enforced)",
                                    f"{mesh.BYPASS_INBOUND}={annotations(pod)[mesh.BYPASS_INBOUND]}: inbound "
                                    "plaintext reaches the pod unchecked", runbook.BYPASS_INBOUND_CAPTURE))
        if not pod_ready(pod):
            restarts = sum(s.get("restartCount", 0) for s in dig(pod, "status.containerStatuses", []) or [])
            waiting = _waiting_reasons(pod)
            findings.append(Finding(obj, "Ready", f"not Ready ({restarts} restarts"
                                    + (f", {', '.join(waiting)}" if waiting else "") + ")", runbook.POD_NOT_READY,
                                    settling=True))
    return findings


# -- excluded, sidecar, unknown ---------------------------------------------------------------
@reads("namespaces", "pods")
def excluded_tenant_not_enrolled(view, tenant: Tenant) -> list[Finding]:
    """An excluded tenant is out of the mesh in every mode: no ambient label on the namespace, no
    pod enrolled by its own ambient label (istio-cni enrols it whatever the namespace says), no
    sidecar-injection label and no injected pod."""
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return []
    obj, excluded = f"Namespace {tenant.namespace}", f"excluded: {tenant.reason}"
    findings = []
    if mesh.is_ambient(ns):
        findings.append(Finding(obj, f"no {mesh.DATAPLANE_MODE}=ambient label ({excluded})",
                                f"{mesh.DATAPLANE_MODE}=ambient", runbook.EXCLUDED_TENANT))
    if sidecar := mesh.sidecar_labels(ns):
        findings.append(Finding(obj, f"no label that makes istiod inject sidecars ({mesh.INJECTION}=enabled, "
                                     f"{mesh.REVISION}) ({excluded})",
                                ", ".join(f"{k}={v}" for k, v in sorted(sidecar.items())), runbook.EXCLUDED_TENANT_SIDECAR))
    for pod in sorted(view.list("pods", tenant.namespace), key=name):
        if mesh.finished(pod):
            continue
        if mesh.has_sidecar(pod):
            findings.append(Finding(ref(pod), f"no sidecar ({excluded})",
                                    f"{mesh.SIDECAR_CONTAINER} injected ({', '.join(mesh.sidecars(pod)) or mesh.SIDECAR_STATUS})",
                                    runbook.EXCLUDED_TENANT_SIDECAR))
        elif mesh.pod_mode(pod) == "ambient" and mesh.enrolled_by_cni(pod, ns):
            findings.append(Finding(ref(pod), f"not enrolled ({excluded})",
                                    f"pod label {mesh.DATAPLANE_MODE}=ambient (istio-cni enrols the pod itself), "
                                    f"{mesh.REDIRECTION}={annotations(pod).get(mesh.REDIRECTION)}",
                                    runbook.EXCLUDED_TENANT_POD))
    return findings


@reads("namespaces")
def sidecar_tenant_injected(view, tenant: Tenant) -> list[Finding]:
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    findings = []
    if not mesh.sidecar_labels(ns):
        findings.append(Finding(f"Namespace {tenant.namespace}", f"label {mesh.INJECTION}=enabled",
                                f"{mesh.INJECTION}={labels(ns).get(mesh.INJECTION)}", runbook.SIDECAR_TENANT))
    if mesh.DATAPLANE_MODE in labels(ns):
        findings.append(Finding(f"Namespace {tenant.namespace}", f"no {mesh.DATAPLANE_MODE} label (one mode per namespace)",
                                f"{mesh.DATAPLANE_MODE}={labels(ns)[mesh.DATAPLANE_MODE]}", runbook.MIXED_MODE))
    return findings


@reads("namespaces", "pods")
def unknown_ambient_namespaces(view, profile: Profile) -> list[Finding]:
    """An ambient namespace nobody profiled has no promise of RBAC, PeerAuthentication or policies;
    nor has a namespace where pods enrol themselves with their own ambient label."""
    known = {t.namespace for t in profile.tenants} | set(profile.ignored_namespaces)
    where = f"not in profile {profile.source or profile.cluster}"
    namespaces = {name(ns): ns for ns in view.list("namespaces")}
    findings = [Finding(f"Namespace {n}", "every ambient namespace is a profiled tenant or ignored",
                        f"{mesh.DATAPLANE_MODE}=ambient, {where}", runbook.UNKNOWN_AMBIENT_NAMESPACE)
                for n, ns in sorted(namespaces.items()) if mesh.is_ambient(ns) and n not in known]
    self_enrolled: dict[str, list[str]] = {}
    for pod in view.list("pods"):
        ns_name = namespace(pod)
        if ns_name in known or mesh.is_ambient(namespaces.get(ns_name)) or mesh.finished(pod):
            continue
        if mesh.pod_mode(pod) == "ambient" and mesh.enrolled_by_cni(pod, namespaces.get(ns_name)):
            self_enrolled.setdefault(ns_name, []).append(name(pod))
    findings += [Finding(f"Namespace {n}", "every namespace with enrolled pods is a profiled tenant or ignored",
                         f"pods enrolled by their own {mesh.DATAPLANE_MODE}=ambient label: {listing(pods)}, {where}",
                         runbook.UNKNOWN_AMBIENT_NAMESPACE) for n, pods in sorted(self_enrolled.items())]
    return findings
