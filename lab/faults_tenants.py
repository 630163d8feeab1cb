"""Named faults of tenant enrolment and workload identity, as they show up on a real cluster:
pod-level enrolment and opt-outs (istio-cni), sidecars (the injector), ztunnel's RBAC grants,
a pod whose sandbox the CNI chain cannot set up. Registered in lab.faults' FAULTS on import.

Upstream behaviour followed (istio/istio 1.28): istio-cni enrols a pod when the pod or its
namespace carries istio.io/dataplane-mode=ambient, never a pod labelled none nor one with a sidecar
(cni/pkg/util/enablement_selector.go), and removes the redirection annotation from a pod that stops
matching (cni/pkg/nodeagent/server.go, RemovePodFromMesh -> cni/pkg/util/podutil.go,
AnnotateUnenrollPod); bypass-inbound-capture only turns off inbound redirection
(cni/pkg/nodeagent, getPodLevelTrafficOverrides); its CNI plugin fails a pod's sandbox when the
node agent cannot reach ztunnel (cni/pkg/plugin: "istio-cni cmdAdd failed to contact node Istio CNI
agent: unable to push CNI event (status code 500): no ztunnel connection").
"""

from __future__ import annotations

import copy

from lab import seed
from lab.faults import (DEMO, PILOT, _KIND, Api, _drop_redirection, _event, _get, _injected_pod, _now, _pods,
                        _relabel, _set_condition, fault)

EXCLUDED = "bank-payment"
STUCK_NODE = "spoke-dc-v6-worker-0"
_RBAC = "rbac.authorization.k8s.io/v1"
_WORKLOAD_IDENTITY_RULES = [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
                            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]


def _pod_of(api: Api, namespace: str, app: str) -> dict:
    return next(p for p in _pods(api, namespace) if p["metadata"]["labels"].get("app") == app)


@fault("excluded-tenant-pod-enrolled",
       f"{EXCLUDED}'s payment-api pod labelled istio.io/dataplane-mode=ambient by hand: istio-cni enrols "
       "it although the rolled-back namespace carries no ambient label")
def _excluded_pod_enrolled(api: Api) -> None:
    pod = _pod_of(api, EXCLUDED, "payment-api")
    _relabel(api, "Pod", pod["metadata"]["name"], EXCLUDED, labels={"istio.io/dataplane-mode": "ambient"},
             annotations={"ambient.istio.io/redirection": "enabled"})


@fault("ztunnel-cluster-wide-grant",
       "ztunnel's workload-identity rules granted cluster-wide (ClusterRole + ClusterRoleBinding "
       "ztunnel-workload-identity), not per tenant")
def _cluster_wide_grant(api: Api) -> None:
    _grant_ztunnel(api, "ztunnel-workload-identity", _WORKLOAD_IDENTITY_RULES)


def _grant_ztunnel(api: Api, name: str, rules: list[dict], namespace: str | None = None) -> None:
    """A Role + RoleBinding in `namespace` (ClusterRole + ClusterRoleBinding without one), both
    `name`, binding `rules` to ServiceAccount ztunnel/ztunnel."""
    scope = {"namespace": namespace} if namespace else {}
    role_kind = "Role" if namespace else "ClusterRole"
    api.create({"apiVersion": _RBAC, "kind": role_kind, "metadata": {"name": name, **scope},
                "rules": copy.deepcopy(rules)})
    api.create({"apiVersion": _RBAC, "kind": f"{role_kind}Binding", "metadata": {"name": name, **scope},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]})


@fault("tenant-role-over-broad",
       f"{DEMO}'s ztunnel-workload-identity Role widened to every verb on serviceaccounts and "
       "serviceaccounts/token, plus reading secrets")
