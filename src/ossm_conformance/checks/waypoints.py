"""Waypoints: the profiled waypoint Gateways really carry L7, and L7 configuration sits only where
a proxy applies it.

Upstream (istio/istio pilot/pkg/model/policyattachment.go, pilot/pkg/serviceregistry/kube/
controller/ambient/, pilot/pkg/config/kube/gateway/): a waypoint applies only policies bound with
targetRefs (to the Gateway, or to a Service/ServiceEntry bound to it); it ignores selectors, and
ztunnel drops the HTTP rules (and remoteIpBlocks) of the policies it receives. A Service uses a
waypoint through istio.io/use-waypoint (on it or its namespace) unless it says `none`. Envoy
gateways that are not waypoints (class istio) enforce selector-bound policies themselves.
"""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import Tenant
from . import mesh
from ._k8s import (condition, condition_status, deployment_rollout_findings, describe_condition, dig, labels, name,
                   namespace, reads, ref, selector_matches)

HBONE_LISTENER = (15008, "HBONE")
_USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
WAYPOINT_FOR_DEFAULT = "service"   # istio/istio pkg/config/constants: the Gateway without the label
# AuthorizationPolicy fields only an L7 proxy can evaluate (ports and principals are L4: ztunnel
# has them); remoteIpBlocks need the original client address, which ztunnel does not have.
_L7_OPERATION_FIELDS = ("paths", "notPaths", "methods", "notMethods", "hosts", "notHosts")
_L7_SOURCE_FIELDS = ("requestPrincipals", "notRequestPrincipals", "remoteIpBlocks", "notRemoteIpBlocks")
# Conditions istiod writes and `istioctl analyze` reports as IST0171 when False
# (istio/istio pkg/config/analysis/analyzers/... conditionsToReport).
_ISTIOD_CONDITIONS = {"authorizationpolicies": ("ZtunnelAccepted", "WaypointAccepted"),
                      "services": ("istio.io/WaypointBound",)}


@reads("gateways", "gatewayclasses", "namespaces", "services", "deployments")
def waypoint_gateway_ready(view, tenant: Tenant) -> list[Finding]:
    """The tenant's waypoint exists, is programmed, runs, carries the traffic it is profiled for,
    and the namespace uses it.

    Healthy: Gateway of class istio-waypoint with listener 15008/HBONE, Programmed=True; its
    Deployment (istiod names it after the Gateway) available with every replica ready;
    istio.io/waypoint-for as profiled (absent means service); istio.io/use-waypoint on the
    namespace or its services. Broken: any of those. Programmed alone proves nothing about the
    proxy: istiod sets it from the address assignment, so a crash-looping waypoint stays
    Programmed=True (pilot/pkg/config/kube/gateway/conditions.go)."""
    gw_obj = f"Gateway {tenant.namespace}/{tenant.waypoint}"
    gw = view.get("gateways", tenant.waypoint, tenant.namespace)
    if gw is None:
        return [Finding(gw_obj, f"a waypoint Gateway of class {mesh.WAYPOINT_CLASS}", "not found",
                        runbook.L7_WITHOUT_WAYPOINT)]
    findings = []
    klass = dig(gw, "spec.gatewayClassName")
    if klass != mesh.WAYPOINT_CLASS:
        findings.append(Finding(gw_obj, f"gatewayClassName {mesh.WAYPOINT_CLASS}", f"gatewayClassName {klass}", runbook.WAYPOINT))
    listeners = [(li.get("port"), li.get("protocol")) for li in dig(gw, "spec.listeners", []) or []]
    if HBONE_LISTENER not in listeners:
        findings.append(Finding(gw_obj, "a listener on port 15008 protocol HBONE",
                                "listeners: " + (", ".join(f"{p}/{pr}" for p, pr in listeners) or "none"), runbook.WAYPOINT))
    waypoint_for = labels(gw).get(WAYPOINT_FOR, WAYPOINT_FOR_DEFAULT)
    if waypoint_for != tenant.waypoint_for:
        findings.append(Finding(gw_obj, f"label {WAYPOINT_FOR}={tenant.waypoint_for} (the traffic it must carry)",
                                f"{WAYPOINT_FOR}={waypoint_for}: {_carries(waypoint_for)}", runbook.WAYPOINT_FOR))
    programmed = condition_status(gw, "Programmed")
    if programmed != "True":
        findings.append(Finding(gw_obj, "condition Programmed=True", describe_condition(gw, "Programmed"), runbook.WAYPOINT,
                                settling=True))
    dep = view.get("deployments", tenant.waypoint, tenant.namespace)
    if dep is None:
        findings.append(Finding(f"Deployment {tenant.namespace}/{tenant.waypoint}",
                                "the waypoint's Envoy Deployment (istiod creates it for the Gateway)", "not found",
                                runbook.WAYPOINT_DEPLOYMENT, settling=True))
    else:
        findings += deployment_rollout_findings(dep, runbook.WAYPOINT_DEPLOYMENT)
    gw_class = view.get("gatewayclasses", mesh.WAYPOINT_CLASS)
    if gw_class is None or condition_status(gw_class, "Accepted") != "True":
        findings.append(Finding(f"GatewayClass {mesh.WAYPOINT_CLASS}", "condition Accepted=True (created by istiod when ambient is on)",
                                "not found" if gw_class is None else describe_condition(gw_class, "Accepted"),
                                runbook.ISTIOD, settling=gw_class is not None))
    ns = view.get("namespaces", tenant.namespace)
    ns_use = labels(ns).get(mesh.USE_WAYPOINT) if ns else None
    services_using = [name(s) for s in view.list("services", tenant.namespace)
                      if labels(s).get(mesh.USE_WAYPOINT) == tenant.waypoint]
    if ns_use != tenant.waypoint and not services_using:
        findings.append(Finding(f"Namespace {tenant.namespace}",
                                f"label {mesh.USE_WAYPOINT}={tenant.waypoint} on the namespace or its services",
                                f"namespace {mesh.USE_WAYPOINT}={ns_use}; no service labelled", runbook.WAYPOINT))
    return findings


