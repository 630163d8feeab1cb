"""Which listed objects a run can need: the mesh's, not the whole cluster's.

On a shared OpenShift spoke the mesh is a minority: of 20,000 pods perhaps 2,500 are in ambient
tenants. The snapshot drops, page by page, the pods, Deployments, Services and Events of
namespaces that are neither named by the profile nor labelled for the mesh, unless the object
itself carries a mesh label or annotation (a pod enrolled by its own label, an injected sidecar,
a gateway) — those are exactly what the enrolment checks look for outside the tenants.
Every other kind is kept (few objects per cluster, or read cluster-wide by a check: RBAC,
NetworkPolicies, Istio and Gateway API objects).

Namespace-level mesh markers follow istio/istio: `istio.io/dataplane-mode` (ambient enrolment,
cni/pkg/util/enablement_selector.go), `istio-injection` / `istio.io/rev` (sidecar injection,
pkg/kube/inject/webhook.go), `istio.io/use-waypoint` (pilot/pkg/serviceregistry/kube/controller/ambient/).
"""

from __future__ import annotations

from typing import Iterable

from ..profile import Profile

FILTERED_KINDS = ("pods", "deployments", "services", "events")
# Label/annotation keys that make an object the mesh's business wherever it is.
MESH_LABELS = ("istio.io/", "istio-injection", "sidecar.istio.io/", "service.istio.io/", "gateway.istio.io/",
               "gateway.networking.k8s.io/")
MESH_ANNOTATIONS = ("ambient.istio.io/", "sidecar.istio.io/")
# Namespaces a check may read objects of whatever the profile says: the Kubernetes API Service
# lives in `default` (istiod must reach it); OpenShift's router calls tenants from openshift-ingress.
ALWAYS = ("default", "openshift-ingress", "kube-system")


def profile_namespaces(profile: Profile, extra: Iterable[str] = ()) -> set[str]:
    names = {t.namespace for t in profile.tenants}
    names |= {profile.istio.namespace, profile.istio_cni.namespace, profile.ztunnel.namespace}
    names |= {op.namespace for op in profile.operators}
    for tenant in profile.tenants:
        names |= {e.destination_namespace for e in tenant.edges if e.destination_namespace}
    return names | set(ALWAYS) | set(extra)


def _has_prefix(mapping: dict | None, prefixes: tuple[str, ...]) -> bool:
    return bool(mapping) and any(k.startswith(prefixes) for k in mapping)


class Scope:
    """Decides per object whether the snapshot keeps it. Learns the mesh-labelled namespaces from
    the namespace list, which the snapshot reads before the filtered kinds."""

    def __init__(self, namespaces: set[str]):
        self.namespaces = set(namespaces)

    @classmethod
    def of(cls, profile: Profile, extra_namespaces: Iterable[str] = ()) -> "Scope":
        return cls(profile_namespaces(profile, extra_namespaces))

    def learn(self, namespace_objects: Iterable[dict]) -> None:
        for ns in namespace_objects:
            meta = ns.get("metadata") or {}
            if _has_prefix(meta.get("labels"), MESH_LABELS):
                self.namespaces.add(meta.get("name", ""))

    def keeps(self, kind: str, obj: dict) -> bool:
        if kind not in FILTERED_KINDS:
            return True
        if kind == "events":
            where = (obj.get("involvedObject") or {}).get("namespace") or (obj.get("metadata") or {}).get("namespace")
            return where in self.namespaces
        meta = obj.get("metadata") or {}
        if meta.get("namespace") in self.namespaces:
            return True
        if _has_prefix(meta.get("labels"), MESH_LABELS) or _has_prefix(meta.get("annotations"), MESH_ANNOTATIONS):
            return True
        if kind == "pods":
            spec = obj.get("spec") or {}
            return any(c.get("name") == "istio-proxy" for c in (spec.get("containers") or []) + (spec.get("initContainers") or []))
        if kind == "deployments":
            template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
            return _has_prefix(template.get("labels"), MESH_LABELS)
        return False
