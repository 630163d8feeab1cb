"""Which reads a run needs: the kinds some check declares with `@reads` (and the report header's
ClusterVersion), each read in one fixed shape derived from the profile, never from the tenant count.

Cluster-wide lists for kinds that tenants spread across; namespaced lists only for OLM kinds,
whose cluster-wide lists would carry a copied CSV per namespace per operator; named gets for
the CRDs the checks inspect (all CRDs of an OpenShift cluster weigh megabytes). A kind no
check declares is not read at all.
"""

from __future__ import annotations

from ..kube.kinds import KINDS
from ..kube.server_info import openshift_version
from ..kube.snapshot import Read
from ..profile import Profile
from . import declared
from .crds import GATEWAY_API_CRDS, SAIL_CRDS

OLM_KINDS = ("subscriptions", "clusterserviceversions", "installplans")
NOT_COPIED = "!olm.copiedFrom"  # OLM labels the CSV copies it writes into every namespace
# Why a tenant pod is stuck (FailedCreatePodSandBox from the CNI chain, FailedScheduling): the
# kubelet's and scheduler's Warning events about pods only, so a busy cluster's Normal events
# (pulls, scaling) never weigh on the snapshot.
POD_WARNINGS = "involvedObject.kind=Pod,type=Warning"
# Kinds read in a shape of their own below; every other declared kind is listed cluster-wide.
SHAPED = {*OLM_KINDS, "events", "customresourcedefinitions", "endpointslices", "networks"}


# The longest read on any cluster: the most objects and the biggest (275 of 310 MB served at 20,000
# OpenShift-sized pods, docs/performance.md). Tests that need it run after the others, so the
# others run while it is read (kube/background.py).
LONGEST_READS = frozenset({"pods"})


def declared_kinds() -> set[str]:
    """Every kind some check (or the report header) declares it reads."""
    return {kind for f in [*declared().values(), openshift_version] for kind in f.reads}


def snapshot_plan(profile: Profile) -> list[Read]:
    kinds = declared_kinds()
    reads = [Read(kind) for kind in KINDS if kind in kinds and kind not in SHAPED]
    if "events" in kinds:
        reads.append(Read("events", field_selector=POD_WARNINGS))
    for ns in dict.fromkeys(op.namespace for op in profile.operators):
        reads += [Read("subscriptions", ns), Read("clusterserviceversions", ns, label_selector=NOT_COPIED),
                  Read("installplans", ns)]
    reads = [r for r in reads if r.kind in kinds]
    if "customresourcedefinitions" in kinds:
        reads += [Read("customresourcedefinitions", name=name) for name in SAIL_CRDS + GATEWAY_API_CRDS]
    # The API server's own endpoints (istiod must reach them), and OpenShift's cluster network.
    if "endpointslices" in kinds:
        reads.append(Read("endpointslices", "default", label_selector="kubernetes.io/service-name=kubernetes"))
    if "networks" in kinds:
        reads.append(Read("networks", name="cluster"))
    return reads
