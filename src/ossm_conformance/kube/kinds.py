"""Every kind the suite reads, and how to list it with one request.

Paths are built here, once, so that the snapshot (one list per kind) and a re-read of a
single object use the same addresses. No API discovery is done: discovery costs dozens of
requests on OpenShift and the suite knows exactly what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    key: str          # plural, unique within the suite ("pods", "istios")
    kind: str         # the object's kind ("Pod", "Istio")
    group: str        # "" for the core group
    version: str
    namespaced: bool

    def base(self) -> str:
        return f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"

    def list_path(self, namespace: str | None = None) -> str:
        if namespace and self.namespaced:
            return f"{self.base()}/namespaces/{namespace}/{self.key}"
        return f"{self.base()}/{self.key}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        if self.namespaced:
            return f"{self.base()}/namespaces/{namespace}/{self.key}/{name}"
        return f"{self.base()}/{self.key}/{name}"

    def resource(self) -> str:
        """group/resource as RBAC names it, for 'forbidden' messages."""
        return f"{self.group}/{self.key}" if self.group else self.key


def _k(key, kind, group, version, namespaced=True) -> Kind:
    return Kind(key, kind, group, version, namespaced)


KINDS: dict[str, Kind] = {k.key: k for k in [
    _k("namespaces", "Namespace", "", "v1", False),
    _k("nodes", "Node", "", "v1", False),
    _k("pods", "Pod", "", "v1"),
    _k("services", "Service", "", "v1"),
    _k("events", "Event", "", "v1"),
    _k("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1"),
    _k("deployments", "Deployment", "apps", "v1"),
    _k("daemonsets", "DaemonSet", "apps", "v1"),
    _k("networkpolicies", "NetworkPolicy", "networking.k8s.io", "v1"),
    _k("roles", "Role", "rbac.authorization.k8s.io", "v1"),
    _k("rolebindings", "RoleBinding", "rbac.authorization.k8s.io", "v1"),
    _k("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
    _k("clusterrolebindings", "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", False),
    _k("customresourcedefinitions", "CustomResourceDefinition", "apiextensions.k8s.io", "v1", False),
    _k("peerauthentications", "PeerAuthentication", "security.istio.io", "v1"),
    _k("authorizationpolicies", "AuthorizationPolicy", "security.istio.io", "v1"),
    _k("virtualservices", "VirtualService", "networking.istio.io", "v1"),
    _k("sidecars", "Sidecar", "networking.istio.io", "v1"),
    _k("gateways", "Gateway", "gateway.networking.k8s.io", "v1"),
    _k("gatewayclasses", "GatewayClass", "gateway.networking.k8s.io", "v1", False),
    _k("httproutes", "HTTPRoute", "gateway.networking.k8s.io", "v1"),
    _k("grpcroutes", "GRPCRoute", "gateway.networking.k8s.io", "v1"),
    _k("istios", "Istio", "sailoperator.io", "v1", False),
    _k("istiocnis", "IstioCNI", "sailoperator.io", "v1", False),
    _k("ztunnels", "ZTunnel", "sailoperator.io", "v1", False),
    _k("istiorevisions", "IstioRevision", "sailoperator.io", "v1", False),
    _k("subscriptions", "Subscription", "operators.coreos.com", "v1alpha1"),
    _k("clusterserviceversions", "ClusterServiceVersion", "operators.coreos.com", "v1alpha1"),
    _k("installplans", "InstallPlan", "operators.coreos.com", "v1alpha1"),
    _k("clusterversions", "ClusterVersion", "config.openshift.io", "v1", False),
    _k("networks", "Network", "operator.openshift.io", "v1", False),
]}
