"""Named faults: each mutates the running twin the way one of the runbook's failure modes shows up
on a real cluster (objects, statuses, events written as kubelet, the DaemonSet/Deployment
controllers, istio-cni, istiod, the sail-operator and OLM would write them), and nothing else.

    from lab import faults
    faults.FAULTS                         # name -> one-line description
    faults.apply("csv-failed", kubeconfig)
    faults.reset(kubeconfig)              # back to the healthy twin, exactly

Sail-operator semantics (istio-ecosystem/sail-operator `controllers/istiocni/istiocni_controller.go`,
`controllers/ztunnel/ztunnel_controller.go`, `controllers/istiorevision/istiorevision_controller.go`,
`controllers/istio/istio_controller.go`, `pkg/revision/dependency.go`): IstioCNI/ZTunnel Ready follows
their DaemonSet; IstioRevision Ready follows istiod, DependenciesHealthy follows IstioCNI/ZTunnel
state; Istio copies its active revision's conditions and state; `state` is the reason of the first
condition that is not True; reason/message are empty while True.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Callable

from lab import control_plane, prometheus, reconcile, seed
from lab.kubeapi import _BY_KIND as _KIND, Api  # kubeapi's kind index, not a copy
from lab.paths import LabPaths
from lab.wait import until

PILOT = "bank-employees-jboss-chat"
DEMO = "ossm3-demo"
WAYPOINT_NS = "apps-team-x"
DEGRADED_NODE = "spoke-dc-v6-worker-2"
PLAINTEXT_NODE = "spoke-dc-v6-worker-1"
UNKNOWN_AMBIENT_NS = "team-sandbox-ambient"

FAULTS: dict[str, str] = {}
_APPLY: dict[str, Callable[[Api], None]] = {}


def fault(name: str, description: str):
    def register(fn):
        FAULTS[name] = description
        _APPLY[name] = fn
        return fn
    return register


def apply(name: str, kubeconfig: Path | str) -> None:
    if name not in _APPLY:
        raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    api = Api(kubeconfig)
    try:
        _APPLY[name](api)
    finally:
        api.close()


def reset(kubeconfig: Path | str) -> int:
    """Restores the healthy twin of the lab that owns `kubeconfig`; returns the number of changes.
    Returns once the lab's Prometheus scrapes every running ztunnel again (see _scraped_again)."""
    api = Api(kubeconfig)
    paths = LabPaths(Path(kubeconfig).resolve().parent)
    try:
        changes = reconcile.reset(api, paths)
        if changes:
            _scraped_again(api, paths)
        return changes
    finally:
        api.close()


# A ztunnel pod the reset recreated is a new Prometheus target: until it has two samples in the
# window, increase() has nothing for it and the suite's Prometheus source rightly calls its edges
# unobserved. The lab tests look back 3 s (tests/lab/test_suite_on_twin.py --mtls-window).
SCRAPED_WINDOW_S, SCRAPED_WAIT_S = 3, 30


def _scraped_again(api: Api, paths: LabPaths) -> None:
    url = control_plane.read_env(paths).get("LAB_PROMETHEUS_URL")
    if not url or "prometheus" not in control_plane.running(paths):
        return
    pods = {p["metadata"]["name"] for p in _pods(api, "ztunnel", prefix="ztunnel-")
            if p.get("status", {}).get("phase") == "Running"}
    until(lambda: pods <= prometheus.scraped_twice_in_last(url, SCRAPED_WINDOW_S), SCRAPED_WAIT_S,
          f"the lab's Prometheus to scrape every ztunnel twice in {SCRAPED_WINDOW_S} s after the reset")


# --- helpers: read and write as the controllers do -------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(api: Api, kind: str, name: str, namespace: str | None = None) -> dict:
    obj = api.get(_KIND[kind].path(name, namespace))
    obj["kind"], obj["apiVersion"] = kind, _KIND[kind].api_version
    return obj


