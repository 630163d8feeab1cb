"""Objects shaped and sized like a real OpenShift spoke's, for the benchmark twin.

A pod as an OpenShift 4.19 API server serves it: restricted-v2 SCC defaults, OVN-Kubernetes and
multus network annotations, the projected service-account volume OpenShift injects, two
containers with env, probes and resources, full status (five conditions, container statuses with
CRI-O ids and image digests). The API server itself adds managedFields for each writer (the
seeder's create, the "kubelet" status write, the OVN/multus annotation patch), as it does for
kube-controller-manager, kubelet, ovnkube-controller and multus on a real node — which is why a
served pod weighs 12-16 KB. Also the RoleBindings and ServiceAccounts OpenShift's
openshift-controller-manager creates in every namespace.

Shapes follow what `oc get pod -o json` shows on OpenShift 4.19 (kubernetes/kubernetes
pkg/apis/core types; openshift/api security/v1 for the SCC annotations; ovn-org/ovn-kubernetes
for k8s.ovn.org/pod-networks; k8snetworkplumbingwg/multus-cni for k8s.v1.cni.cncf.io/network-status).
"""

from __future__ import annotations

import hashlib
import json

NOW = "2026-11-30T21:14:07Z"


def _hex(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _env(app: str, namespace: str) -> list[dict]:
    plain = {
        "JAVA_OPTS": "-XX:MaxRAMPercentage=75 -XX:+UseG1GC -Djava.security.egd=file:/dev/./urandom",
        "LOG_LEVEL": "INFO", "SPRING_PROFILES_ACTIVE": "openshift,prod", "TZ": "Europe/Zurich",
        "SERVER_PORT": "8080",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4317",
        "OTEL_SERVICE_NAME": app, "DB_HOST": f"{app}-db.{namespace}.svc.cluster.local", "DB_PORT": "5432",
        "CACHE_URL": f"redis://{app}-cache.{namespace}.svc:6379/0",
    }
    env = [{"name": k, "value": v} for k, v in plain.items()]
    env += [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}}]
    return env


def _security_context(uid: int) -> dict:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
            "runAsUser": uid}


def _mounts(app: str, token_volume: str) -> list[dict]:
    return [{"name": "config", "mountPath": f"/opt/{app}/config", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": token_volume, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}]


def _container(name: str, image: str, port: int, app: str, namespace: str, uid: int, token_volume: str) -> dict:
    probe = {"httpGet": {"path": "/q/health/ready", "port": port, "scheme": "HTTP"}, "initialDelaySeconds": 10,
             "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    return {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": _env(app, namespace),
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "512Mi"}},
        "readinessProbe": probe, "livenessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/q/health/live"}},
        "volumeMounts": _mounts(app, token_volume),
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "securityContext": _security_context(uid),
    }


def _container_status(c: dict, pod_uid_seed: str) -> dict:
    digest = _hex(c["image"], 64)
    return {
        "name": c["name"], "ready": True, "restartCount": 0, "started": True,
        "image": c["image"], "imageID": f"{c['image'].rsplit(':', 1)[0]}@sha256:{digest}",
        "containerID": f"cri-o://{_hex(pod_uid_seed + c['name'], 64)}",
        "lastState": {}, "state": {"running": {"startedAt": NOW}},
        "volumeMounts": [{**m, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else m for m in c["volumeMounts"]],
    }


def pod(namespace: str, name: str, node: str, ip: str, labels: dict, annotations: dict | None = None,
        owner: dict | None = None) -> dict:
    """One Running, Ready pod of a Deployment as OpenShift serves it (status included)."""
    app = labels.get("app", name)
    uid = 1000680000
    token_volume = f"kube-api-access-{_hex(name, 5)}"
    image = f"image-registry.openshift-image-registry.svc:5000/{namespace}/{app}:2026.11.3"
    containers = [_container(app, image, 8080, app, namespace, uid, token_volume),
                  _container("log-forwarder", "registry.redhat.io/openshift-logging/vector-rhel9:v0.37.1", 8686,
                             app, namespace, uid, token_volume)]
    mac = ":".join(_hex(name, 10)[i:i + 2] for i in range(0, 10, 2))
    gateway = ip.rsplit(".", 1)[0] + ".1"
    network_status = [{"name": "ovn-kubernetes", "interface": "eth0", "ips": [ip], "mac": f"0a:58:{mac}",
                       "default": True, "dns": {}}]
    ann = {
        "k8s.ovn.org/pod-networks": json.dumps({"default": {"ip_addresses": [f"{ip}/23"], "mac_address": f"0a:58:{mac}",
                                                            "gateway_ips": [gateway], "routes": [
                                                                {"dest": "10.128.0.0/14", "nextHop": gateway},
                                                                {"dest": "172.30.0.0/16", "nextHop": gateway},
                                                                {"dest": "100.64.0.0/16", "nextHop": gateway}],
                                                            "ip_address": f"{ip}/23", "gateway_ip": gateway,
                                                            "role": "primary"}}),
        "k8s.v1.cni.cncf.io/network-status": json.dumps(network_status, indent=4),
        "openshift.io/scc": "restricted-v2",
        "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
        "kubectl.kubernetes.io/default-container": app,
        **(annotations or {}),
    }
    spec = {
        "volumes": [
            {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
            {"name": "tmp", "emptyDir": {}},
            {"name": token_volume, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                               "fieldPath": "metadata.namespace"}}]}},
                {"configMap": {"name": "openshift-service-ca.crt",
                               "items": [{"key": "service-ca.crt", "path": "service-ca.crt"}]}}]}}],
        "containers": containers,
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": app, "serviceAccount": app, "nodeName": node,
        "securityContext": {"seLinuxOptions": {"level": "s0:c26,c15"}, "fsGroup": uid,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "imagePullSecrets": [{"name": f"{app}-dockercfg-{_hex(app + namespace, 5)}"}],
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}],
        "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
    }
    status = {
        "phase": "Running",
        "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": NOW}
                       for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}], "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": NOW, "qosClass": "Burstable",
        "containerStatuses": [_container_status(c, namespace + name) for c in containers],
    }
    meta = {"name": name, "namespace": namespace, "labels": labels, "annotations": ann}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def openshift_rolebindings(namespace: str) -> list[dict]:
    """What openshift-controller-manager creates in every project (default-rolebindings controller)."""
    def rb(name, role, subjects):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": namespace,
                             "annotations": {"openshift.io/description": f"Allows {role} in this project."}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subjects}
    sa = lambda n: {"kind": "ServiceAccount", "name": n, "namespace": namespace}  # noqa: E731
    return [
        rb("admin", "admin", [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "tenant-admin"}]),
        rb("system:deployers", "system:deployer", [sa("deployer")]),
        rb("system:image-builders", "system:image-builder", [sa("builder")]),
        rb("system:image-pullers", "system:image-puller",
           [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"system:serviceaccounts:{namespace}"}]),
    ]