def _carries(waypoint_for: str) -> str:
    return {"service": "traffic addressed to services", "workload": "traffic addressed to pod IPs only, not to services",
            "all": "service and workload traffic", "none": "no traffic"}.get(waypoint_for, "unknown value")


# -- where L7 configuration takes effect ------------------------------------------------------

def _namespace_waypoint(view, ns_name: str) -> tuple[str, str] | None:
    """(namespace, name) of the waypoint the namespace's use-waypoint label names, if it exists."""
    ns = view.get("namespaces", ns_name)
    use, use_ns = labels(ns).get(mesh.USE_WAYPOINT), labels(ns).get(_USE_WAYPOINT_NAMESPACE, ns_name)
    if use and use != "none" and any(name(g) == use for g in mesh.waypoint_gateways(view, use_ns)):
        return use_ns, use
    return None


def _has_waypoint(view, ns_name: str) -> bool:
    """A waypoint Gateway in the namespace, or one the namespace's use-waypoint label names elsewhere."""
    return bool(mesh.waypoint_gateways(view, ns_name)) or _namespace_waypoint(view, ns_name) is not None


def _service_problem(view, svc_ns: str, svc_name: str) -> str | None:
    """Why traffic to this Service does not pass a waypoint, or None."""
    svc = view.get("services", svc_name, svc_ns)
    if svc is None:
        return f"Service {svc_ns}/{svc_name} was not found"
    use = labels(svc).get(mesh.USE_WAYPOINT)
    if use == "none":
        return f"Service {svc_ns}/{svc_name} opts out of the waypoint ({mesh.USE_WAYPOINT}=none)"
    if use:
        use_ns = labels(svc).get(_USE_WAYPOINT_NAMESPACE, svc_ns)
        if not any(name(g) == use for g in mesh.waypoint_gateways(view, use_ns)):
            return f"Service {svc_ns}/{svc_name} uses waypoint {use_ns}/{use}, which does not exist"
        return None
    if _namespace_waypoint(view, svc_ns) is None:
        return f"Service {svc_ns}/{svc_name} is not bound to a waypoint (namespace {svc_ns} has none in use)"
    return None


def _l7_fields(policy: dict) -> list[str]:
    used = set()
    for rule in dig(policy, "spec.rules", []) or []:
        used |= {f for to in rule.get("to") or [] for f in _L7_OPERATION_FIELDS if (to.get("operation") or {}).get(f)}
        used |= {f for fr in rule.get("from") or [] for f in _L7_SOURCE_FIELDS if (fr.get("source") or {}).get(f)}
        used |= {f"when {c.get('key')}" for c in rule.get("when") or []
                 if str(c.get("key", "")).startswith(("request.", "remote."))}
    return sorted(used)


