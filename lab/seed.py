"""Seeds the healthy twin of spoke-dc-v6 from lab/twin/*.yaml, through the API.

    from lab.kubeapi import Api
    from lab import seed
    seed.seed(Api(kubeconfig))                              # the twin: 6 nodes, the real tenants
    seed.seed(Api(kubeconfig), nodes=300, extra_tenants=500,  # same loader, benchmark scale
              extra_namespaces=1500)                          # + namespaces outside the mesh

`render()` turns the YAML (cluster.yaml, nodes.yaml, workloads.yaml, tenants.yaml and their
templates) into the full list of objects, deterministically: names, pod IPs and hashes depend only on
the parameters, so `reset` can re-render the same twin. `apply()` creates each object, then writes
its status through the status subresource as its controller would (observedGeneration = the
generation the API server assigned). Objects are created kind by kind in lab.kubeapi.KINDS order
so owners exist (and their uids are known) before what they own.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import ipaddress
import json
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from string import Template

import tenacity
import yaml

from lab.kubeapi import KINDS, Api, ApiException, kind_of
from lab.paths import TWIN_DIR
from lab.wait import polling

DEFAULT_NODES = 6
WORKERS = 4  # parallel writers: the apiserver, etcd and this process share 2 cores
_ORDER = {k.kind: i for i, k in enumerate(KINDS)}
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the one k8s uses for generated names


# --- rendering -------------------------------------------------------------------------------

def _load(name: str):
    return yaml.safe_load((TWIN_DIR / name).read_text())


def _token(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:n])


def _hex(seed: str, n: int = 64) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _render_file(name: str, variables: dict) -> list[dict]:
    """string.Template over the YAML text; dict/list variables are inlined as JSON (flow YAML)."""
    text = (TWIN_DIR / name).read_text()
    flat = {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in variables.items()}
    return [doc for doc in yaml.load_all(Template(text).substitute(flat), Loader=_LOADER) if doc]


# libyaml's safe loader: the pure-Python one spends minutes on a benchmark twin's 18,000 objects.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


SLOT_SPAN = 1024  # addresses per lab slot: up to 1,000 nodes, so a benchmark twin fits in one slot


class Topology:
    """Nodes and their addresses; hands out pod IPs from each node's pod CIDR.

    `slot` shifts the loopback addresses the lab binds (node kubelet IPs, ztunnel pod IPs) by
    SLOT_SPAN, so several labs (parallel test sessions, a benchmark beside a demo) can run on
    one machine without fighting over 127.10.0.1:15020.
    """

    def __init__(self, spec: dict, nodes: int, slot: int = 0):
        masters = spec["masters"]
        if nodes < masters + 3:
            raise ValueError(f"the twin needs at least {masters + 3} nodes (3 workers carry its pods)")
        self.spec = spec
        self.names = [f"{spec['cluster']}-master-{i}" for i in range(masters)] + \
                     [f"{spec['cluster']}-worker-{i}" for i in range(nodes - masters)]
        self.workers = self.names[masters:]
        self.index = {n: i for i, n in enumerate(self.names)}
        self._next_pod = {n: 10 for n in self.names}
        self._block = 2 ** (32 - spec["pod_cidr_prefix"])
        self.slot = slot

    def _ip(self, base_key: str, offset: int) -> str:
        return str(ipaddress.ip_address(self.spec[base_key]) + offset)

    def internal_ip(self, node: str) -> str:
        return self._ip("internal_ip_base", self.slot * SLOT_SPAN + self.index[node] + 1)

    def ztunnel_ip(self, node: str) -> str:
        return self._ip("ztunnel_ip_base", self.slot * SLOT_SPAN + self.index[node] + 1)

    def pod_cidr(self, node: str) -> str:
        return f"{self._ip('pod_cidr_base', self.index[node] * self._block)}/{self.spec['pod_cidr_prefix']}"

    def pod_ip(self, node: str) -> str:
        offset = self._next_pod[node]
        self._next_pod[node] += 1
        return self._ip("pod_cidr_base", self.index[node] * self._block + offset)

    def role(self, node: str) -> str:
        return "master" if self.index[node] < self.spec["masters"] else "worker"


def node_ips(nodes: int = DEFAULT_NODES, slot: int = 0) -> list[str]:
    topo = Topology(_load("nodes.yaml"), nodes, slot)
    return [topo.internal_ip(n) for n in topo.names]


def free_slot(nodes: int = DEFAULT_NODES, slots: int = 16) -> int:
    """The first slot whose first node and ztunnel addresses nobody listens on yet."""
    spec = _load("nodes.yaml")
    for slot in range(slots):
        topo = Topology(spec, nodes, slot)
        first = topo.names[0]
        if _free(topo.internal_ip(first), spec["kubelet_port"]) and _free(topo.ztunnel_ip(first), 15020):
            return slot
    raise RuntimeError(f"no free lab address slot among {slots}: too many labs running")


def _free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, port))
            return True
        except OSError:
            return False


def rebooting_nodes(topo: Topology) -> list[str]:
    """The nodes of the twin that are being rebooted (nodes.yaml `rebooting`)."""
    node = (topo.spec.get("rebooting") or {}).get("node")
    return [node] if node in topo.index else []


def _reboot(objs: list[dict], spec: dict, now: str) -> None:
    """The node and its daemon pods as they look mid-reboot (see nodes.yaml `rebooting`)."""
    node = next(o for o in objs if o["kind"] == "Node")
    node["spec"]["unschedulable"] = True
    node["spec"]["taints"] = list(node["spec"].get("taints") or []) + [
        {**t, **({"timeAdded": now} if t["effect"] == "NoExecute" else {})} for t in spec["taints"]]
    node["metadata"]["annotations"].update(spec["annotations"])
    for cond in node["status"]["conditions"]:
        cond.update(status="Unknown", reason=spec["condition_reason"], message=spec["condition_message"])
    for pod in (o for o in objs if o["kind"] == "Pod"):
        for cond in pod["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["status"] = "False"
        for cs in pod["status"].get("containerStatuses", []):
            cs["ready"] = False


def _nodes(topo: Topology, now: str) -> list[dict]:
    spec = topo.spec
    objs = []
    rebooting = rebooting_nodes(topo)
    for node in topo.names:
        per_node: list[dict] = []
        role = spec["roles"][topo.role(node)]
        base = {"node": node, "now": now, "internal_ip": topo.internal_ip(node),
                "ztunnel_ip": topo.ztunnel_ip(node), "kubelet_port": spec["kubelet_port"]}
        labels = {"kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                  "node.openshift.io/os_id": "rhcos", **role["labels"]}
        per_node += _render_file(spec["node_template"], {
            **base, "node_labels": labels, "taints": role["taints"], "pod_cidr": topo.pod_cidr(node),
            "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, node)), "machine_id": _hex(node, 32)})
        for template in spec["daemonset_pod_templates"]:
            per_node += _render_file(template, {**base, "pod_suffix": _token(template + node, 5),
                                                "container_id": _hex(template + node)})
        if node in rebooting:
            _reboot(per_node, spec["rebooting"], now)
        objs += per_node
    return objs


def _rs_hash(namespace: str, name: str) -> str:
    """The pod-template-hash of a workload's (only) ReplicaSet."""
    return _token(f"{namespace}/{name}/rs", 10)


