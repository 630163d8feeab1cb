"""PURE: what the live cluster says a profile should hold, read from a snapshot (and observed edges).

Each drafted value carries a note: where it came from and what a person must confirm. What the
cluster cannot tell is never guessed: an excluded tenant's reason, which ambient namespaces are
knowingly left alone (`ignored_namespaces`), the cluster's name (taken from the output file's name).

Enrolment follows upstream: istio-cni enrols a pod when the pod or
its namespace carries istio.io/dataplane-mode=ambient (istio/istio `cni/pkg/util/enablement_selector.go`);
sidecar injection is chosen by the namespace label istio-injection=enabled or istio.io/rev; a
waypoint is a Gateway of class istio-waypoint (istio/istio `pilot/pkg/config/kube/gateway/`), and a
namespace uses it through istio.io/use-waypoint.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from ..checks import mesh
from ..kube.objects import dig, labels, meta, name, namespace
from ..profile import Edge, IstioCNISpec, IstioSpec, Operator, Profile, Tenant, ZTunnelSpec
from ..versions import minor_of

SAIL_CRD = "istios.sailoperator.io"        # owned by the sail-operator's CSV: that is the mesh operator
MESH_PACKAGES = ("servicemeshoperator3", "kiali-ossm", "sailoperator")  # operators the runbook lists (+ upstream sail)
DEFAULT_TRUST_DOMAIN = "cluster.local"   # Istio's meshConfig.trustDomain default
PLATFORM_PREFIXES = ("openshift", "kube-", "istio-")
PLATFORM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MIXED = "ambient, also sidecar-labelled"  # live only: a namespace in two modes (never a profile mode)


@dataclass
class Suggestion:
    """A namespace that looks like a tenant but is not enrolled: left in the draft as a comment."""
    namespace: str
    why: str


@dataclass
class Draft:
    """The drafted profile, the notes that explain it, and what was left for a person."""
    profile: Profile
    notes: dict[str, str] = field(default_factory=dict)        # "tenants.<ns>", "operators.<pkg>", ... -> comment
    suggestions: list[Suggestion] = field(default_factory=list)
    namespaces: frozenset[str] = frozenset()                   # every namespace that exists (for the diff)
    modes: dict[str, str] = field(default_factory=dict)        # namespace -> live mode, including MIXED
    edges_source: str = ""                                     # "" when edges were not observed
    edge_notes: list[str] = field(default_factory=list)        # mutual_tls seen but not drafted, and why
    pods: dict[str, "PodEnrolment"] = field(default_factory=dict)  # namespace -> pod-level enrolment


@dataclass
class PodEnrolment:
    """What a namespace's own pods say about enrolment, workload by workload (istio-cni decides per
    pod: the pod label beats the namespace's; a sidecar-injected pod is never enrolled)."""
    opted_out: list[str] = field(default_factory=list)      # pod label istio.io/dataplane-mode=none
    pod_enrolled: list[str] = field(default_factory=list)   # pod label ambient, namespace not ambient
    sidecars: list[str] = field(default_factory=list)       # an istio-proxy sidecar (containers or native)

    def __bool__(self) -> bool:
        return bool(self.opted_out or self.pod_enrolled or self.sidecars)


def draft(view, cluster: str, edges: dict[str, list[tuple[Edge, str]]] | None = None, edges_source: str = "",
          edge_notes: list[str] | None = None) -> Draft:
    """`edges`: tenant namespace -> [(edge, note)] from edges.observed_edges(); None = not observed."""
    notes: dict[str, str] = {}
    istio_cr = _istio_cr(view)
    trust_domain = trust_domain_of(view)
    notes["trust_domain"] = ("Istio CR spec.values.meshConfig.trustDomain" if dig(istio_cr, "spec.values.meshConfig.trustDomain")
                             else "not set in the Istio CR: Istio's default")
    istio = _istio_spec(istio_cr)
    cni_cr, zt_cr = _one(view, "istiocnis"), _one(view, "ztunnels")
    tenants, modes = _tenants(view, edges or {}, notes)
    profile = Profile(
        cluster=cluster, trust_domain=trust_domain, istio_minor=minor_of(istio.version) or "",
        operators=_operators(view, notes), istio=istio,
        istio_cni=IstioCNISpec(namespace=dig(cni_cr, "spec.namespace") or "", version=dig(cni_cr, "spec.version") or "",
                               profile=dig(cni_cr, "spec.profile")),
        ztunnel=ZTunnelSpec(namespace=dig(zt_cr, "spec.namespace") or "", version=dig(zt_cr, "spec.version") or ""),
        tenants=tenants)
    notes["istio_minor"] = f"from Istio {istio.name} spec.version {istio.version}"
    notes["istio"] = (f"the Istio CR {istio.name}'s spec (updateStrategy {istio.update_strategy}"
                      + ("" if dig(istio_cr, "spec.updateStrategy.type") else ", the sail-operator's default") + ")"
                      if istio_cr else "CONFIRM: no Istio CR found")
    notes["istio_cni"] = "the IstioCNI CR default's spec" if cni_cr else "CONFIRM: no IstioCNI CR named default found"
    notes["ztunnel"] = "the ZTunnel CR default's spec" if zt_cr else "CONFIRM: no ZTunnel CR named default found"
    notes["cluster"] = "CONFIRM: taken from the output file's name"
    return Draft(profile, notes, _suggestions(view, profile), frozenset(name(ns) for ns in view.list("namespaces")),
                 modes, edges_source if edges is not None else "", list(edge_notes or ()), _pod_enrolment(view))


