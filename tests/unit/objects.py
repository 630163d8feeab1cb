"""Small cluster objects for the checks' unit tests: a healthy spoke-dc-v6 as the runbook describes
it, as a dict of snapshot kind -> objects, which each test mutates to break one thing.

`run(check, cluster, *args)` evaluates a check on the real Snapshot class behind the plugin's
DeclaredView, so reading a kind the check did not declare with @reads fails the test as it would
fail the suite.
"""

from __future__ import annotations

import copy
from pathlib import Path

from ossm_conformance.kube.kinds import KINDS
from ossm_conformance.kube.snapshot import Read, ReadResult, Snapshot

from field_access import tracked_snapshot
from ossm_conformance.params import PARAMS
from ossm_conformance.profile import load_profile
from ossm_conformance.kube.views import DeclaredView

PROFILE = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "spoke-dc-v6.yaml")
TENANTS = ("bank-employees-jboss-chat", "ossm3-demo", "apps-team-x")
NODES = ("master-0", "master-1", "master-2", "worker-0", "worker-1", "worker-2")
assert len(NODES) == 6  # three masters, then the three workers healthy() places the pilot's pods on
CSV = "servicemeshoperator3.v3.3.7"


def param(name: str, id_: str):
    """The value the plugin would pass for test argument `name` with test id `id_`."""
    return dict(PARAMS[name](PROFILE))[id_]


def obj(kind_key: str, name: str, namespace: str | None = None, labels=None, annotations=None, **body) -> dict:
    kind = KINDS[kind_key]
    meta = {"name": name, "generation": 1}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": f"{kind.group}/{kind.version}" if kind.group else kind.version, "kind": kind.kind,
            "metadata": meta, **body}


def cond(type_: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    c = {"type": type_, "status": status, "lastTransitionTime": "2026-05-12T10:00:00Z"}
    return {**c, **({"reason": reason} if reason else {}), **({"message": message} if message else {})}


def find(cluster: dict, kind_key: str, name: str, namespace: str | None = None) -> dict:
    for o in cluster[kind_key]:
        if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace:
            return o
    raise KeyError(f"{kind_key} {namespace}/{name} not in the fixture")


def remove(cluster: dict, kind_key: str, name: str, namespace: str | None = None) -> None:
    cluster[kind_key].remove(find(cluster, kind_key, name, namespace))


# -- builders ---------------------------------------------------------------------------------
def node(name_: str) -> dict:
    role = "master" if name_.startswith("master") else "worker"
    taints = [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}] if role == "master" else []
    return obj("nodes", name_, labels={f"node-role.kubernetes.io/{role}": "", "kubernetes.io/hostname": name_},
               spec={"taints": taints}, status={"conditions": [cond("Ready")]})


def deployment(name_: str, namespace: str, labels: dict, replicas: int = 1) -> dict:
    return obj("deployments", name_, namespace, labels=labels,
               spec={"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name_}]}}},
               status={"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                       "readyReplicas": replicas, "availableReplicas": replicas,
                       "conditions": [cond("Available", reason="MinimumReplicasAvailable")]})


def daemonset(name_: str, namespace: str, labels: dict) -> dict:
    n = len(NODES)
    # The charts tolerate every taint so the DaemonSets cover control-plane nodes too.
    return obj("daemonsets", name_, namespace, labels=labels,
               spec={"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {
                                           "tolerations": [{"operator": "Exists"}],
                                           "containers": [{"name": "istio-proxy" if name_ == "ztunnel" else "install-cni"}]}}},
               status={"observedGeneration": 1, "desiredNumberScheduled": n, "currentNumberScheduled": n,
                       "numberReady": n, "updatedNumberScheduled": n, "numberAvailable": n, "numberMisscheduled": 0})


def pod(name_: str, namespace: str, labels: dict, node_: str = "worker-0", ip: str = "10.128.0.10",
        ambient: bool = True, containers=None, ready: bool = True) -> dict:
    return obj("pods", name_, namespace, labels=labels,
               annotations={"ambient.istio.io/redirection": "enabled"} if ambient else None,
               spec={"nodeName": node_, "containers": [{"name": c} for c in (containers or [labels.get("app", name_)])]},
               status={"phase": "Running", "podIP": ip, "conditions": [cond("Ready", "True" if ready else "False")],
                       "containerStatuses": [{"name": "app", "restartCount": 0 if ready else 7}]})


