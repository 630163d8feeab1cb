"""Restores the healthy twin exactly, whatever a fault or a person changed, added or removed.

Without kube-controller-manager nothing else does this, so reset plays each controller's part:
it lists every twin kind once, deletes what the twin does not have (finishing namespace deletion
the way the namespace controller would), recreates what is missing, and rewrites objects whose
normalized form differs from the baseline recorded right after seeding.
"""

from __future__ import annotations

import copy
import json

from lab import crds, seed
from lab.kubeapi import KINDS, Api, ApiException, kind_of
from lab.paths import LabPaths
from lab.wait import polling

SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
# What the twin itself defines there: the `kubernetes` Service's endpoints (OpenShift's masters), which
# the lab's API server does not write (--endpoint-reconciler-type=none).
TWIN_IN_SYSTEM_NAMESPACES = {("EndpointSlice", "default", "kubernetes")}
# Written by the API server or by controllers as time passes: not part of the twin's identity.
_VOLATILE_META = {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                  "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}
_TIME_KEYS = {"lastTransitionTime", "lastUpdateTime", "lastHeartbeatTime", "lastProbeTime", "startTime",
              "startedAt", "finishedAt", "lastUpdated", "lastConnect", "startedTime", "completionTime",
              "observedGeneration"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _TIME_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def normalize(obj: dict) -> dict:
    """The object as the twin defines it: no server bookkeeping, no timestamps, no uids."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("metadata", "status")}
    meta = {k: copy.deepcopy(v) for k, v in obj["metadata"].items() if k not in _VOLATILE_META}
    if obj["kind"] == "DaemonSet" and meta.get("annotations"):
        # The API server's DaemonSet strategy sets it to the generation on every template change
        # (pkg/registry/apps/daemonset/strategy.go), like metadata.generation: not the twin's to restore.
        meta["annotations"] = {k: v for k, v in meta["annotations"].items()
                               if k != "deprecated.daemonset.template.generation"}
    for ref in meta.get("ownerReferences", []):
        ref.pop("uid", None)
    out["metadata"] = meta
    if obj["kind"] == "Service":  # allocated by the API server on each create
        for field in ("clusterIP", "clusterIPs"):
            out.get("spec", {}).pop(field, None)
    if "status" in obj:
        out["status"] = _strip(obj["status"])
    return out


def key_str(key: tuple[str, str, str]) -> str:
    return "/".join(key)


def _reporter(event: dict) -> str:
    """Who wrote an Event: core/v1 `source.component`, or for events written through
    events.k8s.io/v1 (kube-apiserver 1.34's ipallocator repair loop) `reportingComponent`."""
    return (event.get("source") or {}).get("component") or event.get("reportingComponent") or ""


def managed(obj: dict) -> bool:
    if obj["kind"] == "Event" and "repair-controller" in _reporter(obj):
        # The API server's own ClusterIP/NodePort repair loops report races with new Services;
        # they come and go on a real cluster too and are not part of the twin or of any fault.
        return False
    if (obj["metadata"].get("labels") or {}).get("kubernetes.io/bootstrapping") == "rbac-defaults":
        # The API server's own ClusterRoles/ClusterRoleBindings (system:*, cluster-admin, admin,
        # edit, view), which it reconciles itself at every start.
        return False
    ns = obj["metadata"].get("namespace")
    if obj["kind"] == "Namespace":
        return obj["metadata"]["name"] not in SYSTEM_NAMESPACES
    if seed.key(obj) in TWIN_IN_SYSTEM_NAMESPACES:
        return True
    return ns is None or ns not in SYSTEM_NAMESPACES


def snapshot(api: Api) -> dict[tuple, dict]:
    """Every object of a twin kind outside the system namespaces, by (kind, namespace, name):
    one LIST per kind."""
    live = {}
    for kind in KINDS:
        for obj in api.list(kind):
            if managed(obj):
                live[seed.key(obj)] = obj
    return live


def normalized_dump(api: Api) -> dict[str, dict]:
    return {key_str(k): normalize(v) for k, v in sorted(snapshot(api).items())}


def save_baseline(api: Api, paths: LabPaths) -> None:
    paths.baseline.write_text(json.dumps(normalized_dump(api), sort_keys=True) + "\n")


def _load_baseline(paths: LabPaths) -> dict[str, dict]:
    try:
        return json.loads(paths.baseline.read_text())
    except (OSError, ValueError):
        return {}


# --- deleting --------------------------------------------------------------------------------

def _path(obj: dict) -> str:
    return kind_of(obj).path(obj["metadata"]["name"], obj["metadata"].get("namespace"))


def _delete(api: Api, obj: dict) -> None:
    api.delete(_path(obj))
    if obj["metadata"].get("finalizers") and obj["kind"] != "Namespace":
        # Nothing runs that would remove them (no garbage collector, no operator).
        try:
            api.patch(_path(obj), {"metadata": {"finalizers": None}})
        except ApiException as e:
            if e.status != 404:
                raise


def finish_namespace_deletion(api: Api, name: str) -> None:
    """What the namespace controller does once a namespace's contents are gone: empty
    spec.finalizers through the finalize subresource, so the namespace really goes away."""
    path = f"/api/v1/namespaces/{name}"
    ns = api.get_or_none(path)
    if ns is None:
        return
    if not ns["metadata"].get("deletionTimestamp"):
        api.delete(path)
        ns = api.get_or_none(path)
        if ns is None:
            return
    ns["spec"]["finalizers"] = []
    try:
        api.request("PUT", f"{path}/finalize", ns)
    except ApiException as e:
        if e.status != 404:
            raise
    for attempt in polling(10, every=0.1):
        with attempt:
            if api.get_or_none(path) is not None:
                raise TimeoutError(f"namespace {name} still exists after finalize")


# --- rewriting -------------------------------------------------------------------------------

def _owners_current(obj: dict, uids: dict) -> bool:
    for ref in obj["metadata"].get("ownerReferences", []):
        if ref.get("uid") != seed.owner_uid(obj, ref, uids):
            return False
    return True


def _update(api: Api, live: dict, desired: dict, base: dict | None, uids: dict) -> None:
    """Puts the twin's metadata, spec and status back on an existing object. The spec is only
    replaced when it differs from the baseline, so server-set and immutable fields (pod
    tolerations added at admission, Service clusterIP) stay as they are."""
    body = copy.deepcopy(live)
    want = copy.deepcopy(desired)
    status = want.pop("status", None)
    seed._resolve_owners(want, uids)
    for field in ("labels", "annotations", "ownerReferences", "finalizers"):
        if field in want["metadata"]:
            body["metadata"][field] = want["metadata"][field]
        else:
            body["metadata"].pop(field, None)
    now = normalize(live)
    for field, value in want.items():
        if field in ("metadata", "apiVersion", "kind"):
            continue
        if base is None or now.get(field) != base.get(field):
            if field == "spec" and live["kind"] == "Service":
                for keep in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                    if keep in live["spec"]:
                        value = {**value, keep: live["spec"][keep]}
            body[field] = value
    body.pop("status", None)
    try:
        updated = api.replace(body)
    except ApiException as e:
        if e.status != 422:  # an immutable field changed: recreate, as a controller would
            raise
        _delete(api, live)
        seed.create(api, desired, uids)
        return
    updated["kind"], updated["apiVersion"] = live["kind"], live["apiVersion"]
    generation_moved = updated["metadata"].get("generation") != live["metadata"].get("generation")
    if status is not None and (generation_moved or base is None or
                               normalize(updated).get("status") != base.get("status")):
        seed.write_status(api, updated, status)


def reset(api: Api, paths: LabPaths) -> int:
    """Brings the lab back to the seeded twin. Returns how many objects it had to touch."""
    params = seed.load_params(paths.seed_params)
    desired = {seed.key(o): o for o in seed.render(params["nodes"], params["extra_tenants"], slot=params.get("slot", 0),
                                                      extra_namespaces=params.get("extra_namespaces", 0))}
    baseline = _load_baseline(paths)
    changes = len(crds.restore_missing(api, paths.crd_names))  # first: the kinds must be served again
    live = snapshot(api)

    # 1. Delete what the twin does not have: contents first, then namespaces (finalized).
    extras = [o for k, o in live.items() if k not in desired]
    terminating = {k[2] for k, o in live.items() if k[0] == "Namespace" and o["metadata"].get("deletionTimestamp")}
    extra_keys = {seed.key(o) for o in extras}
    for k, o in live.items():  # a twin namespace deleted by hand: empty it, then recreate it all
        if k[1] in terminating and k not in extra_keys:
            extras.append(o)
    doomed_ns = {o["metadata"]["name"] for o in extras if o["kind"] == "Namespace"} | terminating
    for o in sorted(extras, key=lambda o: -seed._ORDER[o["kind"]]):
        if o["kind"] != "Namespace":
            _delete(api, o)
            live.pop(seed.key(o), None)
            changes += 1
    for name in sorted(doomed_ns):
        finish_namespace_deletion(api, name)
        live.pop(("Namespace", "", name), None)
        changes += 1

    # 2. Recreate what is missing, rewrite what differs, owners before what they own.
    uids = {k: o["metadata"]["uid"] for k, o in live.items()}
    for k, want in desired.items():  # desired is in creation (KINDS) order
        current = live.get(k)
        if current is None:
            seed.create(api, want, uids)
            changes += 1
            continue
        base = baseline.get(key_str(k))
        if base is None or normalize(current) != base or not _owners_current(current, uids):
            _update(api, current, want, base, uids)
            changes += 1
    return changes