# -- control plane ------------------------------------------------------------------------------

def trust_domain_of(view) -> str:
    return dig(_istio_cr(view), "spec.values.meshConfig.trustDomain") or DEFAULT_TRUST_DOMAIN


def waypoints(view) -> dict[str, str]:
    """Ambient namespace -> the waypoint Gateway its traffic goes through."""
    return {name(ns): w for ns in view.list("namespaces") if mesh.is_ambient(ns) and (w := _waypoint_of(view, ns))}


def _waypoint_of(view, ns: dict) -> str:
    """The namespace's waypoint: the class istio-waypoint Gateway istio.io/use-waypoint names, else its only one."""
    gateways = mesh.waypoint_gateways(view, name(ns))
    used = labels(ns).get(mesh.USE_WAYPOINT)
    return next((name(g) for g in gateways if name(g) == used), name(gateways[0]) if gateways else "")


def _istio_cr(view) -> dict:
    """The Istio CR the mesh runs: `default`, else the one that is not OpenShift's gateway Istio."""
    crs = view.list("istios")
    return (next((c for c in crs if name(c) == "default"), None)
            or next((c for c in crs if name(c) != "openshift-gateway"), None) or {})


def _istio_spec(cr: dict) -> IstioSpec:
    strategy = dig(cr, "spec.updateStrategy") or {}
    return IstioSpec(name=name(cr) if cr else "default", namespace=dig(cr, "spec.namespace") or "",
                     profile=dig(cr, "spec.profile") or "", version=dig(cr, "spec.version") or "",
                     update_strategy=strategy.get("type") or "InPlace",
                     inactive_revision_deletion_grace_period_seconds=strategy.get("inactiveRevisionDeletionGracePeriodSeconds"))


def ztunnel_namespace(view) -> str:
    return dig(_one(view, "ztunnels"), "spec.namespace") or "ztunnel"


def _one(view, kind: str) -> dict:
    """IstioCNI and ZTunnel must be named `default` (sail-operator CEL rule)."""
    return next((c for c in view.list(kind) if name(c) == "default"), {})


# -- operators ----------------------------------------------------------------------------------

def _operators(view, notes: dict) -> tuple[Operator, ...]:
    csvs = {(namespace(c), name(c)): c for c in view.list("clusterserviceversions")}
    out = []
    for sub in sorted(view.list("subscriptions"), key=lambda s: (s["spec"].get("name") != "servicemeshoperator3", name(s))):
        package = dig(sub, "spec.name") or name(sub)
        installed = dig(sub, "status.installedCSV") or ""
        csv = csvs.get((namespace(sub), installed)) or {}
        owns_sail = any(c.get("name") == SAIL_CRD for c in dig(csv, "spec.customresourcedefinitions.owned") or [])
        if package not in MESH_PACKAGES and not owns_sail:
            continue
        deployments = dig(csv, "spec.install.spec.deployments") or []
        prefix = installed.split(".v", 1)[0] if installed else ""
        version = dig(csv, "spec.version") or (installed.split(".v", 1)[1] if ".v" in installed else "unknown")
        # The pin is the version running now; a person confirms it is the one the runbook means.
        pinned = version if re.fullmatch(r"\d+\.\d+\.\d+", version) else ""
        out.append(Operator(package=package, channel=dig(sub, "spec.channel") or "", namespace=namespace(sub),
                            deployment=deployments[0]["name"] if deployments else "",
                            csv_prefix=prefix if prefix and prefix != package else "", version=pinned))
        notes[f"operators.{package}"] = (f"installed {installed or 'nothing yet'} (version {version}), "
                                         f"installPlanApproval {dig(sub, 'spec.installPlanApproval') or 'Automatic'}; "
                                         "CONFIRM the version is the one the runbook pins")
    return tuple(out)