def _workload(entry: dict, topo: Topology, now: str) -> list[dict]:
    """One workload entry -> ServiceAccount, Deployment, ReplicaSet, Pod (+ Service)."""
    name, ns, node = entry["name"], entry["namespace"], entry["node"]
    rs_hash = _rs_hash(ns, name)
    variables = {
        "service_account": name, "container": name, "pod_annotations": {},
        **entry,
        "pod_labels": {**entry["labels"], "pod-template-hash": rs_hash},
        "pod_selector": {**entry["selector"], "pod-template-hash": rs_hash},
        "rs_hash": rs_hash, "pod_suffix": _token(f"{ns}/{name}/pod", 5), "now": now,
        "internal_ip": topo.internal_ip(node), "pod_ip": topo.pod_ip(node),
        "container_id": _hex(f"{ns}/{name}"),
    }
    objs = _render_file("templates/workload.yaml", variables)
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    if entry.get("deployment_owner"):
        deployment["metadata"]["ownerReferences"] = entry["deployment_owner"]
    # More replicas (an HPA scaled the Deployment): one more Pod per node in `replica_nodes`.
    for i, extra_node in enumerate(entry.get("replica_nodes") or [], start=1):
        pod_vars = {**variables, "node": extra_node, "internal_ip": topo.internal_ip(extra_node),
                    "pod_ip": topo.pod_ip(extra_node), "pod_suffix": _token(f"{ns}/{name}/pod/{i}", 5),
                    "container_id": _hex(f"{ns}/{name}/{i}")}
        objs += [o for o in _render_file("templates/workload.yaml", pod_vars) if o["kind"] == "Pod"]
    replicas = 1 + len(entry.get("replica_nodes") or [])
    if replicas > 1:
        for owner in (o for o in objs if o["kind"] in ("Deployment", "ReplicaSet")):
            owner["spec"]["replicas"] = replicas
            owner["status"].update({k: replicas for k in owner["status"] if k.endswith("eplicas")})
        rs = next(o for o in objs if o["kind"] == "ReplicaSet")
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
    if entry.get("service_ports"):
        objs += _render_file("templates/service.yaml", variables)
    return objs


