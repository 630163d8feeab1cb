"""NetworkPolicies must let control-plane traffic flow the way it really flows in ambient mode.

Who dials whom (istio/istio manifests/charts/ztunnel, istio/ztunnel src/xds, src/inpod): ztunnel
and the waypoints dial istiod on 15012 (xDS and the CA); the API server calls istiod's webhook on
15017; istiod itself dials only the Kubernetes API (the `kubernetes` Service's endpoints, 6443 on
OpenShift) and DNS. istiod never dials ztunnel or a waypoint, so no egress toward them is needed.
HBONE (15008) runs from and to the workload pods' network namespaces (ztunnel in-pod mode), which
the tenants' own policies govern (tenants.network_policies_admit_hbone), not the ztunnel namespace.

Rules are evaluated, names are not trusted. ztunnel, waypoint, gateway and istiod pods are the
running pods with their labels and IPs (an ipBlock over the pod network admits them on
OVN-Kubernetes), or, while none runs, what their controllers stamp on them (templates, gateway pod
labels), so a check holds while those pods restart. The API server calls from the masters' host
network, which NetworkPolicy sees as the namespace openshift-host-network (see _webhook_blocked).
"""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec, ZTunnelSpec
from . import mesh
from ._k8s import dig, labels, listing, name, namespace, namespace_labels, reads, selector_matches
from ._netpol import Peer, admits, policy_names, selecting

XDS_PORT, WEBHOOK_PORT = 15012, 15017
# OpenShift's DNS: Service dns-default port 53 -> the dns-default pods' port 5353 (UDP and TCP);
# NetworkPolicy sees the pod port (cluster-dns-operator assets/dns/daemonset.yaml).
DNS_NAMESPACE, DNS_LABELS, DNS_PORT = ("openshift-dns", {"dns.operator.openshift.io/daemonset-dns": "default"}, 5353)
DNS_PORT_NAMES = {"dns": DNS_PORT, "dns-tcp": DNS_PORT}   # the same daemonset.yaml names them (UDP, TCP)
API_SERVICE = ("default", "kubernetes")
HOST_NETWORK = ("openshift-host-network", {"kubernetes.io/metadata.name": "openshift-host-network",
                                           "policy-group.network.openshift.io/host-network": ""})


def _template_peer(obj: dict, ns: str, title: str) -> Peer:
    ports = {p["name"]: p.get("containerPort") for c in dig(obj, "spec.template.spec.containers", []) or []
             for p in c.get("ports") or [] if p.get("name")}
    return Peer(ns, dig(obj, "spec.template.metadata.labels", {}) or {}, named_ports=ports, title=title)


def _running(view, template: Peer, selector: dict | None) -> list[Peer]:
    """One peer per running pod the selector picks, with its own labels and IP; the template alone
    while none runs (then only a catch-all ipBlock surely covers it)."""
    pods = [p for p in view.list("pods", template.namespace) if selector and selector_matches(selector, labels(p))
            and dig(p, "status.phase") == "Running" and dig(p, "status.podIP")]
    return [Peer(template.namespace, dict(labels(p)), dig(p, "status.podIP"), template.named_ports, template.title)
            for p in pods] or [template]


def _ztunnel_pods(view, ztunnel: ZTunnelSpec) -> list[Peer]:
    ds = view.get("daemonsets", ztunnel.daemonset, ztunnel.namespace)
    if ds is None:
        return []
    return _running(view, _template_peer(ds, ztunnel.namespace, f"ztunnel ({ztunnel.namespace})"), dig(ds, "spec.selector"))


def _gateway_pods(view, gw: dict) -> list[Peer]:
    role = "waypoint" if dig(gw, "spec.gatewayClassName") == mesh.WAYPOINT_CLASS else "gateway"
    template = Peer(namespace(gw), mesh.gateway_pod_labels(view, gw), title=f"{role} {namespace(gw)}/{name(gw)}")
    return _running(view, template, {"matchLabels": {mesh.GATEWAY_NAME: name(gw)}})


def _istiod_pods(view, istio: IstioSpec) -> list[Peer]:
    dep = view.get("deployments", istio.istiod_deployment, istio.namespace)
    title = f"istiod ({istio.namespace}):{XDS_PORT}"
    if dep is None:
        return [Peer(istio.namespace, {"app": "istiod"}, title=title)]
    return _running(view, _template_peer(dep, istio.namespace, title), dig(dep, "spec.selector"))


def _proxy_groups(view, ztunnel: ZTunnelSpec) -> list[list[Peer]]:
    """The pods that dial istiod:15012, one group per owner: ztunnel's, then each waypoint's and
    istio-class gateway's Envoy (istiod deploys both kinds)."""
    groups = [_ztunnel_pods(view, ztunnel)] + [_gateway_pods(view, gw) for gw in mesh.istiod_gateways(view)]
    return [g for g in groups if g]