# -- tenants ------------------------------------------------------------------------------------

def _tenants(view, edges: dict, notes: dict) -> tuple[tuple[Tenant, ...], dict[str, str]]:
    tenants, modes = [], {}
    for ns in sorted(view.list("namespaces"), key=name):
        ns_name = name(ns)
        sidecar = mesh.sidecar_labels(ns)
        if mesh.is_ambient(ns):
            waypoint = _waypoint_of(view, ns)
            mode = "ambient+waypoint" if waypoint else "ambient"
            mine = edges.get(ns_name, [])
            tenants.append(Tenant(ns_name, mode, waypoint=waypoint, edges=tuple(e for e, _ in mine)))
            for edge, note in mine:
                notes[f"edges.{edge.id(ns_name)}"] = note
            why = f"namespace label {mesh.DATAPLANE_MODE}=ambient"
            if waypoint:
                why += f"; waypoint Gateway {waypoint} (class {mesh.WAYPOINT_CLASS})"
            if sidecar:
                why += (f"; ALSO {', '.join(f'{k}={v}' for k, v in sidecar.items())}: mixed mode, the runbook says "
                        "pick one mode per namespace")
            modes[ns_name] = MIXED if sidecar else mode
            notes[f"tenants.{ns_name}"] = why
        elif sidecar and not _is_platform(ns_name):
            tenants.append(Tenant(ns_name, "sidecar"))
            modes[ns_name] = "sidecar"
            notes[f"tenants.{ns_name}"] = f"namespace label {', '.join(f'{k}={v}' for k, v in sidecar.items())}"
    return tuple(tenants), modes


def _pod_enrolment(view) -> dict[str, PodEnrolment]:
    """Per namespace, the workloads whose live pods (not finished, not the mesh's proxies) depart
    from the namespace's mode (istio/istio `cni/pkg/util/enablement_selector.go`)."""
    out: dict[str, PodEnrolment] = {}
    for ns in view.list("namespaces"):
        ns_name, ambient = name(ns), mesh.is_ambient(ns)
        if _is_platform(ns_name):
            continue
        facts = PodEnrolment()
        for pod in mesh.judged_pods(view, ns_name):
            workload, mode = mesh.workload_of(pod), mesh.pod_mode(pod)
            if mesh.has_sidecar(pod):
                bucket = facts.sidecars if ambient else None
            elif mode == "none":
                bucket = facts.opted_out if ambient else None
            elif mode == "ambient" and not ambient:
                bucket = facts.pod_enrolled
            else:
                bucket = None
            if bucket is not None and workload not in bucket:
                bucket.append(workload)
        if facts:
            out[ns_name] = facts
    return out


def _is_platform(ns_name: str) -> bool:
    return ns_name in PLATFORM_NAMESPACES or ns_name.startswith(PLATFORM_PREFIXES)


def _suggestions(view, profile: Profile) -> list[Suggestion]:
    """Namespaces a person should look at: not enrolled, but with mesh objects, ambient pods, or a
    name like an enrolled tenant's (bank-payment next to bank-employees-jboss-chat)."""
    enrolled = {t.namespace for t in profile.tenants}
    mesh_namespaces = {profile.istio.namespace, profile.istio_cni.namespace, profile.ztunnel.namespace}
    families = {t.split("-", 1)[0] for t in enrolled if "-" in t}
    by_pods = {namespace(p) for p in view.list("pods") if labels(p).get(mesh.DATAPLANE_MODE) == "ambient"}
    mesh_objects = {namespace(o) for kind in ("peerauthentications", "roles") for o in view.list(kind)
                    if kind == "peerauthentications" or name(o) == "ztunnel-workload-identity"}
    out = []
    for ns in sorted(view.list("namespaces"), key=name):
        ns_name = name(ns)
        if ns_name in enrolled or ns_name in mesh_namespaces or _is_platform(ns_name) or meta(ns).get("deletionTimestamp"):
            continue
        reasons = []
        if ns_name in by_pods:
            reasons.append(f"pods labelled {mesh.DATAPLANE_MODE}=ambient (enrolled pod by pod; the suite expects the namespace label)")
        if ns_name in mesh_objects:
            reasons.append("holds a PeerAuthentication or the ztunnel-workload-identity Role")
        family = ns_name.split("-", 1)[0]
        if "-" in ns_name and family in families:
            reasons.append(f"named like the enrolled {', '.join(sorted(t for t in enrolled if t.startswith(family + '-')))}")
        if reasons:
            out.append(Suggestion(ns_name, "; ".join(reasons)))
    return out