def sail_cr(kind_key: str, name_: str, spec: dict, **status) -> dict:
    conditions = [cond("Reconciled"), cond("Ready")] + ([cond("DependenciesHealthy")] if kind_key in ("istios", "istiorevisions") else [])
    return obj(kind_key, name_, spec=spec, status={"observedGeneration": 1, "state": "Healthy", "conditions": conditions, **status})


def gateway_api_crd(plural: str) -> dict:
    return obj("customresourcedefinitions", f"{plural}.gateway.networking.k8s.io",
               spec={"group": "gateway.networking.k8s.io", "versions": [{"name": "v1", "served": True, "storage": True}]},
               status={"conditions": [cond("NamesAccepted", reason="NoConflicts"), cond("Established", reason="InitialNamesAccepted")]})


def crd(plural: str) -> dict:
    versions = [{"name": "v1", "served": True, "storage": True}]
    if plural == "ztunnels":
        versions.append({"name": "v1alpha1", "served": True, "storage": False, "deprecated": True})
    return obj("customresourcedefinitions", f"{plural}.sailoperator.io",
               spec={"group": "sailoperator.io", "scope": "Cluster", "versions": versions},
               status={"conditions": [cond("NamesAccepted", reason="NoConflicts"), cond("Established", reason="InitialNamesAccepted")],
                       "storedVersions": ["v1"]})


def catalog_health(name_: str, healthy_: bool) -> dict:
    return {"catalogSourceRef": {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "CatalogSource", "name": name_,
                                 "namespace": "openshift-marketplace"}, "healthy": healthy_,
            "lastUpdated": "2026-05-12T10:00:00Z"}


def subscription(package: str, csv: str) -> dict:
    # Everyday mess: an unrelated mirrored catalog is broken, so OLM reports CatalogSourcesUnhealthy
    # True for every Subscription; the Subscription's own app-catalog is healthy.
    return obj("subscriptions", package, "openshift-operators",
               spec={"channel": "stable", "name": package, "source": "app-catalog", "sourceNamespace": "openshift-marketplace",
                     "installPlanApproval": "Automatic"},
               status={"state": "AtLatestKnown", "currentCSV": csv, "installedCSV": csv,
                       "catalogHealth": [catalog_health("app-catalog", True), catalog_health("community-mirror", False)],
                       "conditions": [cond("CatalogSourcesUnhealthy", "True", "UnhealthyCatalogSourceFound",
                                           "targeted catalogsource openshift-marketplace/app-catalog healthy")]})


def csv(name_: str, namespace: str = "openshift-operators", copied: bool = False) -> dict:
    return obj("clusterserviceversions", name_, namespace, labels={"olm.copiedFrom": "openshift-operators"} if copied else None,
               status={"phase": "Succeeded", "reason": "Copied" if copied else "InstallSucceeded",
                       "message": "install strategy completed with no errors"})


def workload_identity(ns: str) -> list[tuple[str, dict]]:
    role = obj("roles", "ztunnel-workload-identity", ns, rules=[
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}])
    binding = obj("rolebindings", "ztunnel-workload-identity", ns,
                  roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ztunnel-workload-identity"},
                  subjects=[{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}])
    return [("roles", role), ("rolebindings", binding)]


def network_policy(name_: str, ns: str, pod_selector: dict | None = None, ingress=None, egress=None, types=None) -> dict:
    spec = {"podSelector": pod_selector or {}}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types:
        spec["policyTypes"] = types
    return obj("networkpolicies", name_, ns, spec=spec)


