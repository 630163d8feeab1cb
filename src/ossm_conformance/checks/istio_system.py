"""NetworkPolicies in the Istio namespace must not cut istiod off from ztunnel and the waypoints.

Rules are evaluated, names are not trusted. ztunnel and waypoint pods are described by what their
controllers stamp on them (the ztunnel DaemonSet's template; waypoint pod labels), so the check
holds even while those pods are restarting.
"""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec, ZTunnelSpec
from . import _mesh
from ._k8s import dig, listing, name, namespace, namespace_labels, reads
from ._netpol import Peer, admits, policy_names, port_admitted_from_anyone, selecting

XDS_PORT, HBONE_PORT, WEBHOOK_PORT = 15012, 15008, 15017


def _mesh_proxies(view, ztunnel: ZTunnelSpec) -> list[Peer]:
    peers = []
    ds = view.get("daemonsets", ztunnel.daemonset, ztunnel.namespace)
    if ds is not None:
        peers.append(Peer(ztunnel.namespace, dig(ds, "spec.template.metadata.labels", {}) or {}, title=f"ztunnel ({ztunnel.namespace})"))
    for gw in _mesh.waypoint_gateways(view):
        peers.append(Peer(namespace(gw), {_mesh.WAYPOINT_MANAGED[0]: _mesh.WAYPOINT_MANAGED[1],
                                          "gateway.networking.k8s.io/gateway-name": name(gw)},
                          title=f"waypoint {namespace(gw)}/{name(gw)}"))
    return peers


@reads("networkpolicies", "deployments", "daemonsets", "gateways", "namespaces")
def istiod_xds_not_blocked(view, istio: IstioSpec, ztunnel: ZTunnelSpec) -> list[Finding]:
    policies = view.list("networkpolicies", istio.namespace)
    if not policies:
        return []
    obj = f"Deployment {istio.namespace}/{istio.istiod_deployment}"
    dep = view.get("deployments", istio.istiod_deployment, istio.namespace)
    if dep is None:
        return [Finding(obj, "istiod Deployment exists", "not found", runbook.ISTIOD)]
    istiod = Peer(istio.namespace, dig(dep, "spec.template.metadata.labels", {}) or {}, title="istiod")
    proxies = _mesh_proxies(view, ztunnel)
    ns_labels = {name(ns): namespace_labels(ns) for ns in view.list("namespaces")}
    findings = []
    egress, ingress = selecting(policies, istiod, "Egress"), selecting(policies, istiod, "Ingress")

    egress_blocked = [p.title for p in proxies
                      if not any(admits(egress, "Egress", istiod, p, port, ns_labels) for port in (HBONE_PORT, XDS_PORT))]
    if egress_blocked:
        findings.append(Finding(obj, "egress to ztunnel and waypoints admitted (TCP 15008/15012, or all)",
                                f"blocked to {listing(egress_blocked)} by Egress policies "
                                f"{listing(policy_names(egress))}", runbook.ISTIOD_NETWORK_POLICY))
    xds_blocked = [p.title for p in proxies if not admits(ingress, "Ingress", istiod, p, XDS_PORT, ns_labels)]
    webhook_open = port_admitted_from_anyone(ingress, istiod, WEBHOOK_PORT)
    if xds_blocked or not webhook_open:
        blocked = [f"xDS {XDS_PORT} from {listing(xds_blocked)}"] if xds_blocked else []
        blocked += [] if webhook_open else [f"webhook {WEBHOOK_PORT} from anyone"]
        findings.append(Finding(obj, f"ingress admitted on {XDS_PORT} (xDS from ztunnel and waypoints) and {WEBHOOK_PORT} (webhook)",
                                f"blocked: {'; '.join(blocked)} by Ingress policies "
                                f"{listing(policy_names(ingress))}", runbook.ISTIOD_NETWORK_POLICY))
    return findings
