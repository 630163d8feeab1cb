"""Which reads a run needs: a fixed set derived from the profile, never from the tenant count.

Cluster-wide lists for kinds that tenants spread across; namespaced lists only for OLM kinds,
whose cluster-wide lists would carry a copied CSV per namespace per operator; named gets for
the handful of CRDs the suite inspects (all CRDs of an OpenShift cluster weigh megabytes).
"""

from __future__ import annotations

from ..kube.snapshot import Read
from ..profile import Profile
from .crds import GATEWAY_API_CRDS, SAIL_CRDS as CHECKED_SAIL_CRDS

CLUSTER_WIDE = (
    "namespaces", "nodes", "pods", "services", "deployments", "daemonsets", "networkpolicies",
    "roles", "rolebindings", "clusterroles", "clusterrolebindings",
    "peerauthentications", "authorizationpolicies", "virtualservices", "sidecars",
    "gateways", "gatewayclasses", "httproutes", "grpcroutes",
    "istios", "istiocnis", "ztunnels", "istiorevisions", "clusterversions",
)
# The sail-operator CRDs read by name: those the CRD checks judge, and istiorevisiontags.
SAIL_CRDS = CHECKED_SAIL_CRDS + ("istiorevisiontags.sailoperator.io",)
NOT_COPIED = "!olm.copiedFrom"  # OLM labels the CSV copies it writes into every namespace
# Why a tenant pod is stuck (FailedCreatePodSandBox from the CNI chain, FailedScheduling): the
# kubelet's and scheduler's Warning events about pods only, so a busy cluster's Normal events
# (pulls, scaling) never weigh on the snapshot.
POD_WARNINGS = "involvedObject.kind=Pod,type=Warning"


def snapshot_plan(profile: Profile) -> list[Read]:
    reads = [Read(kind) for kind in CLUSTER_WIDE] + [Read("events", field_selector=POD_WARNINGS)]
    for ns in dict.fromkeys(op.namespace for op in profile.operators):
        reads += [
            Read("subscriptions", ns),
            Read("clusterserviceversions", ns, label_selector=NOT_COPIED),
            Read("installplans", ns),
        ]
    reads += [Read("customresourcedefinitions", name=name) for name in SAIL_CRDS + GATEWAY_API_CRDS]
    # The API server's own endpoints (istiod must reach them), and OpenShift's cluster network.
    reads.append(Read("endpointslices", "default", label_selector="kubernetes.io/service-name=kubernetes"))
    reads.append(Read("networks", name="cluster"))
    return reads