def _pods(api: Api, namespace: str, node: str | None = None, prefix: str = "") -> list[dict]:
    return [p for p in api.list(_KIND["Pod"], namespace)
            if p["metadata"]["name"].startswith(prefix) and (node is None or p["spec"].get("nodeName") == node)]


def _delete(api: Api, kind: str, name: str, namespace: str | None = None) -> None:
    api.delete(_KIND[kind].path(name, namespace))


def _set_condition(conditions: list[dict], ctype: str, status: str, reason: str = "", message: str = "",
                   **extra) -> None:
    now = _now()
    for c in conditions:
        if c["type"] == ctype:
            if c["status"] != status:
                c["lastTransitionTime"] = now
            break
    else:
        c = {"type": ctype, "lastTransitionTime": now}
        conditions.append(c)
    c["status"] = status
    for field, value in (("reason", reason), ("message", message)):
        if value:
            c[field] = value
        else:
            c.pop(field, None)
    c.update(extra)


def _state(status: dict, order: tuple[str, ...]) -> str:
    conds = {c["type"]: c for c in status.get("conditions", [])}
    for ctype in order:
        c = conds.get(ctype)
        if c and c["status"] != "True":
            return c.get("reason", "")
    return "Healthy"


def _sail_update(api: Api, kind: str, name: str, **conditions: tuple[str, str, str]) -> dict:
    """Sets conditions (type -> (status, reason, message)) on a sail CR and derives its state."""
    obj = _get(api, kind, name)
    status = copy.deepcopy(obj["status"])
    for ctype, (st, reason, message) in conditions.items():
        _set_condition(status["conditions"], ctype, st, reason, message)
    order = ("Reconciled", "Ready", "DependenciesHealthy") if kind in ("Istio", "IstioRevision") else ("Reconciled", "Ready")
    status["state"] = _state(status, order)
    return seed.write_status(api, obj, status)


def _istio_follows_revision(api: Api, istio: str = "default") -> None:
    """Istio copies Reconciled/Ready/DependenciesHealthy and state from its active revision."""
    rev = _get(api, "IstioRevision", istio)
    obj = _get(api, "Istio", istio)
    status = copy.deepcopy(obj["status"])
    rev_conds = {c["type"]: c for c in rev["status"]["conditions"]}
    for ctype in ("Reconciled", "Ready", "DependenciesHealthy"):
        c = rev_conds[ctype]
        _set_condition(status["conditions"], ctype, c["status"], c.get("reason", ""), c.get("message", ""))
    status["state"] = rev["status"]["state"]
    in_use = rev_conds.get("InUse", {}).get("status") == "True"
    status["revisions"] = {"total": 1, "ready": int(rev_conds["Ready"]["status"] == "True"), "inUse": int(in_use)}
    seed.write_status(api, obj, status)


def _event(api: Api, obj: dict, reason: str, message: str, component: str, host: str | None = None,
           count: int = 1, etype: str = "Warning") -> None:
    now = _now()
    meta = obj["metadata"]
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta["uid"],
                           "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message, "type": etype, "count": count,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": component, **({"host": host} if host else {})},
        "reportingComponent": component, "reportingInstance": host or "",
    }
    if obj["kind"] == "Pod" and obj["spec"].get("containers"):
        event["involvedObject"]["fieldPath"] = f"spec.containers{{{obj['spec']['containers'][0]['name']}}}"
    api.create(event)