def _cut_off_istiod(view, istio: IstioSpec, subject: Peer, ns_labels: dict) -> tuple[list[str], list[dict]]:
    """What the Egress policies isolating `subject` keep it from: any istiod pod on 15012 (the
    Service balances over them all), DNS (to resolve istiod.<ns>.svc, the proxies' discovery
    address). Returns (cut, the isolating policies)."""
    egress = selecting(view.list("networkpolicies", subject.namespace), subject, "Egress")
    istiod = _istiod_pods(view, istio)
    unreached = [p for p in istiod if not admits(egress, "Egress", subject, p, XDS_PORT, ns_labels)]
    cut = [istiod[0].title + (f" (pods {listing(p.ip for p in unreached)})" if unreached[0].ip else "")] if unreached else []
    if _dns_blocked(view, egress, subject, ns_labels):
        cut.append(_dns_peer(view).title)
    return cut, egress


def _api_server_endpoints(view) -> list[tuple[Peer, int]]:
    """The `kubernetes` Service's endpoints: on OpenShift the masters' addresses, port 6443
    (NetworkPolicy is applied after the Service's DNAT, so 443 alone admits nothing). istiod's
    egress toward them is matched by ipBlock only."""
    out = []
    for eps in view.list("endpointslices", API_SERVICE[0]):
        if dig(eps, "metadata.labels", {}).get("kubernetes.io/service-name") != API_SERVICE[1]:
            continue
        ports = [p.get("port") for p in eps.get("ports") or [] if p.get("port")]
        for ep in eps.get("endpoints") or []:
            for address in ep.get("addresses") or []:
                out += [(Peer("", {}, ip=address, title=f"API server {address}:{port}"), port) for port in ports]
    return out


def _dns_peer(view) -> Peer:
    """OpenShift's dns-default pods, on the pod network (their IPs are not in the snapshot: an
    ipBlock admits them when it holds the cluster network of network.operator.openshift.io/cluster)."""
    network = view.get("networks", "cluster") or {}
    cidrs = tuple(n["cidr"] for n in dig(network, "spec.clusterNetwork", []) or [] if n.get("cidr"))
    return Peer(DNS_NAMESPACE, DNS_LABELS, named_ports=DNS_PORT_NAMES, networks=cidrs,
                title=f"DNS ({DNS_NAMESPACE} dns-default:{DNS_PORT})")


def _namespace_labels(view) -> dict[str, dict]:
    """Every namespace's labels, with openshift-host-network's as the Cluster Network Operator sets
    them when the snapshot does not hold that namespace."""
    return {HOST_NETWORK[0]: HOST_NETWORK[1]} | {name(ns): namespace_labels(ns) for ns in view.list("namespaces")}


def _dns_blocked(view, egress: list[dict], subject: Peer, ns_labels: dict) -> bool:
    return not any(admits(egress, "Egress", subject, _dns_peer(view), DNS_PORT, ns_labels, protocol)
                   for protocol in ("UDP", "TCP"))


def _webhook_blocked(ingress: list[dict], istiod: Peer, ns_labels: dict) -> bool:
    """The API server calls istiod:15017 from the masters' host network. OVN-Kubernetes sends
    host-to-pod traffic through the node's management port, so a rule admits it only when open to
    anyone, or by a namespaceSelector matching openshift-host-network (label
    policy-group.network.openshift.io/host-network, the way OpenShift documents admitting
    host-network callers); a pod selector or the masters' addresses in an ipBlock never do."""
    caller = Peer(HOST_NETWORK[0], {}, title="API server (host network)")
    return not admits(ingress, "Ingress", istiod, caller, WEBHOOK_PORT, ns_labels)