def _platform_workloads(topo: Topology, now: str) -> list[dict]:
    spec = _load("workloads.yaml")
    return [o for w in spec["workloads"] for o in _workload({**spec["defaults"], **w}, topo, now)]


def _tenant(tenant: dict, spec: dict, topo: Topology, now: str, rr: list[int]) -> list[dict]:
    ns = tenant["namespace"]
    labels = tenant.get("labels") or {}
    ambient = labels.get("istio.io/dataplane-mode") == "ambient"
    apps = []
    for app in tenant["apps"]:
        entry = {**spec["app_defaults"], **app, "namespace": ns}
        entry = {k: Template(v).safe_substitute(namespace=ns, name=entry["name"]) if isinstance(v, str) else v
                 for k, v in entry.items()}
        if "node" not in entry:  # generated tenants: round-robin over the workers
            entry["node"] = topo.workers[rr[0] % len(topo.workers)]
            rr[0] += 1
        port = entry.pop("port")
        entry.setdefault("labels", {"app": entry["name"]})
        entry.setdefault("selector", {"app": entry["name"]})
        entry.setdefault("ports", [{"name": "http", "containerPort": port, "protocol": "TCP"}])
        entry.setdefault("service_ports", [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}])
        if ambient and entry["labels"].get("istio.io/dataplane-mode") != "none":
            entry["pod_annotations"] = spec["ambient_pod_annotations"]
        apps.append(entry)

    app_ports = sorted({p["containerPort"] for a in apps for p in a["ports"]} - {15008})
    variables = {"namespace": ns, "namespace_labels": labels, "now": now,
                 "waypoint": tenant.get("waypoint", ""),
                 "app_ports": [{"protocol": "TCP", "port": p} for p in app_ports],
                 "mesh_ports": [{"protocol": "TCP", "port": p} for p in [15008, *app_ports]]}
    objs = _render_file("templates/tenant-namespace.yaml", variables)
    if tenant.get("workload_identity"):
        objs += _render_file("templates/tenant-enrolled.yaml", variables)
        objs += _render_file(tenant.get("network_policies", "templates/tenant-networkpolicies.yaml"), variables)
    for extra in tenant.get("extra", []):
        objs += _render_file(extra, variables)
    for entry in apps:
        objs += _workload(entry, topo, now)
    for done in tenant.get("finished_pods", []):
        objs += _finished_pod(done, next(a for a in apps if a["name"] == done["of"]), topo, now)
    _waypoint_bound(objs, labels.get("istio.io/use-waypoint"), ns, now)
    return objs


def _pod_condition(ctype: str, status: str, now: str, reason: str = "", message: str = "") -> dict:
    return {"type": ctype, "status": status, "lastTransitionTime": now,
            **({"reason": reason} if reason else {}), **({"message": message} if message else {})}