def _pod_not_ready(api: Api, pod: dict, restarts: int = 0, waiting: str | None = None) -> dict:
    """What the kubelet reports for a pod whose probes fail: Ready/ContainersReady False, and with
    restarts, a container that keeps being restarted."""
    pod["kind"], pod["apiVersion"] = "Pod", "v1"
    status = copy.deepcopy(pod["status"])
    names = [c["name"] for c in pod["spec"]["containers"]]
    msg = f"containers with unready status: [{' '.join(names)}]"
    _set_condition(status["conditions"], "Ready", "False", "ContainersNotReady", msg)
    _set_condition(status["conditions"], "ContainersReady", "False", "ContainersNotReady", msg)
    now = _now()
    for cs in status.get("containerStatuses", []):
        cs["ready"] = False
        if restarts:
            cs["restartCount"] = cs.get("restartCount", 0) + restarts
            cs["lastState"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": now,
                                              "finishedAt": now, "containerID": cs.get("containerID")}}
        if waiting:
            cs["started"] = False
            cs["state"] = {"waiting": {"reason": waiting,
                                       "message": f"back-off 2m40s restarting failed container={cs['name']} "
                                                  f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"}}
    return seed.write_status(api, pod, status)


def _daemonset_unready(api: Api, namespace: str, name: str, unready: int) -> None:
    ds = _get(api, "DaemonSet", namespace=namespace, name=name)
    status = copy.deepcopy(ds["status"])
    # On top of what is already unready (the twin's rebooting node).
    status["numberReady"] = status["numberReady"] - unready
    status["numberAvailable"] = status["numberAvailable"] - unready
    status["numberUnavailable"] = status.get("numberUnavailable", 0) + unready
    seed.write_status(api, ds, status)


def _deployment_unavailable(api: Api, namespace: str, name: str, progress_deadline: bool = False) -> None:
    dep = _get(api, "Deployment", name, namespace)
    status = copy.deepcopy(dep["status"])
    # Zero counts are omitted from a Deployment's status (omitempty), as the controller writes it.
    status.pop("readyReplicas", None)
    status.pop("availableReplicas", None)
    status["unavailableReplicas"] = status.get("replicas", 1)
    _set_condition(status["conditions"], "Available", "False", "MinimumReplicasUnavailable",
                   "Deployment does not have minimum availability.", lastUpdateTime=_now())
    if progress_deadline:
        rs = next(c for c in status["conditions"] if c["type"] == "Progressing")["message"].split('"')[1]
        _set_condition(status["conditions"], "Progressing", "False", "ProgressDeadlineExceeded",
                       f'ReplicaSet "{rs}" has timed out progressing.', lastUpdateTime=_now())
    seed.write_status(api, dep, status)
    for rs in api.list(_KIND["ReplicaSet"], namespace):
        if any(o["name"] == name for o in rs["metadata"].get("ownerReferences", [])):
            rs_status = copy.deepcopy(rs["status"])
            rs_status.pop("readyReplicas", None)
            rs_status.pop("availableReplicas", None)
            seed.write_status(api, rs, rs_status)


def _relabel(api: Api, kind: str, name: str, namespace: str | None = None, labels: dict | None = None,
             annotations: dict | None = None) -> None:
    """Merge-patches metadata; a None value removes the key."""
    meta = {k: v for k, v in (("labels", labels), ("annotations", annotations)) if v}
    api.patch(_KIND[kind].path(name, namespace), {"metadata": meta})


def _drop_redirection(api: Api, pods: list[dict]) -> None:
    """istio-cni removes the annotation when it stops (or never starts) redirecting a pod."""
    for pod in pods:
        if "ambient.istio.io/redirection" in pod["metadata"].get("annotations", {}):
            _relabel(api, "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"],
                     annotations={"ambient.istio.io/redirection": None})


def _ambient_pods_on(api: Api, node: str) -> list[dict]:
    ambient = {n["metadata"]["name"] for n in api.list(_KIND["Namespace"])
               if n["metadata"].get("labels", {}).get("istio.io/dataplane-mode") == "ambient"}
    return [p for p in api.list(_KIND["Pod"]) if p["metadata"]["namespace"] in ambient
            and p["spec"].get("nodeName") == node
            and "ambient.istio.io/redirection" in p["metadata"].get("annotations", {})]


def _revision_dependencies(api: Api) -> None:
    """IstioRevision DependenciesHealthy as the sail-operator derives it: IstioCNI is checked first,
    then ZTunnel; the first whose state is not Healthy gives the reason
    (controllers/istiorevision/istiorevision_controller.go)."""
    condition = ("True", "", "")
    for kind, reason in (("IstioCNI", "IstioCNINotHealthy"), ("ZTunnel", "ZTunnelNotHealthy")):
        if _get(api, kind, "default")["status"]["state"] != "Healthy":
            condition = ("False", reason, f"{kind} resource status indicates that the component is not healthy")
            break
    _sail_update(api, "IstioRevision", "default", DependenciesHealthy=condition)
    _istio_follows_revision(api)


def _daemonset_pod_unready(api: Api, namespace: str, ds: str, prefix: str, node: str, cr_kind: str,
                           message: str) -> None:
    """One DaemonSet pod fails its readiness probe; the controllers above it react."""
    pod = _pods(api, namespace, node=node, prefix=prefix)[0]
    pod = _pod_not_ready(api, pod, restarts=3)
    probe = pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]
    _event(api, pod, "Unhealthy",
           f'Readiness probe failed: Get "http://{pod["status"]["podIP"]}:{probe["port"]}{probe["path"]}": '
           f"dial tcp {pod['status']['podIP']}:{probe['port']}: connect: connection refused",
           "kubelet", node, count=12)
    _daemonset_unready(api, namespace, ds, 1)
    _sail_update(api, cr_kind, "default", Ready=("False", "DaemonSetNotReady", message))
    _revision_dependencies(api)