@reads("networkpolicies", "deployments", "daemonsets", "gateways", "pods", "namespaces", "endpointslices", "networks")
def istiod_xds_not_blocked(view, istio: IstioSpec, ztunnel: ZTunnelSpec) -> list[Finding]:
    """istio-system's NetworkPolicies let istiod serve and reach what it needs.

    Healthy: istiod admits 15012 from the ztunnel, waypoint and gateway (class istio) pods and
    15017 from the API server
    (not a pod: a rule on that port from anyone), and may reach the `kubernetes` endpoints and
    DNS. Broken: any of those cut; then ztunnel gets no config or certificates ("istiod cannot
    push xDS"), or istiod, cut off the API server, has nothing to push. Egress to ztunnel or the
    waypoints is not required: istiod never dials them."""
    policies = view.list("networkpolicies", istio.namespace)
    if not policies:
        return []
    obj = f"Deployment {istio.namespace}/{istio.istiod_deployment}"
    dep = view.get("deployments", istio.istiod_deployment, istio.namespace)
    if dep is None:
        return [Finding(obj, "istiod Deployment exists", "not found", runbook.ISTIOD)]
    istiod = _template_peer(dep, istio.namespace, "istiod")
    ns_labels = _namespace_labels(view)
    ingress, egress = selecting(policies, istiod, "Ingress"), selecting(policies, istiod, "Egress")
    endpoints = _api_server_endpoints(view)
    findings = []

    xds_blocked = [group[0].title for group in _proxy_groups(view, ztunnel)
                   if not all(admits(ingress, "Ingress", istiod, pod, XDS_PORT, ns_labels) for pod in group)]
    webhook_blocked = _webhook_blocked(ingress, istiod, ns_labels)
    if xds_blocked or webhook_blocked:
        blocked = [f"xDS/CA {XDS_PORT} from {listing(xds_blocked)}"] if xds_blocked else []
        blocked += [f"webhook {WEBHOOK_PORT} from the API server (it calls from the masters' host network, which "
                    f"only a rule open to anyone or to the namespace {HOST_NETWORK[0]} admits)"] if webhook_blocked else []
        findings.append(Finding(obj, f"ingress admitted on {XDS_PORT} (xDS/CA, dialled by ztunnel, waypoints and gateways) and "
                                     f"{WEBHOOK_PORT} (webhook, called by the API server)",
                                f"blocked: {'; '.join(blocked)} by Ingress policies {listing(policy_names(ingress))}",
                                runbook.ISTIOD_NETWORK_POLICY))

    cut = [p.title for p, port in endpoints if not admits(egress, "Egress", istiod, p, port, ns_labels)]
    if not endpoints and egress:
        # Unknown address: only a rule admitting every destination on 6443 surely lets istiod through.
        unknown = Peer("", {}, title="API server (kubernetes endpoints not readable) :6443")
        cut = [unknown.title] if not admits(egress, "Egress", istiod, unknown, 6443, ns_labels) else []
    if _dns_blocked(view, egress, istiod, ns_labels):
        cut.append(_dns_peer(view).title)
    if cut:
        findings.append(Finding(obj, "egress admitted to the Kubernetes API (the kubernetes Service's endpoints) and DNS",
                                f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                                runbook.ISTIOD_NETWORK_POLICY))
    return findings


@reads("networkpolicies", "deployments", "daemonsets", "pods", "namespaces", "networks")
def ztunnel_reaches_istiod(view, istio: IstioSpec, ztunnel: ZTunnelSpec) -> list[Finding]:
    """The ztunnel namespace's NetworkPolicies let ztunnel dial istiod:15012 and resolve it.

    Healthy: no policy, or egress admitted to the istiod pods on 15012 and to DNS. Broken: a
    policy in the ztunnel namespace that cuts either; ztunnel then has no workloads, no policies
    and no certificates, and every pod's traffic fails."""
    policies = view.list("networkpolicies", ztunnel.namespace)
    if not policies:
        return []
    ds = view.get("daemonsets", ztunnel.daemonset, ztunnel.namespace)
    if ds is None:
        return [Finding(f"DaemonSet {ztunnel.namespace}/{ztunnel.daemonset}", "exists", "not found",
                        runbook.ZTUNNEL_DAEMONSET)]
    cut, egress = _cut_off_istiod(view, istio, _ztunnel_pods(view, ztunnel)[0], _namespace_labels(view))
    if not cut:
        return []
    return [Finding(f"DaemonSet {ztunnel.namespace}/{ztunnel.daemonset}",
                    f"egress admitted to istiod:{XDS_PORT} (xDS/CA) and DNS",
                    f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                    runbook.ZTUNNEL_NETWORK_POLICY)]


@reads("networkpolicies", "deployments", "gateways", "pods", "namespaces", "networks")
def gateways_reach_istiod(view, istio: IstioSpec) -> list[Finding]:
    """The NetworkPolicies where each waypoint and istio-class gateway runs let its Envoy dial
    istiod:15012 and resolve it.

    Healthy: no Egress policy selects the proxy pods, or one admits istiod:15012 and DNS (a
    default-deny tenant ships that rule for its waypoint). Broken: an Egress policy that isolates
    them without it; the proxy then never gets its listeners or certificate, and all L7 traffic
    through it fails while its Gateway stays Programmed."""
    ns_labels = _namespace_labels(view)
    findings = []
    for gw in mesh.istiod_gateways(view):
        cut, egress = _cut_off_istiod(view, istio, _gateway_pods(view, gw)[0], ns_labels)
        if cut:
            findings.append(Finding(f"Gateway {namespace(gw)}/{name(gw)} (its Envoy pods)",
                                    f"egress admitted to istiod:{XDS_PORT} (xDS/CA) and DNS",
                                    f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                                    runbook.gateway_network_policy(namespace(gw), name(gw))))
    return findings
