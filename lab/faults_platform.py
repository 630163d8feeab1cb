"""Named faults of the platform under the tenants, as they show up on a real cluster: DaemonSet
placement that skips a node, waypoints that do not carry L7, L7 configuration no proxy applies,
control-plane NetworkPolicies, OLM operators off their pin or catalog, and OpenShift's ambient
prerequisites. Registered in lab.faults' FAULTS on import.

Upstream behaviour followed: istiod writes WaypointAccepted/ZtunnelAccepted on AuthorizationPolicies
and istio.io/WaypointBound on Services (istio/istio pilot/pkg/model/service.go), keeps a Gateway
Programmed while its pods are down (pilot/pkg/config/kube/gateway/); OLM judges every catalog for
CatalogSourcesUnhealthy (operator-framework/operator-lifecycle-manager
pkg/controller/operators/catalog/subscription/state.go); the sail-operator re-renders the ZTunnel
DaemonSet from spec.values.ztunnel (istio-ecosystem/sail-operator controllers/ztunnel/).
"""

from __future__ import annotations

import copy

from lab import seed
from lab.faults import (DEMO, WAYPOINT_NS, _KIND, Api, _delete, _deployment_unavailable, _event, _get, _now,
                        _pod_not_ready, _pods, _policy_condition, _relabel, _set_condition, fault)


SKIPPED_NODE = "spoke-dc-v6-worker-0"


@fault("ztunnel-placement-skips-node",
       f"ZTunnel spec.values.ztunnel.affinity excludes {SKIPPED_NODE}, where enrolled pods run: the "
       "operator re-renders the DaemonSet, its pod there is deleted, those pods get no mTLS")
def _ztunnel_skips_node(api: Api) -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [SKIPPED_NODE]}]}]}}}
    zt = api.patch(_KIND["ZTunnel"].path("default"), {"spec": {"values": {"ztunnel": {"affinity": affinity}}}})
    zt["kind"], zt["apiVersion"] = "ZTunnel", _KIND["ZTunnel"].api_version
    seed.write_status(api, zt, zt["status"])  # the operator observed the new generation
    ds = api.patch(_KIND["DaemonSet"].path("ztunnel", "ztunnel"), {"spec": {"template": {"spec": {"affinity": affinity}}}})
    for pod in _pods(api, "ztunnel", node=SKIPPED_NODE, prefix="ztunnel-"):
        _delete(api, "Pod", pod["metadata"]["name"], "ztunnel")
    ds["kind"], ds["apiVersion"] = "DaemonSet", "apps/v1"
    status = copy.deepcopy(ds["status"])
    for key in ("desiredNumberScheduled", "currentNumberScheduled", "updatedNumberScheduled", "numberReady",
                "numberAvailable"):
        status[key] -= 1
    seed.write_status(api, ds, status)


@fault("waypoint-crashloop",
       f"the waypoint Envoy of {WAYPOINT_NS} crash-loops (Deployment unavailable) while istiod keeps the "
       "Gateway Programmed=True (it follows the address, not the pods)")
def _waypoint_crashloop(api: Api) -> None:
    for pod in _pods(api, WAYPOINT_NS, prefix="waypoint-"):
        pod = _pod_not_ready(api, pod, restarts=8, waiting="CrashLoopBackOff")
        _event(api, pod, "BackOff", f"Back-off restarting failed container istio-proxy in pod "
               f"{pod['metadata']['name']}_{WAYPOINT_NS}({pod['metadata']['uid']})", "kubelet", pod["spec"]["nodeName"], 14)
    _deployment_unavailable(api, WAYPOINT_NS, "waypoint")


@fault("waypoint-for-workload",
       f"the waypoint Gateway of {WAYPOINT_NS} relabelled istio.io/waypoint-for=workload: service traffic, "
       "and the L7 policies on it, bypass the waypoint")
def _waypoint_for_workload(api: Api) -> None:
    _relabel(api, "Gateway", "waypoint", WAYPOINT_NS, labels={"istio.io/waypoint-for": "workload"})


@fault("service-opts-out-of-waypoint",
       f"Service web in {WAYPOINT_NS} labelled istio.io/use-waypoint=none while the L7 policy web-deny-admin "
       "targets it: istiod reports the policy AncestorNotBound")
