"""NetworkPolicies must let control-plane traffic flow the way it really flows in ambient mode.

Who dials whom (istio/istio manifests/charts/ztunnel, istio/ztunnel src/xds, src/inpod): ztunnel
and the waypoints dial istiod on 15012 (xDS and the CA); the API server calls istiod's webhook on
15017; istiod itself dials only the Kubernetes API (the `kubernetes` Service's endpoints, 6443 on
OpenShift) and DNS. istiod never dials ztunnel or a waypoint, so no egress toward them is needed.
HBONE (15008) runs from and to the workload pods' network namespaces (ztunnel in-pod mode), which
the tenants' own policies govern (tenants.network_policies_admit_hbone), not the ztunnel namespace.

Rules are evaluated, names are not trusted. ztunnel, waypoint and istiod pods are described by
what their controllers stamp on them (templates, waypoint pod labels), so a check holds while
those pods restart.
"""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec, ZTunnelSpec
from . import mesh
from ._k8s import dig, listing, name, namespace, namespace_labels, reads
from ._netpol import Peer, admits, policy_names, port_admitted_from_anyone, selecting

XDS_PORT, WEBHOOK_PORT = 15012, 15017
# OpenShift's DNS: Service dns-default port 53 -> the dns-default pods' port 5353 (UDP and TCP);
# NetworkPolicy sees the pod port (cluster-dns-operator assets/dns/daemonset.yaml).
DNS_NAMESPACE, DNS_LABELS, DNS_PORT = ("openshift-dns", {"dns.operator.openshift.io/daemonset-dns": "default"}, 5353)
API_SERVICE = ("default", "kubernetes")


def _template_peer(obj: dict, ns: str, title: str) -> Peer:
    ports = {p["name"]: p.get("containerPort") for c in dig(obj, "spec.template.spec.containers", []) or []
             for p in c.get("ports") or [] if p.get("name")}
    return Peer(ns, dig(obj, "spec.template.metadata.labels", {}) or {}, named_ports=ports, title=title)


def _ztunnel_peer(view, ztunnel: ZTunnelSpec) -> Peer | None:
    ds = view.get("daemonsets", ztunnel.daemonset, ztunnel.namespace)
    return _template_peer(ds, ztunnel.namespace, f"ztunnel ({ztunnel.namespace})") if ds else None


def _gateway_peer(view, gw: dict) -> Peer:
    role = "waypoint" if dig(gw, "spec.gatewayClassName") == mesh.WAYPOINT_CLASS else "gateway"
    return Peer(namespace(gw), mesh.gateway_pod_labels(view, gw), title=f"{role} {namespace(gw)}/{name(gw)}")


def _gateway_peers(view) -> list[Peer]:
    """The Envoy pods istiod deploys for waypoints (class istio-waypoint) and for ingress gateways
    (class istio): both dial istiod:15012."""
    return [_gateway_peer(view, gw) for gw in mesh.istiod_gateways(view)]


def _istiod_peer(view, istio: IstioSpec) -> Peer:
    dep = view.get("deployments", istio.istiod_deployment, istio.namespace)
    title = f"istiod ({istio.namespace}):{XDS_PORT}"
    return _template_peer(dep, istio.namespace, title) if dep else Peer(istio.namespace, {"app": "istiod"}, title=title)


def _cut_off_istiod(view, istio: IstioSpec, subject: Peer, ns_labels: dict) -> tuple[list[str], list[dict]]:
    """What the Egress policies isolating `subject` keep it from: istiod:15012, DNS (to resolve
    istiod.<ns>.svc, the proxies' discovery address). Returns (cut, the isolating policies)."""
    egress = selecting(view.list("networkpolicies", subject.namespace), subject, "Egress")
    istiod = _istiod_peer(view, istio)
    cut = [] if admits(egress, "Egress", subject, istiod, XDS_PORT, ns_labels) else [istiod.title]
    if _dns_blocked(egress, subject, ns_labels):
        cut.append(_dns_peer().title)
    return cut, egress


def _api_server_endpoints(view) -> list[tuple[Peer, int]]:
    """The `kubernetes` Service's endpoints: on OpenShift the masters' addresses, port 6443
    (NetworkPolicy is applied after the Service's DNAT, so 443 alone admits nothing)."""
    out = []
    for eps in view.list("endpointslices", API_SERVICE[0]):
        if dig(eps, "metadata.labels", {}).get("kubernetes.io/service-name") != API_SERVICE[1]:
            continue
        ports = [p.get("port") for p in eps.get("ports") or [] if p.get("port")]
        for ep in eps.get("endpoints") or []:
            for address in ep.get("addresses") or []:
                out += [(Peer("", {}, ip=address, title=f"API server {address}:{port}"), port) for port in ports]
    return out


