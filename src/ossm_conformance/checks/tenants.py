"""Tenant namespaces: enrolment labels, PeerAuthentication, NetworkPolicies for HBONE, pods."""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import Profile, Tenant
from . import _mesh
from ._k8s import annotations, dig, labels, listing, name, namespace_labels, pod_ready, reads, ref
from ._netpol import admits, pod_peer, policy_names, selecting

HBONE_PORT = 15008
_WEAK_MODES = ("PERMISSIVE", "DISABLE")


def _namespace_missing(tenant: Tenant) -> Finding:
    return Finding(f"Namespace {tenant.namespace}", f"exists (profiled as a {tenant.mode} tenant)", "not found",
                   runbook.MISSING_NAMESPACE)


@reads("namespaces")
def namespace_enrolled(view, tenant: Tenant) -> list[Finding]:
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    obj, findings = f"Namespace {tenant.namespace}", []
    mode = labels(ns).get(_mesh.DATAPLANE_MODE)
    if mode != "ambient":
        findings.append(Finding(obj, f"label {_mesh.DATAPLANE_MODE}=ambient",
                                f"{_mesh.DATAPLANE_MODE}={mode}" if mode else f"no {_mesh.DATAPLANE_MODE} label",
                                runbook.PLAINTEXT))
    sidecar = _mesh.sidecar_labels(ns)
    if sidecar:
        findings.append(Finding(obj, f"no {_mesh.INJECTION} or {_mesh.REVISION} label (one mode per namespace)",
                                ", ".join(f"{k}={v}" for k, v in sorted(sidecar.items())), runbook.MIXED_MODE))
    return findings


def _namespace_wide(pa: dict) -> bool:
    return not dig(pa, "spec.selector.matchLabels")


def _mode(pa: dict) -> str:
    return dig(pa, "spec.mtls.mode") or "UNSET"


@reads("peerauthentications")
def peer_authentication_strict(view, tenant: Tenant, root_namespace: str) -> list[Finding]:
    """A namespace-level STRICT PeerAuthentication and no PERMISSIVE/DISABLE override below it."""
    fix, findings = runbook.PEER_AUTHENTICATION, []
    pas = sorted(view.list("peerauthentications", tenant.namespace), key=name)
    namespace_level = [pa for pa in pas if _namespace_wide(pa)]
    if not any(_mode(pa) == "STRICT" for pa in namespace_level):
        seen = listing(f"{name(pa)} mode {_mode(pa)}" for pa in namespace_level) if namespace_level else "none"
        weak_mesh = [f"{ref(pa)} mode {_mode(pa)}" for pa in view.list("peerauthentications", root_namespace)
                     if _namespace_wide(pa) and _mode(pa) in _WEAK_MODES]
        findings.append(Finding(
            f"Namespace {tenant.namespace}", "a namespace-level PeerAuthentication (no selector) with mtls.mode STRICT",
            f"namespace-level PeerAuthentications: {seen}"
            + (f"; mesh-wide {listing(weak_mesh)} applies instead" if weak_mesh else ""), fix))
    for pa in namespace_level:
        if _mode(pa) in _WEAK_MODES:
            findings.append(Finding(ref(pa), "mtls.mode STRICT", f"mtls.mode {_mode(pa)}", fix))
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


@reads("pods", "networkpolicies", "namespaces")
def network_policies_admit_hbone(view, tenant: Tenant) -> list[Finding]:
    """Every workload pod admits HBONE (TCP 15008) from, and may send it to, the namespace's other
    workload pods. A namespace without NetworkPolicies admits everything."""
    policies = view.list("networkpolicies", tenant.namespace)
    if not policies:
        return []
    peers = [pod_peer(p) for p in sorted(_mesh.workload_pods(view, tenant.namespace), key=name)]
    ns_labels = {tenant.namespace: namespace_labels(view.get("namespaces", tenant.namespace))}
    findings = []
    for dst in peers:
        # Ingress: others -> dst:15008. Egress: dst -> others:15008.
        for direction, towards in (("Ingress", "from"), ("Egress", "to")):
            isolating = selecting(policies, dst, direction)
            denied = [other.title for other in peers
                      if other is not dst and not admits(isolating, direction, dst, other, HBONE_PORT, ns_labels)]
            if denied:
                findings.append(Finding(
                    f"Pod {tenant.namespace}/{dst.title}",
                    f"{direction.lower()} TCP {HBONE_PORT} (HBONE) admitted {towards} the namespace's workload pods",
                    f"denied {towards} {listing(denied)} by NetworkPolicies "
                    f"{listing(policy_names(isolating))}", runbook.HBONE_NETWORK_POLICY))
    return findings