def _policy_condition(api: Api, namespace: str, name: str, ctype: str, status: str, reason: str, message: str) -> None:
    """What istiod's status writer puts on an AuthorizationPolicy (one condition per type)."""
    policy = _get(api, "AuthorizationPolicy", name, namespace)
    new = copy.deepcopy(policy.get("status") or {"conditions": []})
    _set_condition(new.setdefault("conditions", []), ctype, status, reason, message,
                   observedGeneration=policy["metadata"].get("generation", 1))
    seed.write_status(api, policy, new)


# --- the faults ------------------------------------------------------------------------------

@fault("ztunnel-rbac-missing",
       f"{PILOT} enrolled without its ztunnel-workload-identity Role/RoleBinding (the bank-payment "
       "story): CSRs fail with impersonation errors, every pod fails its probes")
def _ztunnel_rbac_missing(api: Api) -> None:
    _delete(api, "RoleBinding", "ztunnel-workload-identity", PILOT)
    _delete(api, "Role", "ztunnel-workload-identity", PILOT)
    for pod in _pods(api, PILOT):
        pod = _pod_not_ready(api, pod, restarts=5)
        sa, node = pod["spec"]["serviceAccountName"], pod["spec"]["nodeName"]
        _event(api, pod, "Unhealthy", "Readiness probe failed: command timed out after 1s", "kubelet", node, 30)
        _event(api, pod, "BackOff", f"Back-off restarting failed container {pod['spec']['containers'][0]['name']} "
               f"in pod {pod['metadata']['name']}_{PILOT}({pod['metadata']['uid']})", "kubelet", node, 9)
        # Lab-specific: ztunnel does not post Events; this records the istiod CSR error the
        # runbook quotes so the failure is visible through the API.
        _event(api, pod, "WorkloadCertificateFailed",
               f"ztunnel could not fetch a certificate for spiffe://cluster.local/ns/{PILOT}/sa/{sa}: "
               "istiod CSR rejected: request impersonation authentication failure", "ztunnel", node, 30)
    for dep in api.list(_KIND["Deployment"], PILOT):
        _deployment_unavailable(api, PILOT, dep["metadata"]["name"])


@fault("cni-daemonset-degraded",
       f"istio-cni-node on {DEGRADED_NODE} not Ready (beside the rebooting node): DaemonSet 4/6, IstioCNI "
       "DaemonSetNotReady, Istio DependenciesHealthy False (IstioCNINotHealthy)")
def _cni_degraded(api: Api) -> None:
    _daemonset_pod_unready(api, "istio-cni", "istio-cni-node", "istio-cni-node-", DEGRADED_NODE, "IstioCNI",
                           "not all istio-cni-node pods are ready")


@fault("ztunnel-daemonset-degraded",
       f"ztunnel on {DEGRADED_NODE} not Ready (beside the rebooting node): DaemonSet 4/6, ZTunnel "
       "DaemonSetNotReady; Istio keeps reporting IstioCNINotHealthy (CNI is checked first)")