def _target_refs(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    return list(spec.get("targetRefs") or []) + ([spec["targetRef"]] if spec.get("targetRef") else [])


def _selects_envoy_gateway(view, policy: dict) -> bool:
    """A selector that picks pods of a Gateway API gateway that is not a waypoint (class istio):
    that gateway's Envoy enforces selector-bound L7 policies itself."""
    selector = dig(policy, "spec.selector")
    if not selector:
        return False
    ns = namespace(policy)
    gateways = {name(g) for g in view.list("gateways", ns) if dig(g, "spec.gatewayClassName") != mesh.WAYPOINT_CLASS}
    return any(labels(p).get(mesh.GATEWAY_NAME) in gateways and selector_matches(selector, labels(p))
               for p in view.list("pods", ns))


def _policy_problem(view, policy: dict) -> str | None:
    """Why an AuthorizationPolicy has no effect at L7, or None."""
    ns, targets = namespace(policy), _target_refs(policy)
    for target in targets:
        kind, target_ns = target.get("kind"), target.get("namespace") or ns
        if kind == "Gateway":
            if view.get("gateways", target.get("name", ""), target_ns) is None:
                return f"targets Gateway {target_ns}/{target.get('name')}, which does not exist"
        elif kind == "Service" and target.get("group", "") in ("", "core"):
            if problem := _service_problem(view, target_ns, target.get("name", "")):
                return f"targets {problem}"
        elif kind != "GatewayClass" and not _has_waypoint(view, ns):
            return f"targets {kind} {target.get('name')}; namespace {ns} has no waypoint Gateway"
    if targets:
        return None
    fields = _l7_fields(policy)
    if not fields or _selects_envoy_gateway(view, policy):
        return None
    binding = "selector-bound" if dig(policy, "spec.selector") else "bound to no target"
    waypoint = "" if _has_waypoint(view, ns) else f"; namespace {ns} has no waypoint Gateway"
    return (f"{binding} policy with L7 fields {', '.join(fields)}: waypoints apply only policies bound with "
            f"targetRefs, and ztunnel drops these rules{waypoint}")


def _route_problem(view, route: dict) -> str | None:
    """A mesh route (parentRef a Service) needs that Service to pass a waypoint."""
    for parent in dig(route, "spec.parentRefs", []) or []:
        parent_ns = parent.get("namespace") or namespace(route)
        if parent.get("kind") == "Service" and parent.get("group", "") in ("", "core"):
            if problem := _service_problem(view, parent_ns, parent.get("name", "")):
                return f"parentRef {problem}"
    return None


def _host_service(host: str, vs_namespace: str) -> tuple[str, str] | None:
    """(namespace, Service) a VirtualService host names: `svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`
    (istio/istio pilot/pkg/model: short names resolve in the VirtualService's namespace); None for
    hosts outside the cluster or wildcards."""
    parts = host.split(".")
    if "*" in host:
        return None
    if len(parts) == 1:
        return vs_namespace, parts[0]
    if len(parts) == 2 or parts[2] == "svc":
        return parts[1], parts[0]
    return None


def _virtual_service_problem(view, vs: dict) -> str | None:
    """A VirtualService for mesh traffic (no gateways, or `mesh`) is applied only by the waypoint of
    the Services it names, wherever the VirtualService itself lives (a root-namespace one included)."""
    gateways = dig(vs, "spec.gateways") or ["mesh"]
    if "mesh" not in gateways:
        return None
    services = [(host, t) for host in dig(vs, "spec.hosts") or []
                if (t := _host_service(host, namespace(vs))) and view.get("services", t[1], t[0]) is not None]
    for host, target in services:
        if problem := _service_problem(view, *target):
            return f"applies to mesh traffic for {host}; {problem}"
    if not services and not _has_waypoint(view, namespace(vs)):  # hosts that are no Service here (ServiceEntries)
        return f"applies to mesh traffic (gateways {', '.join(gateways)}); namespace {namespace(vs)} has no waypoint Gateway"
    return None


def _root_policy_problem(view, policy: dict) -> str | None:
    """A root-namespace AuthorizationPolicy without targetRefs applies mesh-wide, to every ztunnel;
    istiod strips its HTTP rules for ztunnel (ZtunnelAccepted reason UnsupportedValue), so an ALLOW
    with L7 fields matches nothing and denies all ambient traffic, a DENY loses its L7 conditions."""
    fields = _l7_fields(policy)
    if _target_refs(policy) or not fields or dig(policy, "spec.selector"):
        return None
    action = dig(policy, "spec.action") or "ALLOW"
    effect = ("allows nothing, so ztunnel denies every ambient connection in the mesh" if action == "ALLOW"
              else "is enforced by every ztunnel without those conditions, on more traffic than written")
    return (f"mesh-wide (root namespace) policy with L7 fields {', '.join(fields)} and no targetRefs: ztunnel "
            f"drops these rules and the {action} policy {effect}")


_PROBLEMS = {"authorizationpolicies": _policy_problem, "httproutes": _route_problem, "grpcroutes": _route_problem,
             "virtualservices": _virtual_service_problem}


@reads("authorizationpolicies", "httproutes", "grpcroutes", "virtualservices", "gateways", "namespaces", "services", "pods")
def l7_policies_have_a_waypoint(view, root_namespace: str) -> list[Finding]:
    """L7 configuration (HTTPRoute, GRPCRoute, VirtualService, L7 AuthorizationPolicy rules,
    remoteIpBlocks) needs a proxy that applies it.

    Healthy: policies bound with targetRefs to a waypoint or to Services bound to one; routes on
    such Services; selector-bound L7 policies only on non-waypoint Envoy gateways. Broken: no
    waypoint; a Service that opts out (use-waypoint=none) while a policy or route targets it; a
    selector-bound or unbound L7 policy in a waypoint namespace (ztunnel drops its HTTP rules: "L7
    policies have no effect"); a root-namespace L7 policy without targetRefs (every ztunnel gets it
    without its HTTP rules: an ALLOW then denies the whole mesh); a mesh VirtualService, wherever it
    lives, for a Service no waypoint serves. Sidecar namespaces are left out (sidecars enforce L7)."""
    sidecar_namespaces = {name(ns) for ns in view.list("namespaces") if mesh.sidecar_labels(ns)}
    candidates = [(o, problem_of) for kind, problem_of in _PROBLEMS.items() for o in view.list(kind)]
    findings = []
    for obj, problem_of in sorted(candidates, key=lambda c: ref(c[0])):
        if namespace(obj) in sidecar_namespaces:
            continue
        if namespace(obj) == root_namespace and problem_of is _policy_problem:
            problem_of = _root_policy_problem  # mesh-wide: judged by what every ztunnel does with it
        elif namespace(obj) == root_namespace and problem_of is not _virtual_service_problem:
            continue
        if problem := problem_of(view, obj):
            findings.append(Finding(ref(obj), "applied by a waypoint (L7 configuration needs one in ambient)",
                                    f"no effect: {problem}", runbook.L7_WITHOUT_WAYPOINT))
    return findings


@reads("authorizationpolicies", "services")
def istiod_reports_no_rejection(view) -> list[Finding]:
    """No condition istiod writes on AuthorizationPolicies (ZtunnelAccepted, WaypointAccepted) or
    Services (istio.io/WaypointBound) is False (what `istioctl analyze` reports as IST0171).

    Healthy: absent or True (True with reason UnsupportedValue is istiod accepting a policy
    without its HTTP rules: the L7 check names that case). Broken: False, with istiod's reason
    and message (e.g. AncestorNotBound, TargetNotFound)."""
    findings = []
    for kind, types in _ISTIOD_CONDITIONS.items():
        for obj in sorted(view.list(kind), key=ref):
            for ctype in types:
                cond = condition(obj, ctype)
                if cond and cond.get("status") == "False":
                    findings.append(Finding(ref(obj), f"condition {ctype} not False (istiod, IST0171)",
                                            describe_condition(obj, ctype), runbook.ISTIOD_REJECTED))
    return findings


@reads("sidecars", "namespaces")
def no_sidecar_resource_in_ambient_namespaces(view) -> list[Finding]:
    """No `Sidecar` resource in an ambient namespace (IST0167): it configures sidecar proxies
    only, so in ambient it does nothing while looking like egress or scope control."""
    ambient = {name(ns) for ns in view.list("namespaces") if mesh.is_ambient(ns)}
    return [Finding(ref(s), "no Sidecar resource in an ambient namespace (it has no effect there)",
                    f"Sidecar in ambient namespace {namespace(s)}", runbook.SIDECAR_IN_AMBIENT)
            for s in sorted(view.list("sidecars"), key=ref) if namespace(s) in ambient]
