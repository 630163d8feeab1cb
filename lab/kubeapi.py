"""A thin REST layer over the kubernetes client's ApiClient, for the lab's own writes.

The lab writes arbitrary kinds (CRDs, custom resources, status subresources, namespace finalize),
so it speaks paths and dicts rather than typed models: typed models would drop fields the real
CRD schemas accept, and their deserializers choke on some valid objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubernetes import config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

__all__ = ["Api", "ApiException", "Kind", "KINDS", "kind_of"]


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str
    namespaced: bool = True

    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def collection(self, namespace: str | None = None) -> str:
        if self.namespaced and namespace:
            return f"{self.base()}/namespaces/{namespace}/{self.plural}"
        return f"{self.base()}/{self.plural}"

    def path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection(namespace)}/{name}"


def _k(kind, api_version, plural, namespaced=True):
    return Kind(kind, api_version, plural, namespaced)


# Every kind the twin is made of, in creation order: owners before what they own, so that
# ownerReferences can carry the owner's real uid. Reset walks the same list.
KINDS: list[Kind] = [
    _k("Namespace", "v1", "namespaces", False),
    _k("Node", "v1", "nodes", False),
    _k("ClusterVersion", "config.openshift.io/v1", "clusterversions", False),
    _k("Network", "operator.openshift.io/v1", "networks", False),
    _k("CatalogSource", "operators.coreos.com/v1alpha1", "catalogsources"),
    _k("OperatorGroup", "operators.coreos.com/v1", "operatorgroups"),
    _k("Subscription", "operators.coreos.com/v1alpha1", "subscriptions"),
    _k("InstallPlan", "operators.coreos.com/v1alpha1", "installplans"),
    _k("ClusterServiceVersion", "operators.coreos.com/v1alpha1", "clusterserviceversions"),
    _k("ServiceAccount", "v1", "serviceaccounts"),
    _k("ConfigMap", "v1", "configmaps"),
    _k("Secret", "v1", "secrets"),
    _k("Role", "rbac.authorization.k8s.io/v1", "roles"),
    _k("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
    _k("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False),
    _k("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    _k("Istio", "sailoperator.io/v1", "istios", False),
    _k("IstioRevision", "sailoperator.io/v1", "istiorevisions", False),
    _k("IstioCNI", "sailoperator.io/v1", "istiocnis", False),
    _k("ZTunnel", "sailoperator.io/v1", "ztunnels", False),
    _k("GatewayClass", "gateway.networking.k8s.io/v1", "gatewayclasses", False),
    _k("Gateway", "gateway.networking.k8s.io/v1", "gateways"),
    _k("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes"),
    _k("GRPCRoute", "gateway.networking.k8s.io/v1", "grpcroutes"),
    _k("VirtualService", "networking.istio.io/v1", "virtualservices"),
    _k("Service", "v1", "services"),
    _k("EndpointSlice", "discovery.k8s.io/v1", "endpointslices"),
    _k("Deployment", "apps/v1", "deployments"),
    _k("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
    _k("ReplicaSet", "apps/v1", "replicasets"),
    _k("DaemonSet", "apps/v1", "daemonsets"),
    _k("Job", "batch/v1", "jobs"),
    _k("Pod", "v1", "pods"),
    _k("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    _k("PeerAuthentication", "security.istio.io/v1", "peerauthentications"),
    _k("AuthorizationPolicy", "security.istio.io/v1", "authorizationpolicies"),
    _k("Sidecar", "networking.istio.io/v1", "sidecars"),
    _k("Event", "v1", "events"),
]
_BY_KIND = {k.kind: k for k in KINDS}


def kind_of(obj: dict) -> Kind:
    kind = _BY_KIND.get(obj["kind"])
    if kind is None or kind.api_version != obj["apiVersion"]:
        raise KeyError(f"the lab does not know {obj.get('apiVersion')}/{obj.get('kind')}")
    return kind


class Api:
    """JSON in, JSON out; raises ApiException on any non-2xx answer."""

    def __init__(self, kubeconfig: Path | str):
        self.client: ApiClient = config.new_client_from_config(str(kubeconfig), persist_config=False)
        # Seeding a 300-node twin runs writes from a few threads; the default pool is 4 connections.
        self.client.rest_client.pool_manager.connection_pool_kw["maxsize"] = 16

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                content_type: str = "application/json", accept: str = "application/json"):
        return self.client.call_api(
            path, method, query_params=list((query or {}).items()),
            header_params={"Accept": accept, "Content-Type": content_type},
            body=body, response_type="object", auth_settings=["BearerToken"],
            _return_http_data_only=True, _preload_content=True)

    def get(self, path: str, **query):
        return self.request("GET", path, query=query or None)

    def get_or_none(self, path: str):
        try:
            return self.get(path)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def create(self, obj: dict) -> dict:
        kind = kind_of(obj)
        return self.request("POST", kind.collection(obj["metadata"].get("namespace")), obj)

    def replace(self, obj: dict, subresource: str = "") -> dict:
        kind = kind_of(obj)
        path = kind.path(obj["metadata"]["name"], obj["metadata"].get("namespace"))
        return self.request("PUT", path + (f"/{subresource}" if subresource else ""), obj)

    def patch(self, path: str, patch: dict) -> dict:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def delete(self, path: str) -> None:
        """Deletes with gracePeriodSeconds=0: with no kubelet, a pod bound to a node would otherwise
        stay Terminating forever."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
                "gracePeriodSeconds": 0}
        try:
            self.request("DELETE", path, body)
        except ApiException as e:
            if e.status != 404:
                raise

    def list(self, kind: Kind, namespace: str | None = None) -> list[dict]:
        items = self.get(kind.collection(namespace)).get("items", [])
        for item in items:  # list items carry no kind/apiVersion
            item["kind"], item["apiVersion"] = kind.kind, kind.api_version
        return items