def healthy() -> dict[str, list[dict]]:
    """The twin of spoke-dc-v6 as the runbook describes it, healthy."""
    c: dict[str, list[dict]] = {k: [] for k in KINDS}
    add = lambda kind, o: c[kind].append(o)  # noqa: E731

    for n in ("default", "openshift-operators", "istio-system", "istio-cni", "ztunnel", "bank-payment", "openshift-ingress",
              "openshift-dns"):
        add("namespaces", obj("namespaces", n))
    for t in TENANTS:
        labels = {"istio.io/dataplane-mode": "ambient"}
        if t == "apps-team-x":
            labels["istio.io/use-waypoint"] = "waypoint"
        add("namespaces", obj("namespaces", t, labels=labels))
        for kind, o in workload_identity(t):
            add(kind, o)
        add("peerauthentications", obj("peerauthentications", "default", t, spec={"mtls": {"mode": "STRICT"}}))
    for n in NODES:
        add("nodes", node(n))

    # Operators (OLM): Subscription -> CSV -> Deployment; a copied CSV elsewhere must be ignored.
    add("subscriptions", subscription("servicemeshoperator3", CSV))
    add("subscriptions", subscription("kiali-ossm", "kiali-operator.v2.22.2"))
    add("clusterserviceversions", csv(CSV))
    add("clusterserviceversions", csv(CSV, "bank-payment", copied=True))
    add("clusterserviceversions", csv("kiali-operator.v2.22.2"))
    add("deployments", deployment("servicemesh-operator3", "openshift-operators", {"control-plane": "servicemesh-operator3"}))
    add("deployments", deployment("kiali-operator", "openshift-operators", {"app": "kiali-operator"}))
    for plural in ("istios", "istiocnis", "ztunnels", "istiorevisions", "istiorevisiontags"):
        add("customresourcedefinitions", crd(plural))
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants"):
        add("customresourcedefinitions", gateway_api_crd(plural))

    # OpenShift: OVN-Kubernetes in local gateway mode; the API server's endpoints are the masters.
    add("networks", obj("networks", "cluster", spec={"clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
                                                     "defaultNetwork": {"type": "OVNKubernetes", "ovnKubernetesConfig": {
                                                         "gatewayConfig": {"routingViaHost": True}}}}))
    add("endpointslices", obj("endpointslices", "kubernetes", "default", labels={"kubernetes.io/service-name": "kubernetes"},
                              addressType="IPv4", ports=[{"name": "https", "port": 6443, "protocol": "TCP"}],
                              endpoints=[{"addresses": [f"10.90.0.{i}"], "conditions": {"ready": True}} for i in (11, 12, 13)]))

    # Control plane: the runbook's three CRs, and the Istio OCP 4.19+ adds for Gateway API.
    add("istios", sail_cr("istios", "default", {
        "namespace": "istio-system", "profile": "openshift-ambient", "version": "v1.28-latest",
        "updateStrategy": {"type": "InPlace", "inactiveRevisionDeletionGracePeriodSeconds": 30},
        "values": {"pilot": {"trustedZtunnelNamespace": "ztunnel"}}},
        activeRevisionName="default", revisions={"total": 1, "ready": 1, "inUse": 0}))
    add("istios", sail_cr("istios", "openshift-gateway", {"namespace": "openshift-ingress", "version": "v1.26.2"},
                          activeRevisionName="openshift-gateway", revisions={"total": 1, "ready": 1, "inUse": 1}))
    add("istiocnis", sail_cr("istiocnis", "default", {"namespace": "istio-cni", "profile": "openshift-ambient", "version": "v1.28-latest"}))
    add("ztunnels", sail_cr("ztunnels", "default", {"namespace": "ztunnel", "version": "v1.28-latest"}))
    add("istiorevisions", sail_cr("istiorevisions", "default", {"namespace": "istio-system", "version": "v1.28.3"}))
    add("istiorevisions", sail_cr("istiorevisions", "openshift-gateway", {"namespace": "openshift-ingress", "version": "v1.26.2"}))

    # Data plane.
    istiod = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}
    add("deployments", deployment("istiod", "istio-system", istiod, replicas=2))
    for i, ip in enumerate(("10.128.3.5", "10.128.4.5")):  # the HPA runs it at 2
        add("pods", pod(f"istiod-{i}", "istio-system", istiod, node_=NODES[3 + i], ip=ip, ambient=False))
    for ds_name, ns, labels in (("istio-cni-node", "istio-cni", {"k8s-app": "istio-cni-node"}),
                                ("ztunnel", "ztunnel", {"app": "ztunnel"})):
        add("daemonsets", daemonset(ds_name, ns, labels))
        for i, n in enumerate(NODES):
            add("pods", pod(f"{ds_name}-{n}", ns, labels, node_=n, ip=f"10.129.{i}.2", ambient=False))

    # Tenants' workloads: the pilot's four, the demo's two, apps-team-x's two (frontend -> web) and its waypoint.
    chat = "bank-employees-jboss-chat"
    for i, app in enumerate(("bff", "chat-backend", "eap-domain-group-a", "eap-domain-group-b")):
        add("pods", pod(f"{app}-0", chat, {"app": app}, node_=NODES[3 + i % 3], ip=f"10.128.1.{i + 10}"))
        add("services", obj("services", app, chat, spec={"selector": {"app": app}, "ports": [{"port": 8080}]}))
        add("deployments", deployment(app, chat, {"app": app}))
    for i, app in enumerate(("demo-client", "demo-server")):
        add("pods", pod(f"{app}-0", "ossm3-demo", {"app": app}, ip=f"10.128.2.{i + 10}"))
        add("services", obj("services", app, "ossm3-demo", spec={"selector": {"app": app}, "ports": [{"port": 8080}]}))
        add("deployments", deployment(app, "ossm3-demo", {"app": app}))
    # An istio-class ingress gateway as istiod deploys it: labelled out of ambient, not a workload.
    add("pods", pod("demo-ingress-istio-0", "ossm3-demo", {"gateway.networking.k8s.io/gateway-name": "demo-ingress",
                                                          "istio.io/dataplane-mode": "none"},
                    ip="10.128.2.20", ambient=False, containers=["istio-proxy"]))
    # Everyday debris of a tenant: a completed Job's pod and an Evicted pod, neither judged.
    job = pod("report-28912345-x7k2p", "ossm3-demo", {"job-name": "report-28912345"}, ip="10.128.2.21")
    job["status"].update(phase="Succeeded", conditions=[cond("Ready", "False", "PodCompleted")])
    evicted = pod("demo-server-0-evicted", "ossm3-demo", {"app": "demo-server"}, ip="10.128.2.22")
    evicted["status"].update(phase="Failed", reason="Evicted", conditions=[cond("Ready", "False")],
                             message="The node was low on resource: memory.")
    add("pods", job)
    add("pods", evicted)
    add("pods", pod("web-0", "apps-team-x", {"app": "web"}, ip="10.128.3.10"))
    add("pods", pod("frontend-0", "apps-team-x", {"app": "frontend"}, ip="10.128.3.12"))
    add("deployments", deployment("frontend", "apps-team-x", {"app": "frontend"}))
    add("pods", pod("waypoint-0", "apps-team-x", {"gateway.istio.io/managed": "istio.io-mesh-controller",
                                                  "gateway.networking.k8s.io/gateway-name": "waypoint"},
                    ip="10.128.3.11", ambient=False, containers=["istio-proxy"]))
    waypoint_labels = {"gateway.networking.k8s.io/gateway-name": "waypoint"}
    add("deployments", deployment("waypoint", "apps-team-x", waypoint_labels))
    # istiod binds the namespace's Services to its waypoint and says so on each.
    add("services", obj("services", "web", "apps-team-x", spec={"selector": {"app": "web"}},
                        status={"conditions": [cond("istio.io/WaypointBound", reason="WaypointAccepted",
                                                    message="bound to apps-team-x/waypoint")]}))
    # Everyday: an istio-class ingress gateway in ossm3-demo, with a selector-bound L7 policy that
    # its own Envoy enforces (istiod labels its pod dataplane-mode=none).
    ingress = {"gateway.networking.k8s.io/gateway-name": "demo-ingress", "istio.io/dataplane-mode": "none"}
    add("gateways", obj("gateways", "demo-ingress", "ossm3-demo",
                        spec={"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
                        status={"conditions": [cond("Accepted"), cond("Programmed")]}))
    add("pods", pod("demo-ingress-0", "ossm3-demo", ingress, ip="10.128.2.20", ambient=False, containers=["istio-proxy"]))
    add("authorizationpolicies", obj("authorizationpolicies", "demo-ingress-get-only", "ossm3-demo", spec={
        "selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "demo-ingress"}},
        "action": "ALLOW", "rules": [{"to": [{"operation": {"methods": ["GET", "HEAD"]}}]}]}))

    # The pilot's NetworkPolicies: deny by default, admit intra-namespace mesh traffic incl. HBONE.
    add("networkpolicies", network_policy("default-deny", chat, types=["Ingress"], ingress=[]))
    add("networkpolicies", network_policy("allow-mesh-intra-namespace", chat, ingress=[
        {"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 15008}, {"protocol": "TCP", "port": 8080}]}]))

    # istio-system: istiod admits xDS and the webhook, and may reach the API server and DNS.
    add("networkpolicies", network_policy("istiod", "istio-system", {"matchLabels": {"app": "istiod"}},
                                          types=["Ingress", "Egress"],
                                          ingress=[{"ports": [{"port": 15010}, {"port": 15012}, {"port": 15014}, {"port": 15017}]}],
                                          egress=[{"ports": [{"port": 6443}]},
                                                  {"ports": [{"protocol": "UDP", "port": 5353}, {"protocol": "TCP", "port": 5353}]}]))

    # Waypoint for apps-team-x with an L7 policy attached to it.
    add("gatewayclasses", obj("gatewayclasses", "istio-waypoint", spec={"controllerName": "istio.io/mesh-controller"},
                              status={"conditions": [cond("Accepted", reason="Accepted")]}))
    add("gateways", obj("gateways", "waypoint", "apps-team-x", labels={"istio.io/waypoint-for": "service"},
                        spec={"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
                        status={"conditions": [cond("Accepted", reason="Accepted"), cond("Programmed", reason="Programmed")]}))
    add("authorizationpolicies", obj("authorizationpolicies", "deny-admin", "apps-team-x", spec={
        "targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}],
        "action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin"]}}]}]},
        status={"conditions": [cond("WaypointAccepted", reason="Accepted", message="bound to apps-team-x/waypoint")]}))
    # An L4-only policy in a namespace without a waypoint: legitimate, ztunnel enforces it.
    add("authorizationpolicies", obj("authorizationpolicies", "allow-bff", chat, spec={
        "action": "ALLOW", "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bank-employees-jboss-chat/sa/bff"]}}],
                                      "to": [{"operation": {"ports": ["8080"]}}]}]},
        status={"conditions": [cond("ZtunnelAccepted", reason="Accepted", message="attached to ztunnel")]}))

    # Unrelated RBAC that a matcher must not mistake for ztunnel's.
    add("clusterroles", obj("clusterroles", "view", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]))
    add("clusterrolebindings", obj("clusterrolebindings", "authenticated-view",
                                   roleRef={"kind": "ClusterRole", "name": "view"},
                                   subjects=[{"kind": "Group", "name": "system:authenticated"}]))
    return c


# -- running a check --------------------------------------------------------------------------
def snapshot(cluster: dict) -> Snapshot:
    return tracked_snapshot([ReadResult(Read(k), copy.deepcopy(v)) for k, v in cluster.items()],
                            {"kubernetes": "v1.34.4", "openshift": "4.19.9"})


def run(check, cluster: dict, *args):
    """The check on the real Snapshot; reading a kind its @reads omits raises SuiteDefect."""
    return check(DeclaredView(snapshot(cluster), set(check.reads)), *args)


def broken(mutate, check, *args):
    """The check's findings on the healthy twin after one mutation."""
    cluster = healthy()
    mutate(cluster)
    return run(check, cluster, *args)


def text(findings) -> str:
    """Everything a user would read, for message-fragment assertions."""
    return "\n".join(f.render() for f in findings)