def _ztunnel_degraded(api: Api) -> None:
    _daemonset_pod_unready(api, "ztunnel", "ztunnel", "ztunnel-", DEGRADED_NODE, "ZTunnel",
                           "not all ztunnel pods are ready")


@fault("namespace-unlabelled",
       f"{PILOT} lost istio.io/dataplane-mode=ambient; istio-cni removed its pods' redirection annotation")
def _namespace_unlabelled(api: Api) -> None:
    _relabel(api, "Namespace", PILOT, labels={"istio.io/dataplane-mode": None})
    _drop_redirection(api, _pods(api, PILOT))


_PROXY_IMAGE = "registry.redhat.io/openshift-service-mesh/istio-proxyv2-rhel9:1.28.10"


def _injected_pod(api: Api, namespace: str, name: str, node: str, pod_ip: str, native: bool = False,
                  labels: dict | None = None, pod_annotations: dict | None = None) -> None:
    """A workload whose pod the sidecar injector (istio/istio pkg/kube/inject) mutated at admission:
    istio-proxy as a container, or as a native sidecar (an initContainers entry with restartPolicy
    Always, after istio-validation); the Deployment's template stays as the user wrote it. istio-cni
    never enrols a pod with a sidecar (cni/pkg/util/enablement_selector.go), so no redirection
    annotation. The revision the pod references becomes InUse."""
    topo = seed.Topology(seed._load("nodes.yaml"), seed.DEFAULT_NODES)
    spec = seed._load("tenants.yaml")
    entry = {**spec["app_defaults"], "name": name, "namespace": namespace, "node": node,
             "labels": {"app": name, **(labels or {})}, "selector": {"app": name},
             "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}
    entry.pop("port")
    entry["image"] = f"image-registry.openshift-image-registry.svc:5000/{namespace}/{name}:latest"
    objs = seed._workload(entry, topo, _now())
    pod = next(o for o in objs if o["kind"] == "Pod")
    pod["metadata"]["labels"].update({"security.istio.io/tlsMode": "istio",
                                      "service.istio.io/canonical-name": name,
                                      "service.istio.io/canonical-revision": "latest"})
    init = ["istio-validation", "istio-proxy"] if native else ["istio-validation"]
    containers = "[]" if native else '["istio-proxy"]'
    pod["metadata"]["annotations"] = {
        **(pod_annotations or {}),
        "sidecar.istio.io/status": f'{{"initContainers":{json.dumps(init, separators=(",", ":"))},'
                                   f'"containers":{containers},'
                                   '"volumes":["workload-socket","credential-socket","workload-certs",'
                                   '"istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],'
                                   '"imagePullSecrets":null,"revision":"default"}'}
    proxy = {"name": "istio-proxy", "image": _PROXY_IMAGE, "args": ["proxy", "sidecar"],
             "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}]}
    validation = {"name": "istio-validation", "image": _PROXY_IMAGE, "args": ["istio-iptables", "--run-validation"]}
    app_status = pod["status"]["containerStatuses"][0]
    proxy_status = {**copy.deepcopy(app_status), "name": "istio-proxy", "image": _PROXY_IMAGE, "imageID": _PROXY_IMAGE}
    done = {**copy.deepcopy(app_status), "name": "istio-validation", "image": _PROXY_IMAGE, "imageID": _PROXY_IMAGE,
            "ready": True, "started": False,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _now(), "finishedAt": _now()}}}
    if native:
        pod["spec"]["initContainers"] = [validation, {**proxy, "restartPolicy": "Always"}]
        pod["status"]["initContainerStatuses"] = [done, proxy_status]
    else:
        pod["spec"]["initContainers"] = [validation]
        pod["spec"]["containers"].append(proxy)
        pod["status"]["initContainerStatuses"] = [done]
        pod["status"]["containerStatuses"].append(proxy_status)
    pod["status"]["podIP"] = pod["status"]["podIPs"][0]["ip"] = pod_ip
    uids: dict = {}
    for o in objs:
        seed.create(api, o, uids)
    _sail_update(api, "IstioRevision", "default", InUse=(
        "True", "ReferencedByWorkloads", "Referenced by at least one pod or namespace"))
    _istio_follows_revision(api)