def _service_opts_out(api: Api) -> None:
    _relabel(api, "Service", "web", WAYPOINT_NS, labels={"istio.io/use-waypoint": "none"})
    svc = _get(api, "Service", "web", WAYPOINT_NS)
    status = copy.deepcopy(svc["status"])
    status["conditions"] = [c for c in status.get("conditions", []) if c["type"] != "istio.io/WaypointBound"]
    seed.write_status(api, svc, status)  # istiod prunes WaypointBound once no waypoint is attached
    _policy_condition(api, WAYPOINT_NS, "web-deny-admin", "WaypointAccepted", "False", "AncestorNotBound",
                      f"Service {WAYPOINT_NS}/web is not bound to a waypoint")


@fault("virtualservice-without-waypoint",
       f"a VirtualService with retries for demo-server in {DEMO}, which has no waypoint: nothing applies it")
def _virtualservice(api: Api) -> None:
    api.create({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "demo-server-retries", "namespace": DEMO},
                "spec": {"hosts": ["demo-server"], "http": [{"retries": {"attempts": 3, "perTryTimeout": "2s"},
                                                             "route": [{"destination": {"host": "demo-server"}}]}]}})


@fault("selector-l7-policy-in-waypoint-namespace",
       f"an AuthorizationPolicy in {WAYPOINT_NS} bound to app=web by selector with HTTP methods: the waypoint "
       "ignores selectors and ztunnel drops the HTTP rules (istiod says UnsupportedValue)")