def _finished_pod(done: dict, app: dict, topo: Topology, now: str) -> list[dict]:
    """A `finished_pods` entry -> the pod the kubelet finished with (and its Job, for a Job's pod):
    Succeeded with every container Completed, or Failed as the eviction manager leaves it
    (reason Evicted, a DisruptionTarget condition, containers killed)."""
    ns, node = app["namespace"], done.get("node", app["node"])
    succeeded = done["phase"] == "Succeeded"
    objs = []
    if "job" in done:
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": done["job"]}
        pod_labels, pod_name = {"job-name": done["job"]}, f"{done['job']}-{_token(ns + done['job'], 5)}"
        objs += _render_file("templates/job.yaml", {"job": done["job"], "namespace": ns, "now": now,
                                                    "service_account": app["name"], "container": done["job"],
                                                    "image": app["image"]})
        container = done["job"]
    else:
        rs_hash = _rs_hash(ns, app["name"])
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app['name']}-{rs_hash}"}
        pod_labels = {**app["labels"], "pod-template-hash": rs_hash}
        pod_name = f"{app['name']}-{rs_hash}-" + _token(f"{ns}/{app['name']}/{done['phase']}", 5)
        container = app.get("container", app["name"])
    unready = "PodCompleted" if succeeded else "PodFailed"
    conditions = ([] if succeeded else [_pod_condition("DisruptionTarget", "True", now, "TerminationByKubelet",
                                                       done.get("message", ""))]) + [
        _pod_condition("PodReadyToStartContainers", "False", now), _pod_condition("Initialized", "True", now),
        _pod_condition("Ready", "False", now, unready), _pod_condition("ContainersReady", "False", now, unready),
        _pod_condition("PodScheduled", "True", now)]
    objs += _render_file("templates/finished-pod.yaml", {
        "pod_name": pod_name, "namespace": ns, "pod_labels": pod_labels, "node": node, "now": now,
        "pod_annotations": app.get("pod_annotations") or {},
        "owner": [{**owner, "controller": True, "blockOwnerDeletion": True}],
        "service_account": app["name"], "restart_policy": "Never" if succeeded else "Always",
        "container": container, "image": app["image"], "phase": done["phase"],
        "reason": done.get("reason", ""), "message": done.get("message", ""),
        "internal_ip": topo.internal_ip(node), "pod_ip": topo.pod_ip(node), "conditions": conditions,
        "container_id": _hex(f"{ns}/{pod_name}"), "exit_code": 0 if succeeded else 137,
        "terminated_reason": "Completed" if succeeded else "Error"})
    return objs


def _waypoint_bound(objs: list[dict], waypoint: str | None, ns: str, now: str) -> None:
    """What istiod writes on each Service of a namespace that uses a waypoint (pilot/pkg/model/
    service.go ServiceInfo.GetConditions): istio.io/WaypointBound True, reason WaypointAccepted.
    The waypoint's own Service and gateway Services are not bound to it."""
    if not waypoint:
        return
    for svc in (o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] != waypoint
                and "gateway.networking.k8s.io/gateway-name" not in (o["spec"].get("selector") or {})):
        svc["status"] = {"conditions": [{
            "type": "istio.io/WaypointBound", "status": "True", "reason": "WaypointAccepted",
            "message": f"Successfully attached to waypoint {ns}/{waypoint}.{ns}.svc.cluster.local",
            "lastTransitionTime": now, "observedGeneration": 0}]}


def _generated(entry: dict, count: int) -> list[dict]:
    """`count` copies of a `generated*` entry of tenants.yaml, named by index (0000, 0001, ...)."""
    out = []
    for i in range(count):
        tenant = copy.deepcopy(entry)
        tenant["namespace"] = Template(tenant["namespace"]).substitute(index=f"{i:04d}")
        out.append(tenant)
    return out


def render(nodes: int = DEFAULT_NODES, extra_tenants: int = 0, now: str | None = None, slot: int = 0,
           extra_namespaces: int = 0) -> list[dict]:
    """Every object of the twin, in creation order. Pure: no API calls.

    extra_tenants adds ambient tenants (`generated`); extra_namespaces adds namespaces outside the
    mesh (`generated_outside_mesh`), so a benchmark twin has a shared cluster's namespace count."""
    now = now or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    topo = Topology(_load("nodes.yaml"), nodes, slot)
    ready = len(topo.names) - len(rebooting_nodes(topo))
    objs = _render_file("cluster.yaml", {"now": now, "node_count": len(topo.names), "ready_count": ready,
                                         "unready_count": len(topo.names) - ready})
    objs += _nodes(topo, now)
    objs += _platform_workloads(topo, now)
    spec = _load("tenants.yaml")
    rr = [0]
    tenants = list(spec["tenants"]) + _generated(spec["generated"], extra_tenants) + \
        _generated(spec["generated_outside_mesh"], extra_namespaces)
    for tenant in tenants:
        objs += _tenant(tenant, spec, topo, now, rr)
    objs.sort(key=lambda o: _ORDER[o["kind"]])  # stable: keeps file order within a kind
    return objs


# --- applying --------------------------------------------------------------------------------

def key(obj: dict) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def owner_uid(obj: dict, ref: dict, uids: dict) -> str | None:
    """The uid of the owner `ref` (one of obj's ownerReferences) names, in the object's namespace
    or cluster-scoped; None when no such object exists. Also used by lab/reconcile.py."""
    ns = obj["metadata"].get("namespace", "") if kind_of(obj).namespaced else ""
    return uids.get((ref["kind"], ns, ref["name"])) or uids.get((ref["kind"], "", ref["name"]))