@fault("mixed-mode-namespace",
       f"{DEMO} also labelled istio-injection=enabled, with a sidecar-injected pod (istio-proxy "
       "container); the revision becomes InUse")
def _mixed_mode(api: Api) -> None:
    _relabel(api, "Namespace", DEMO, labels={"istio-injection": "enabled"})
    # Classic, not native: ENABLE_NATIVE_SIDECARS defaults to "auto" and the twin's kubelets are
    # v1.32 (OpenShift 4.19), below the 1.33 auto-detection needs (pkg/kube/inject/webhook.go).
    _injected_pod(api, DEMO, "demo-legacy", "spoke-dc-v6-worker-0", "10.128.6.200")


@fault("waypoint-missing-for-l7-policy",
       f"the waypoint Gateway of {WAYPOINT_NS} (and the Deployment/Pod istiod made for it) is gone; "
       "the L7 AuthorizationPolicy still targets it")
def _waypoint_missing(api: Api) -> None:
    _delete(api, "Gateway", "waypoint", WAYPOINT_NS)
    # istiod's deployment controller removes what it generated for the Gateway.
    for kind in ("Service", "Deployment", "ServiceAccount"):
        _delete(api, kind, "waypoint", WAYPOINT_NS)
    for rs in api.list(_KIND["ReplicaSet"], WAYPOINT_NS):
        if rs["metadata"]["name"].startswith("waypoint-"):
            _delete(api, "ReplicaSet", rs["metadata"]["name"], WAYPOINT_NS)
    for pod in _pods(api, WAYPOINT_NS, prefix="waypoint-"):
        _delete(api, "Pod", pod["metadata"]["name"], WAYPOINT_NS)
    # istiod's policy status collection: the Gateway target is gone, web is no longer bound
    # (pilot/pkg/model/service.go WaypointPolicyReasonTargetNotFound / AncestorNotBound).
    _policy_condition(api, WAYPOINT_NS, "web-l7-read-only", "WaypointAccepted", "False", "TargetNotFound",
                      f"Gateway {WAYPOINT_NS}/waypoint was not found")
    _policy_condition(api, WAYPOINT_NS, "web-deny-admin", "WaypointAccepted", "False", "AncestorNotBound",
                      f"Service {WAYPOINT_NS}/web is not bound to a waypoint")


@fault("istiod-networkpolicy-blocks-xds",
       "istio-system's ingress allowance for istiod 'tightened' to its own namespace: ztunnel and the "
       "waypoints can no longer dial istiod:15012 for xDS and certificates")
def _istiod_np_blocks_xds(api: Api) -> None:
    api.patch(_KIND["NetworkPolicy"].path("istiod-allow-ingress", "istio-system"), {"spec": {"ingress": [
        {"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 15010, "endPort": 15014}]},
        {"ports": [{"protocol": "TCP", "port": 15017}]}]}})


@fault("istiod-networkpolicy-blocks-apiserver",
       "istio-system's egress allowance for istiod replaced by a deny-all-egress NetworkPolicy: istiod is "
       "cut off the Kubernetes API and DNS, so it has nothing to push")
def _istiod_np_blocks(api: Api) -> None:
    _delete(api, "NetworkPolicy", "istiod-allow-egress", "istio-system")
    api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "istiod-default-deny-egress", "namespace": "istio-system"},
                "spec": {"podSelector": {"matchLabels": {"app": "istiod"}}, "policyTypes": ["Egress"]}})


@fault("peerauthentication-missing", f"{PILOT}'s PeerAuthentication `default` (STRICT) deleted")
def _pa_missing(api: Api) -> None:
    _delete(api, "PeerAuthentication", "default", PILOT)