def _role_over_broad(api: Api) -> None:
    api.patch(_KIND["Role"].path("ztunnel-workload-identity", DEMO), {"rules": [
        {"apiGroups": [""], "resources": ["serviceaccounts", "serviceaccounts/token"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})


@fault("pod-bypasses-inbound-capture",
       f"{PILOT}'s bff pod annotated ambient.istio.io/bypass-inbound-capture=true: still redirected "
       "(outbound), its inbound plaintext no longer intercepted")
def _bypass_inbound(api: Api) -> None:
    # bff only calls out (no profiled edge ends at it): its outbound mTLS is unchanged.
    pod = _pod_of(api, PILOT, "bff")
    _relabel(api, "Pod", pod["metadata"]["name"], PILOT,
             annotations={"ambient.istio.io/bypass-inbound-capture": "true"})


@fault("pod-opted-out",
       f"{DEMO}'s demo-client pod labelled istio.io/dataplane-mode=none: istio-cni un-enrols it, its "
       "calls to demo-server are plaintext and denied by STRICT")
def _pod_opted_out(api: Api) -> None:
    pod = _pod_of(api, DEMO, "demo-client")
    _relabel(api, "Pod", pod["metadata"]["name"], DEMO, labels={"istio.io/dataplane-mode": "none"})
    _drop_redirection(api, [pod])


@fault("native-sidecar-in-ambient-tenant",
       f"a pod in {DEMO} asked for injection (sidecar.istio.io/inject=true, nativeSidecar=true): "
       "istio-proxy as a native sidecar in initContainers, not enrolled by istio-cni")
def _native_sidecar(api: Api) -> None:
    _injected_pod(api, DEMO, "demo-batch", STUCK_NODE, "10.128.6.201", native=True,
                  labels={"sidecar.istio.io/inject": "true"},
                  pod_annotations={"sidecar.istio.io/nativeSidecar": "true"})


@fault("pod-stuck-container-creating",
       f"{PILOT}'s chat-backend scaled to 2: the new pod stays ContainerCreating on {STUCK_NODE}, "
       "FailedCreatePodSandBox from istio-cni (no ztunnel connection)")
def _stuck_container_creating(api: Api) -> None:
    name = "chat-backend"
    dep = _get(api, "Deployment", name, PILOT)
    api.patch(_KIND["Deployment"].path(name, PILOT), {"spec": {"replicas": 2}})
    dep = _get(api, "Deployment", name, PILOT)
    status = copy.deepcopy(dep["status"])
    status.update(replicas=2, updatedReplicas=2, readyReplicas=1, availableReplicas=1, unavailableReplicas=1)
    # Recreate strategy: no maxUnavailable, so one missing replica makes it unavailable.
    _set_condition(status["conditions"], "Available", "False", "MinimumReplicasUnavailable",
                   "Deployment does not have minimum availability.", lastUpdateTime=_now())
    seed.write_status(api, dep, status)
    rs = next(r for r in api.list(_KIND["ReplicaSet"], PILOT) if r["metadata"]["name"].startswith(f"{name}-"))
    rs_name, template_hash = rs["metadata"]["name"], rs["metadata"]["labels"]["pod-template-hash"]
    api.patch(_KIND["ReplicaSet"].path(rs_name, PILOT), {
        "spec": {"replicas": 2}, "metadata": {"annotations": {"deployment.kubernetes.io/desired-replicas": "2"}}})
    rs = _get(api, "ReplicaSet", rs_name, PILOT)
    seed.write_status(api, rs, {**rs["status"], "replicas": 2, "fullyLabeledReplicas": 2})
    running = _pod_of(api, PILOT, name)
    now = _now()
    pod_name = f"{rs_name}-q7x2m"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": pod_name, "namespace": PILOT, "labels": copy.deepcopy(running["metadata"]["labels"]),
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                                             "uid": rs["metadata"]["uid"], "controller": True,
                                             "blockOwnerDeletion": True}]},
           "spec": {"nodeName": STUCK_NODE, "serviceAccountName": running["spec"]["serviceAccountName"],
                    "containers": copy.deepcopy(running["spec"]["containers"])}}
    pod = api.create(pod)
    pod["kind"], pod["apiVersion"] = "Pod", "v1"
    host_ip = seed.Topology(seed._load("nodes.yaml"), seed.DEFAULT_NODES).internal_ip(STUCK_NODE)
    unready = "containers with unready status: [chat-backend]"
    pod = seed.write_status(api, pod, {
        "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": now,
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "False", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "lastTransitionTime": now, "reason": "ContainersNotReady", "message": unready},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": now, "reason": "ContainersNotReady",
             "message": unready},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}],
        "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "started": False,
                               "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
                              for c in running["spec"]["containers"]]})
    pod["kind"], pod["apiVersion"] = "Pod", "v1"
    _event(api, pod, "Scheduled", f"Successfully assigned {PILOT}/{pod_name} to {STUCK_NODE}", "default-scheduler",
           etype="Normal")
    _event(api, pod, "FailedCreatePodSandBox",
           f"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create pod network sandbox "
           f"k8s_{pod_name}_{PILOT}_{pod['metadata']['uid']}_0({seed._hex(pod_name)}): error adding pod {PILOT}_{pod_name} to "
           'CNI network "multus-cni-network": plugin type="multus-shim" name="multus-cni-network" failed (add): '
           "CmdAdd (shim): CNI request failed with status 400: '[" + f"{PILOT}/{pod_name}" + "] failed to add pod "
           'to CNI network "istio-cni": plugin type="istio-cni" name="istio-cni" failed (add): istio-cni cmdAdd '
           "failed to contact node Istio CNI agent: unable to push CNI event (status code 500): no ztunnel "
           "connection'", "kubelet", STUCK_NODE, count=14)


@fault("ztunnel-extra-grants-in-tenant",
       f"a second Role ztunnel-extras in {PILOT} (get/list/watch secrets, create serviceaccounts/token) "
       "bound to ServiceAccount ztunnel/ztunnel next to the runbook's pattern")
def _extra_grants(api: Api) -> None:
    _grant_ztunnel(api, "ztunnel-extras", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
                                           _WORKLOAD_IDENTITY_RULES[0]], PILOT)


@fault("excluded-tenant-injection-enabled",
       f"{EXCLUDED} relabelled istio-injection=enabled (from the rollback's explicit disabled): istiod's "
       "webhook now injects sidecars into the rolled-back tenant's new pods")
def _excluded_injection_enabled(api: Api) -> None:
    # istio/istio manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml:
    # the default revision's namespaceSelector matches istio-injection=enabled only.
    _relabel(api, "Namespace", EXCLUDED, labels={"istio-injection": "enabled"})
