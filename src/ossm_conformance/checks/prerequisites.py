"""OpenShift's prerequisites of ambient mode, as Red Hat's install steps state them (OSSM 3.x,
"Installing Istio ambient mode"): istiod trusts the ZTunnel namespace, OVN-Kubernetes runs in
local gateway mode, the Gateway API CRDs are installed."""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ..profile import IstioSpec, ZTunnelSpec
from ._k8s import condition_status, describe_condition, dig, reads
from .crds import GATEWAY_API_CRDS


@reads("istios")
def istio_trusts_ztunnel_namespace(view, istio: IstioSpec, ztunnel: ZTunnelSpec) -> list[Finding]:
    """The Istio CR sets spec.values.pilot.trustedZtunnelNamespace to the ZTunnel namespace.

    Healthy: `ztunnel` (OSSM runs ZTunnel outside istiod's namespace; the chart turns the value
    into CA_TRUSTED_NODE_ACCOUNTS=ztunnel/ztunnel, istio/istio manifests/charts/istio-control/
    istio-discovery/templates/deployment.yaml). Broken: unset or another namespace: istiod refuses
    ztunnel's certificate requests for the workloads it serves."""
    obj = view.get("istios", istio.name)
    if obj is None:
        return [Finding(f"Istio/{istio.name}", "exists", "not found", runbook.CONTROL_PLANE_READY)]
    trusted = dig(obj, "spec.values.pilot.trustedZtunnelNamespace")
    if trusted == ztunnel.namespace:
        return []
    return [Finding(f"Istio/{istio.name}", f"spec.values.pilot.trustedZtunnelNamespace {ztunnel.namespace}",
                    f"spec.values.pilot.trustedZtunnelNamespace {trusted if trusted else '(unset)'}",
                    runbook.TRUSTED_ZTUNNEL_NAMESPACE_STEP)]


@reads("networks")
def ovn_kubernetes_local_gateway_mode(view) -> list[Finding]:
    """network.operator.openshift.io/cluster runs OVN-Kubernetes with gatewayConfig.routingViaHost.

    Healthy: defaultNetwork.type OVNKubernetes, ovnKubernetesConfig.gatewayConfig.routingViaHost
    true (local gateway mode; openshift/api operator/v1 types_network.go). Broken: shared gateway
    mode (routingViaHost false or unset, the default) or another network plugin."""
    obj = "Network.operator.openshift.io/cluster"
    network = view.get("networks", "cluster")
    if network is None:
        return [Finding(obj, "exists (the Cluster Network Operator's configuration)", "not found", runbook.OVN_LOCAL_GATEWAY)]
    findings = []
    kind = dig(network, "spec.defaultNetwork.type")
    if kind != "OVNKubernetes":
        findings.append(Finding(obj, "spec.defaultNetwork.type OVNKubernetes", f"spec.defaultNetwork.type {kind}",
                                runbook.OVN_LOCAL_GATEWAY))
    via_host = dig(network, "spec.defaultNetwork.ovnKubernetesConfig.gatewayConfig.routingViaHost")
    if via_host is not True:
        findings.append(Finding(obj, "spec.defaultNetwork.ovnKubernetesConfig.gatewayConfig.routingViaHost true "
                                     "(local gateway mode)",
                                f"routingViaHost {via_host if via_host is not None else '(unset: shared gateway mode)'}",
                                runbook.OVN_LOCAL_GATEWAY))
    return findings


@reads("customresourcedefinitions")
def gateway_api_crds_installed(view) -> list[Finding]:
    """The Gateway API CRDs (standard channel) are installed and Established.

    Healthy: every one Established. Broken: missing (no waypoint Gateway can exist) or not
    Established (a name conflict)."""
    findings = []
    for crd_name in GATEWAY_API_CRDS:
        crd = view.get("customresourcedefinitions", crd_name)
        obj = f"CustomResourceDefinition {crd_name}"
        if crd is None:
            findings.append(Finding(obj, "installed", "not found", runbook.GATEWAY_API_CRDS))
        elif condition_status(crd, "Established") != "True":
            findings.append(Finding(obj, "condition Established=True", describe_condition(crd, "Established"),
                                    runbook.GATEWAY_API_CRDS, settling=condition_status(crd, "Established") != "False"))
    return findings