@fault("peerauthentication-permissive", f"{PILOT}'s PeerAuthentication `default` set to PERMISSIVE")
def _pa_permissive(api: Api) -> None:
    api.patch(_KIND["PeerAuthentication"].path("default", PILOT), {"spec": {"mtls": {"mode": "PERMISSIVE"}}})


@fault("csv-failed",
       "servicemeshoperator3.v3.3.7 CSV Failed (InstallComponentFailed); its operator Deployment "
       "unavailable, the pod in CrashLoopBackOff")
def _csv_failed(api: Api) -> None:
    ns, dep = "openshift-operators", "servicemesh-operator3"
    for pod in _pods(api, ns, prefix=f"{dep}-"):
        pod = _pod_not_ready(api, pod, restarts=6, waiting="CrashLoopBackOff")
        _event(api, pod, "BackOff", f"Back-off restarting failed container sail-operator in pod "
               f"{pod['metadata']['name']}_{ns}({pod['metadata']['uid']})", "kubelet", pod["spec"]["nodeName"], 20)
    _deployment_unavailable(api, ns, dep, progress_deadline=True)
    csv = _get(api, "ClusterServiceVersion", "servicemeshoperator3.v3.3.7", ns)
    status = copy.deepcopy(csv["status"])
    now = _now()
    message = (f"install failed: deployment {dep} not ready before timeout: deployment \"{dep}\" "
               "exceeded its progress deadline")
    status.update(phase="Failed", reason="InstallComponentFailed", message=message,
                  lastUpdateTime=now, lastTransitionTime=now)
    status["conditions"].append({"phase": "Failed", "reason": "InstallComponentFailed", "message": message,
                                 "lastUpdateTime": now, "lastTransitionTime": now})
    seed.write_status(api, csv, status)
    _event(api, csv, "InstallComponentFailed", message, "operator-lifecycle-manager")


@fault("istio-not-ready",
       "istiod 0/1 ready: IstioRevision and Istio `default` Ready False (IstiodNotReady)")
def _istio_not_ready(api: Api) -> None:
    for pod in _pods(api, "istio-system", prefix="istiod-"):
        pod = _pod_not_ready(api, pod, restarts=2)
        _event(api, pod, "Unhealthy", f'Readiness probe failed: Get "http://{pod["status"]["podIP"]}:8080/ready": '
               "context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
               "kubelet", pod["spec"]["nodeName"], 15)
    _deployment_unavailable(api, "istio-system", "istiod")
    _sail_update(api, "IstioRevision", "default", Ready=("False", "IstiodNotReady", "not all istiod pods are ready"))
    _istio_follows_revision(api)


@fault("plaintext-traffic",
       f"CNI plugin not active on {PLAINTEXT_NODE}: its istio-cni-node pod not Ready and the ambient "
       "pods there (bff, ...) not redirected, so their traffic is plaintext")
def _plaintext(api: Api) -> None:
    _daemonset_pod_unready(api, "istio-cni", "istio-cni-node", "istio-cni-node-", PLAINTEXT_NODE, "IstioCNI",
                           "not all istio-cni-node pods are ready")
    _drop_redirection(api, _ambient_pods_on(api, PLAINTEXT_NODE))


@fault("unknown-ambient-namespace",
       f"a namespace the profile does not know ({UNKNOWN_AMBIENT_NS}) labelled istio.io/dataplane-mode=ambient")
def _unknown_ambient(api: Api) -> None:
    api.create({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": UNKNOWN_AMBIENT_NS, "labels": {"istio.io/dataplane-mode": "ambient"}}})


# Tenant enrolment and workload-identity faults live in their own module; importing it registers them.
from lab import faults_tenants  # noqa: E402,F401
# Faults of the mesh's traffic (denials, accepted plaintext, waypoint hops), likewise.
from lab import faults_traffic  # noqa: E402,F401
# Faults of the platform (#13): DaemonSet placement, waypoints, control-plane NetworkPolicies,
# operators and OpenShift's ambient prerequisites, likewise.
from lab import faults_platform  # noqa: E402,F401