def _resolve_owners(obj: dict, uids: dict) -> None:
    for ref in obj["metadata"].get("ownerReferences", []):
        owner = owner_uid(obj, ref, uids)
        if owner is None:
            raise LookupError(f"owner {ref['kind']}/{ref['name']} of {key(obj)} does not exist")
        ref["uid"] = owner


def _with_generation(status: dict, generation: int) -> dict:
    """Controllers stamp the generation they acted on: status.observedGeneration, and per
    condition for Gateway API kinds."""
    status = copy.deepcopy(status)
    if "observedGeneration" in status:
        status["observedGeneration"] = generation
    for conds in [status.get("conditions", [])] + [l.get("conditions", []) for l in status.get("listeners", [])]:
        for c in conds:
            if "observedGeneration" in c:
                c["observedGeneration"] = generation
    return status


def write_status(api: Api, live: dict, status: dict) -> dict:
    """Writes status as its controller would; on a conflict (the node agent touched a pod the lab
    just created) re-reads the object and writes again, as a controller's next sync would."""
    for attempt in _retry_conflict:
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                live = api.get(kind_of(live).path(live["metadata"]["name"], live["metadata"].get("namespace")))
            body = dict(live)
            body["status"] = _with_generation(status, live["metadata"].get("generation", 1))
            if live["kind"] == "Pod" and "qosClass" in live.get("status", {}):
                body["status"].setdefault("qosClass", live["status"]["qosClass"])  # set by the API server
            return api.replace(body, "status")


_retry_conflict = polling(attempts=5, every=0.1, retry=tenacity.retry_if_exception(
    lambda e: isinstance(e, ApiException) and e.status == 409))


# A CRD can be Established a moment before its REST endpoint answers: retry 404 briefly.
_retry_new_kind = polling(10, retry=tenacity.retry_if_exception(
    lambda e: isinstance(e, ApiException) and e.status == 404))


def create(api: Api, obj: dict, uids: dict) -> dict:
    obj = copy.deepcopy(obj)
    status = obj.pop("status", None)
    _resolve_owners(obj, uids)
    live = _retry_new_kind(api.create, obj)
    live["kind"], live["apiVersion"] = obj["kind"], obj["apiVersion"]
    if obj["kind"] == "Node" and live["spec"].get("taints") != obj["spec"].get("taints"):
        # Admission (TaintNodesByCondition) taints every new Node not-ready; the node lifecycle
        # controller lifts that taint once the kubelet reports Ready, which the twin's nodes are.
        live["spec"]["taints"] = obj["spec"].get("taints")
        live = api.replace(live)
        live["kind"], live["apiVersion"] = obj["kind"], obj["apiVersion"]
    if status is not None:
        live = write_status(api, live, status)
        live["kind"], live["apiVersion"] = obj["kind"], obj["apiVersion"]
    uids[key(obj)] = live["metadata"]["uid"]
    return live


def apply(api: Api, objs: list[dict], uids: dict | None = None) -> dict:
    """Creates objects kind by kind (parallel within a kind). Returns the uid map."""
    uids = {} if uids is None else uids
    by_kind: dict[str, list[dict]] = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], []).append(obj)
    with ThreadPoolExecutor(WORKERS) as pool:
        for kind in sorted(by_kind, key=_ORDER.__getitem__):
            list(pool.map(lambda o: create(api, o, uids), by_kind[kind]))
    return uids


def seed(api: Api, nodes: int = DEFAULT_NODES, extra_tenants: int = 0, slot: int = 0,
         extra_namespaces: int = 0) -> list[dict]:
    """Seeds the healthy twin into an empty lab; returns the rendered objects."""
    objs = render(nodes, extra_tenants, slot=slot, extra_namespaces=extra_namespaces)
    apply(api, objs)
    return objs


def namespaces(objs: list[dict]) -> set[str]:
    return {o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"}


def save_params(path: Path, nodes: int, extra_tenants: int, slot: int = 0, extra_namespaces: int = 0) -> None:
    path.write_text(json.dumps({"nodes": nodes, "extra_tenants": extra_tenants, "slot": slot,
                                "extra_namespaces": extra_namespaces}) + "\n")


def load_params(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"nodes": DEFAULT_NODES, "extra_tenants": 0, "slot": 0, "extra_namespaces": 0}