def _dns_peer() -> Peer:
    return Peer(DNS_NAMESPACE, DNS_LABELS, title=f"DNS ({DNS_NAMESPACE} dns-default:{DNS_PORT})")


def _dns_blocked(egress: list[dict], subject: Peer, ns_labels: dict) -> bool:
    return not any(admits(egress, "Egress", subject, _dns_peer(), DNS_PORT, ns_labels, protocol)
                   for protocol in ("UDP", "TCP"))


@reads("networkpolicies", "deployments", "daemonsets", "gateways", "pods", "namespaces", "endpointslices")
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
    ns_labels = {name(ns): namespace_labels(ns) for ns in view.list("namespaces")}
    ingress, egress = selecting(policies, istiod, "Ingress"), selecting(policies, istiod, "Egress")
    findings = []

    proxies = [p for p in [_ztunnel_peer(view, ztunnel)] if p] + _gateway_peers(view)
    xds_blocked = [p.title for p in proxies if not admits(ingress, "Ingress", istiod, p, XDS_PORT, ns_labels)]
    webhook_open = port_admitted_from_anyone(ingress, istiod, WEBHOOK_PORT)
    if xds_blocked or not webhook_open:
        blocked = [f"xDS/CA {XDS_PORT} from {listing(xds_blocked)}"] if xds_blocked else []
        blocked += [] if webhook_open else [f"webhook {WEBHOOK_PORT} from the API server"]
        findings.append(Finding(obj, f"ingress admitted on {XDS_PORT} (xDS/CA, dialled by ztunnel, waypoints and gateways) and "
                                     f"{WEBHOOK_PORT} (webhook, called by the API server)",
                                f"blocked: {'; '.join(blocked)} by Ingress policies {listing(policy_names(ingress))}",
                                runbook.ISTIOD_NETWORK_POLICY))

    endpoints = _api_server_endpoints(view)
    cut = [p.title for p, port in endpoints if not admits(egress, "Egress", istiod, p, port, ns_labels)]
    if not endpoints and egress:
        # Unknown address: only a rule admitting every destination on 6443 surely lets istiod through.
        unknown = Peer("", {}, title="API server (kubernetes endpoints not readable) :6443")
        cut = [unknown.title] if not admits(egress, "Egress", istiod, unknown, 6443, ns_labels) else []
    if _dns_blocked(egress, istiod, ns_labels):
        cut.append(_dns_peer().title)
    if cut:
        findings.append(Finding(obj, "egress admitted to the Kubernetes API (the kubernetes Service's endpoints) and DNS",
                                f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                                runbook.ISTIOD_NETWORK_POLICY))
    return findings


@reads("networkpolicies", "deployments", "daemonsets", "namespaces")
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
    ns_labels = {name(ns): namespace_labels(ns) for ns in view.list("namespaces")}
    cut, egress = _cut_off_istiod(view, istio, _ztunnel_peer(view, ztunnel), ns_labels)
    if not cut:
        return []
    return [Finding(f"DaemonSet {ztunnel.namespace}/{ztunnel.daemonset}",
                    f"egress admitted to istiod:{XDS_PORT} (xDS/CA) and DNS",
                    f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                    runbook.ZTUNNEL_NETWORK_POLICY)]


@reads("networkpolicies", "deployments", "gateways", "pods", "namespaces")
def gateways_reach_istiod(view, istio: IstioSpec) -> list[Finding]:
    """The NetworkPolicies where each waypoint and istio-class gateway runs let its Envoy dial
    istiod:15012 and resolve it.

    Healthy: no Egress policy selects the proxy pods, or one admits istiod:15012 and DNS (a
    default-deny tenant ships that rule for its waypoint). Broken: an Egress policy that isolates
    them without it; the proxy then never gets its listeners or certificate, and all L7 traffic
    through it fails while its Gateway stays Programmed."""
    ns_labels = {name(ns): namespace_labels(ns) for ns in view.list("namespaces")}
    findings = []
    for gw in mesh.istiod_gateways(view):
        cut, egress = _cut_off_istiod(view, istio, _gateway_peer(view, gw), ns_labels)
        if cut:
            findings.append(Finding(f"Gateway {namespace(gw)}/{name(gw)} (its Envoy pods)",
                                    f"egress admitted to istiod:{XDS_PORT} (xDS/CA) and DNS",
                                    f"blocked to {listing(cut)} by Egress policies {listing(policy_names(egress))}",
                                    runbook.GATEWAY_NETWORK_POLICY))
    return findings
