"""Waypoints: the profiled waypoint Gateways, and L7 policy only where a waypoint can enforce it."""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import Tenant
from . import _mesh
from ._k8s import condition_status, describe_condition, dig, labels, name, namespace, reads, ref

HBONE_LISTENER = (15008, "HBONE")
_USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
# AuthorizationPolicy fields only an L7 proxy can evaluate (ports and principals are L4: ztunnel has them).
_L7_OPERATION_FIELDS = ("paths", "notPaths", "methods", "notMethods", "hosts", "notHosts")
_L7_SOURCE_FIELDS = ("requestPrincipals", "notRequestPrincipals")


@reads("gateways", "gatewayclasses", "namespaces", "services")
def waypoint_gateway_ready(view, tenant: Tenant) -> list[Finding]:
    gw_obj = f"Gateway {tenant.namespace}/{tenant.waypoint}"
    gw = view.get("gateways", tenant.waypoint, tenant.namespace)
    if gw is None:
        return [Finding(gw_obj, f"a waypoint Gateway of class {_mesh.WAYPOINT_CLASS}", "not found",
                        runbook.L7_WITHOUT_WAYPOINT)]
    findings = []
    klass = dig(gw, "spec.gatewayClassName")
    if klass != _mesh.WAYPOINT_CLASS:
        findings.append(Finding(gw_obj, f"gatewayClassName {_mesh.WAYPOINT_CLASS}", f"gatewayClassName {klass}", runbook.WAYPOINT))
    listeners = [(li.get("port"), li.get("protocol")) for li in dig(gw, "spec.listeners", []) or []]
    if HBONE_LISTENER not in listeners:
        findings.append(Finding(gw_obj, "a listener on port 15008 protocol HBONE",
                                "listeners: " + (", ".join(f"{p}/{pr}" for p, pr in listeners) or "none"), runbook.WAYPOINT))
    programmed = condition_status(gw, "Programmed")
    if programmed != "True":
        # The waypoint Deployment coming up is what Programmed waits for.
        findings.append(Finding(gw_obj, "condition Programmed=True", describe_condition(gw, "Programmed"), runbook.WAYPOINT,
                                settling=True))
    gw_class = view.get("gatewayclasses", _mesh.WAYPOINT_CLASS)
    if gw_class is None or condition_status(gw_class, "Accepted") != "True":
        findings.append(Finding(f"GatewayClass {_mesh.WAYPOINT_CLASS}", "condition Accepted=True (created by istiod when ambient is on)",
                                "not found" if gw_class is None else describe_condition(gw_class, "Accepted"),
                                runbook.ISTIOD, settling=gw_class is not None))
    ns = view.get("namespaces", tenant.namespace)
    ns_use = labels(ns).get(_mesh.USE_WAYPOINT) if ns else None
    services_using = [name(s) for s in view.list("services", tenant.namespace)
                      if labels(s).get(_mesh.USE_WAYPOINT) == tenant.waypoint]
    if ns_use != tenant.waypoint and not services_using:
        findings.append(Finding(f"Namespace {tenant.namespace}",
                                f"label {_mesh.USE_WAYPOINT}={tenant.waypoint} on the namespace or its services",
                                f"namespace {_mesh.USE_WAYPOINT}={ns_use}; no service labelled", runbook.WAYPOINT))
    return findings


def _has_waypoint(view, ns_name: str) -> bool:
    """A waypoint Gateway in the namespace, or one the namespace's use-waypoint label names elsewhere."""
    if _mesh.waypoint_gateways(view, ns_name):
        return True
    ns = view.get("namespaces", ns_name)
    use, use_ns = labels(ns).get(_mesh.USE_WAYPOINT), labels(ns).get(_USE_WAYPOINT_NAMESPACE, ns_name)
    return bool(use) and any(name(g) == use for g in _mesh.waypoint_gateways(view, use_ns))


def _l7_fields(policy: dict) -> list[str]:
    used = set()
    for rule in dig(policy, "spec.rules", []) or []:
        used |= {f for to in rule.get("to") or [] for f in _L7_OPERATION_FIELDS if (to.get("operation") or {}).get(f)}
        used |= {f for fr in rule.get("from") or [] for f in _L7_SOURCE_FIELDS if (fr.get("source") or {}).get(f)}
        used |= {f"when {c.get('key')}" for c in rule.get("when") or [] if str(c.get("key", "")).startswith("request.")}
    return sorted(used)


def _target_refs(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    return list(spec.get("targetRefs") or []) + ([spec["targetRef"]] if spec.get("targetRef") else [])


def _policy_problem(view, policy: dict) -> str | None:
    """Why an L7 AuthorizationPolicy has no effect, or None."""
    ns, targets = namespace(policy), _target_refs(policy)
    for target in targets:
        target_ns = target.get("namespace") or ns
        if target.get("kind") == "Gateway" and view.get("gateways", target.get("name", ""), target_ns) is None:
            return f"targets Gateway {target_ns}/{target.get('name')}, which does not exist"
    attached_to_gateway = targets and all(t.get("kind") in ("Gateway", "GatewayClass") for t in targets)
    if attached_to_gateway:
        return None
    fields = _l7_fields(policy)
    if (targets or fields) and not _has_waypoint(view, ns):
        return ("targets " + ", ".join(f"{t.get('kind')} {t.get('name')}" for t in targets) if targets
                else "uses L7 fields " + ", ".join(fields)) + f"; namespace {ns} has no waypoint Gateway"
    return None


def _route_problem(view, route: dict) -> str | None:
    """A mesh route (parentRef a Service) needs a waypoint in the Service's namespace."""
    for parent in dig(route, "spec.parentRefs", []) or []:
        parent_ns = parent.get("namespace") or namespace(route)
        if parent.get("kind") == "Service" and parent.get("group", "") in ("", "core") and not _has_waypoint(view, parent_ns):
            return f"parentRef Service {parent_ns}/{parent.get('name')}; namespace {parent_ns} has no waypoint Gateway"
    return None


@reads("authorizationpolicies", "httproutes", "grpcroutes", "gateways", "namespaces")
def l7_policies_have_a_waypoint(view, root_namespace: str) -> list[Finding]:
    """In ambient only a waypoint enforces L7 (ztunnel is L4). Sidecar namespaces enforce L7 in
    their sidecars, and the root namespace's policies are mesh-wide: both are left out."""
    sidecar_namespaces = {name(ns) for ns in view.list("namespaces") if _mesh.sidecar_labels(ns)}
    findings = []
    candidates = [(p, _policy_problem) for p in view.list("authorizationpolicies")] \
        + [(r, _route_problem) for kind in ("httproutes", "grpcroutes") for r in view.list(kind)]
    for obj, problem_of in sorted(candidates, key=lambda c: ref(c[0])):
        if namespace(obj) == root_namespace or namespace(obj) in sidecar_namespaces:
            continue
        problem = problem_of(view, obj)
        if problem:
            findings.append(Finding(ref(obj), "enforced by a waypoint (L7 policies need one in ambient)",
                                    f"no effect: {problem}", runbook.L7_WITHOUT_WAYPOINT))
    return findings
