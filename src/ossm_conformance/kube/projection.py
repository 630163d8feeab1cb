"""The fields the snapshot keeps of each object: what the checks, the mTLS placement and the
reports read, nothing more.

A pod as an OpenShift API server returns it is 12-16 KB of JSON (managedFields, OVN/multus
network annotations, env, volumes, full status); the checks read well under 1 KB of it. Each page
of a list is projected as it arrives (kube/snapshot.py), so memory follows what is read, not the
size of the cluster's objects.

Drift is caught, not trusted: the unit tests hand every check projected objects whose reads are
tracked (tests/unit/field_access.py), so a check that reads a field missing here fails its unit
test naming the kind and the path. Kinds not listed here are few per cluster and kept whole
(minus managedFields, which no check reads).

A spec is a tree: `KEEP` keeps the value whole; a dict keeps only its keys, each with its own
spec; `[spec]` projects every item of a list; `Keys(...)` keeps the entries of a map whose key
starts with one of the prefixes (annotations: istio's are read, OVN's and multus' are not).
"""

from __future__ import annotations

from dataclasses import dataclass

KEEP = True


@dataclass(frozen=True)
class Keys:
    prefixes: tuple[str, ...]

    def keeps(self, key: str) -> bool:
        return key.startswith(self.prefixes)


# Every annotation a check reads is istio's (ambient.istio.io/redirection, bypass-inbound-capture,
# sidecar.istio.io/status, ...); the large ones on real pods (k8s.ovn.org/pod-networks,
# k8s.v1.cni.cncf.io/network-status, openshift.io/scc) are not.
ISTIO_ANNOTATIONS = Keys(("ambient.istio.io/", "sidecar.istio.io/", "istio.io/", "networking.istio.io/",
                          "service.istio.io/", "proxy.istio.io/"))

_META = {"name": KEEP, "namespace": KEEP, "uid": KEEP, "labels": KEEP, "ownerReferences": KEEP,
         "creationTimestamp": KEEP, "deletionTimestamp": KEEP, "generation": KEEP, "resourceVersion": KEEP}
META = {**_META, "annotations": ISTIO_ANNOTATIONS}

_CONTAINER = {"name": KEEP, "image": KEEP, "ports": KEEP, "restartPolicy": KEEP}
_POD_SCHEDULING = {"nodeSelector": KEEP, "affinity": KEEP, "tolerations": KEEP}
_POD_SPEC = {"containers": [_CONTAINER], "initContainers": [_CONTAINER], "serviceAccountName": KEEP,
             "hostNetwork": KEEP, **_POD_SCHEDULING}
_CONTAINER_STATUS = {"name": KEEP, "ready": KEEP, "started": KEEP, "restartCount": KEEP, "state": KEEP,
                     "lastState": KEEP}
_TEMPLATE = {"metadata": {"labels": KEEP, "annotations": ISTIO_ANNOTATIONS}, "spec": _POD_SPEC}
_WORKLOAD = {"metadata": META,
             "spec": {"replicas": KEEP, "selector": KEEP, "template": _TEMPLATE, "updateStrategy": KEEP,
                      "strategy": KEEP},
             "status": KEEP}

PROJECTIONS: dict[str, dict] = {
    "pods": {
        "metadata": META,
        "spec": {**_POD_SPEC, "nodeName": KEEP},
        "status": {"phase": KEEP, "reason": KEEP, "message": KEEP, "conditions": KEEP, "podIP": KEEP,
                   "podIPs": KEEP, "hostIP": KEEP, "startTime": KEEP,
                   "containerStatuses": [_CONTAINER_STATUS], "initContainerStatuses": [_CONTAINER_STATUS]},
    },
    "deployments": _WORKLOAD,
    "daemonsets": _WORKLOAD,
    "services": {"metadata": META,
                 "spec": {"selector": KEEP, "ports": KEEP, "type": KEEP, "clusterIP": KEEP, "clusterIPs": KEEP},
                 "status": KEEP},
    "namespaces": {"metadata": META, "status": {"phase": KEEP}},
    # Node status carries every image the node has pulled (often > 10 KB): not read.
    "nodes": {"metadata": {**_META}, "spec": {"taints": KEEP, "unschedulable": KEEP, "podCIDR": KEEP,
                                              "podCIDRs": KEEP},
              "status": {"conditions": KEEP, "addresses": KEEP}},
    "roles": {"metadata": META, "rules": KEEP},
    "clusterroles": {"metadata": META, "rules": KEEP, "aggregationRule": KEEP},
    "rolebindings": {"metadata": META, "roleRef": KEEP, "subjects": KEEP},
    "clusterrolebindings": {"metadata": META, "roleRef": KEEP, "subjects": KEEP},
}
# What every object keeps at its top level whatever its projection: the reports name objects by these.
_ALWAYS = ("apiVersion", "kind")


def project(kind: str, obj: dict) -> dict:
    """`obj` reduced to the fields its kind's projection keeps (a new dict; `obj` is not changed)."""
    spec = PROJECTIONS.get(kind)
    if spec is None:
        return _without_unread_metadata(obj)
    out = _apply(spec, obj)
    for key in _ALWAYS:
        if key in obj:
            out[key] = obj[key]
    return out


# Kept by no projection: managedFields (no check reads them) and the last applied manifest, which
# can carry whatever the author applied and must never reach a report.
_UNREAD_META = ("managedFields",)
_UNREAD_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _without_unread_metadata(obj: dict) -> dict:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    meta = {k: v for k, v in meta.items() if k not in _UNREAD_META}
    if isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k not in _UNREAD_ANNOTATIONS}
    return {**obj, "metadata": meta}


def _apply(spec, value):
    if spec is KEEP:
        return value
    if isinstance(spec, Keys):
        return {k: v for k, v in value.items() if spec.keeps(k)} if isinstance(value, dict) else value
    if isinstance(spec, list):
        return [_apply(spec[0], item) for item in value] if isinstance(value, list) else value
    if not isinstance(value, dict):
        return value
    return {k: _apply(sub, value[k]) for k, sub in spec.items() if k in value}


def covers(kind: str, path: tuple[str, ...]) -> bool:
    """Whether a read of `path` (keys; "[]" for "each item"; "*" for "every key") sees the field
    as the cluster has it. Used by the unit tests' field tracking."""
    spec = PROJECTIONS.get(kind)
    if spec is None or (path and path[0] in _ALWAYS):
        return True
    for step in path:
        if spec is KEEP:
            return True
        if isinstance(spec, Keys):
            return step != "*" and spec.keeps(step)
        if isinstance(spec, list):
            if step != "[]":
                return False
            spec = spec[0]
            continue
        if step not in spec:
            return False
        spec = spec[step]
    return True