@reads("pods", "namespaces")
def pods_enrolled(view, tenant: Tenant) -> list[Finding]:
    """Each workload pod is redirected by istio-cni, has no sidecar, and is Ready."""
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    findings = []
    for pod in sorted(_mesh.workload_pods(view, tenant.namespace), key=name):
        obj = ref(pod)
        if not _mesh.redirected(pod):
            # While the namespace is labelled the CNI agent annotates live pods on its own.
            findings.append(Finding(obj, f"annotation {_mesh.REDIRECTION}=enabled",
                                    f"{_mesh.REDIRECTION}={annotations(pod).get(_mesh.REDIRECTION)}"
                                    f" on node {dig(pod, 'spec.nodeName')}", runbook.PLAINTEXT,
                                    settling=_mesh.is_ambient(ns)))
        containers = [c.get("name") for c in dig(pod, "spec.containers", []) or []]
        if _mesh.SIDECAR_CONTAINER in containers:
            findings.append(Finding(obj, f"no {_mesh.SIDECAR_CONTAINER} sidecar container",
                                    f"containers: {', '.join(containers)}", runbook.MIXED_MODE))
        if not pod_ready(pod):
            restarts = sum(s.get("restartCount", 0) for s in dig(pod, "status.containerStatuses", []) or [])
            findings.append(Finding(obj, "Ready", f"not Ready ({restarts} restarts)", runbook.POD_NOT_READY,
                                    settling=True))
    return findings


@reads("namespaces")
def excluded_tenant_not_enrolled(view, tenant: Tenant) -> list[Finding]:
    ns = view.get("namespaces", tenant.namespace)
    if not _mesh.is_ambient(ns):
        return []
    return [Finding(f"Namespace {tenant.namespace}", f"no {_mesh.DATAPLANE_MODE}=ambient label "
                    f"(excluded: {tenant.reason})", f"{_mesh.DATAPLANE_MODE}=ambient", runbook.EXCLUDED_TENANT)]


@reads("namespaces")
def sidecar_tenant_injected(view, tenant: Tenant) -> list[Finding]:
    ns = view.get("namespaces", tenant.namespace)
    if ns is None:
        return [_namespace_missing(tenant)]
    findings = []
    if labels(ns).get(_mesh.INJECTION) != "enabled" and _mesh.REVISION not in labels(ns):
        findings.append(Finding(f"Namespace {tenant.namespace}", f"label {_mesh.INJECTION}=enabled",
                                f"{_mesh.INJECTION}={labels(ns).get(_mesh.INJECTION)}", runbook.SIDECAR_TENANT))
    if _mesh.DATAPLANE_MODE in labels(ns):
        findings.append(Finding(f"Namespace {tenant.namespace}", f"no {_mesh.DATAPLANE_MODE} label (one mode per namespace)",
                                f"{_mesh.DATAPLANE_MODE}={labels(ns)[_mesh.DATAPLANE_MODE]}", runbook.MIXED_MODE))
    return findings


@reads("namespaces")
def no_unknown_ambient_namespaces(view, profile: Profile) -> list[Finding]:
    """An ambient namespace nobody profiled has no promise of RBAC, PeerAuthentication or policies."""
    known = {t.namespace for t in profile.tenants} | set(profile.ignored_namespaces)
    return [Finding(f"Namespace {name(ns)}", "every ambient namespace is a profiled tenant or ignored",
                    f"{_mesh.DATAPLANE_MODE}=ambient, not in profile {profile.source or profile.cluster}",
                    runbook.UNKNOWN_AMBIENT_NAMESPACE)
            for ns in sorted(view.list("namespaces"), key=name) if _mesh.is_ambient(ns) and name(ns) not in known]