def _selector_l7(api: Api) -> None:
    api.create({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": "web-get-only", "namespace": WAYPOINT_NS},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "action": "ALLOW",
                         "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}})
    _policy_condition(api, WAYPOINT_NS, "web-get-only", "ZtunnelAccepted", "True", "UnsupportedValue",
                      "ztunnel does not support HTTP attributes (found: methods). In ambient mode you must use a "
                      "waypoint proxy to enforce HTTP rules. Within an ALLOW policy, rules matching HTTP attributes "
                      "are omitted. This will be more restrictive than requested.")


@fault("sidecar-in-ambient-namespace",
       f"a Sidecar resource (egress scope) in the ambient namespace {DEMO}: it has no effect there (IST0167)")
def _sidecar(api: Api) -> None:
    api.create({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": "default", "namespace": DEMO},
                "spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}]}})


@fault("ztunnel-networkpolicy-blocks-istiod",
       "a default-deny-egress NetworkPolicy in the ztunnel namespace that admits DNS only: ztunnel cannot "
       "dial istiod:15012 for xDS and certificates")
def _ztunnel_np(api: Api) -> None:
    api.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny-egress", "namespace": "ztunnel"},
                "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                         "egress": [{"ports": [{"protocol": "UDP", "port": 5353}, {"protocol": "TCP", "port": 5353}]}]}})


@fault("subscription-catalog-unhealthy",
       "the operators' own catalog redhat-operators lost its registry (TRANSIENT_FAILURE): OLM marks it "
       "unhealthy in both Subscriptions' catalogHealth")
def _own_catalog(api: Api) -> None:
    cs = _get(api, "CatalogSource", "redhat-operators", "openshift-marketplace")
    status = copy.deepcopy(cs["status"])
    status["connectionState"]["lastObservedState"] = "TRANSIENT_FAILURE"
    seed.write_status(api, cs, status)
    for sub in api.list(_KIND["Subscription"], "openshift-operators"):
        status = copy.deepcopy(sub["status"])
        for health in status["catalogHealth"]:
            if health["catalogSourceRef"]["name"] == "redhat-operators":
                health["healthy"] = False
        _set_condition(status["conditions"], "CatalogSourcesUnhealthy", "True", "UnhealthyCatalogSourceFound",
                       "targeted catalogsource openshift-marketplace/redhat-operators unhealthy")
        seed.write_status(api, sub, status)


@fault("kiali-version-drift",
       "kiali-ossm switched to Automatic approval: OLM installed kiali-operator.v2.22.3, off the runbook's "
       "pin v2.22.2")
def _kiali_drift(api: Api) -> None:
    ns, old, new = "openshift-operators", "kiali-operator.v2.22.2", "kiali-operator.v2.22.3"
    api.patch(_KIND["Subscription"].path("kiali-ossm", ns), {"spec": {"installPlanApproval": "Automatic"}})
    api.patch(_KIND["InstallPlan"].path("install-kx4m2", ns), {"spec": {"approved": True}})
    plan = _get(api, "InstallPlan", "install-kx4m2", ns)
    plan_status = copy.deepcopy(plan["status"])
    plan_status["phase"] = "Complete"
    _set_condition(plan_status["conditions"], "Installed", "True", lastUpdateTime=_now())
    seed.write_status(api, plan, plan_status)
    csv = _get(api, "ClusterServiceVersion", old, ns)
    body = {k: copy.deepcopy(v) for k, v in csv.items() if k not in ("status",)}
    body["metadata"] = {"name": new, "namespace": ns, "labels": csv["metadata"].get("labels", {}),
                        "annotations": csv["metadata"].get("annotations", {})}
    body["spec"]["version"] = "2.22.3"
    body["spec"]["replaces"] = old
    created = api.create(body)
    created["kind"], created["apiVersion"] = "ClusterServiceVersion", csv["apiVersion"]
    seed.write_status(api, created, csv["status"])
    _delete(api, "ClusterServiceVersion", old, ns)  # OLM removes the replaced CSV
    sub = _get(api, "Subscription", "kiali-ossm", ns)
    status = copy.deepcopy(sub["status"])
    status.update(state="AtLatestKnown", installedCSV=new, currentCSV=new, lastUpdated=_now())
    status["conditions"] = [c for c in status["conditions"] if c["type"] != "InstallPlanPending"]
    seed.write_status(api, sub, status)


@fault("trusted-ztunnel-namespace-missing",
       "Istio default without spec.values.pilot.trustedZtunnelNamespace (and so no CA_TRUSTED_NODE_ACCOUNTS): "
       "istiod refuses ztunnel's CSRs (not emulated further: the lab's traffic does not model CSRs)")
def _untrusted_ztunnel(api: Api) -> None:
    istio = api.patch(_KIND["Istio"].path("default"), {"spec": {"values": {"pilot": {"trustedZtunnelNamespace": None}}}})
    istio["kind"], istio["apiVersion"] = "Istio", _KIND["Istio"].api_version
    seed.write_status(api, istio, istio["status"])
    rev = api.patch(_KIND["IstioRevision"].path("default"), {"spec": {"values": {"pilot": {
        "trustedZtunnelNamespace": None, "env": {"CA_TRUSTED_NODE_ACCOUNTS": None}}}}})
    rev["kind"], rev["apiVersion"] = "IstioRevision", _KIND["IstioRevision"].api_version
    seed.write_status(api, rev, rev["status"])


@fault("ovn-shared-gateway-mode",
       "network.operator.openshift.io/cluster switched to OVN-Kubernetes shared gateway mode "
       "(routingViaHost: false): traffic to ztunnel takes the host bypass")
def _shared_gateway(api: Api) -> None:
    api.patch(_KIND["Network"].path("cluster"), {"spec": {"defaultNetwork": {"ovnKubernetesConfig": {
        "gatewayConfig": {"routingViaHost": False}}}}})


@fault("gateway-networkpolicy-blocks-istiod",
       f"the micro-segmented {DEMO} policy demo-ingress-gateway tidied to the gateway's data path only: its "
       "Envoy can no longer dial istiod:15012, so it gets no listeners or certificate (Programmed stays True)")
def _gateway_np(api: Api) -> None:
    path = _KIND["NetworkPolicy"].path("demo-ingress-gateway", DEMO)
    policy = api.get(path)
    egress = [rule for rule in policy["spec"]["egress"] if {"port": 15012, "protocol": "TCP"} not in rule.get("ports", [])]
    api.patch(path, {"spec": {"egress": egress}})


@fault("istiod-ingress-omits-gateways",
       "istio-system's istiod-allow-ingress narrowed to xDS from the ztunnel and waypoint namespaces only: the "
       f"istio-class gateway in {DEMO} can no longer fetch its configuration from istiod:15012")
def _istiod_ingress(api: Api) -> None:
    def ns(name: str) -> dict:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
    api.patch(_KIND["NetworkPolicy"].path("istiod-allow-ingress", "istio-system"), {"spec": {"ingress": [
        {"from": [ns("ztunnel"), ns(WAYPOINT_NS)], "ports": [{"protocol": "TCP", "port": 15010, "endPort": 15012}]},
        {"ports": [{"protocol": "TCP", "port": 15014, "endPort": 15017}]}]}})
