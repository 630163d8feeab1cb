"""OpenShift's prerequisites of ambient mode: istiod trusts the ZTunnel namespace, OVN-Kubernetes
local gateway mode, the Gateway API CRDs."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.prerequisites


def test_istio_trusts_ztunnel_namespace(conform, profile):
    """The Istio CR sets spec.values.pilot.trustedZtunnelNamespace to the ZTunnel namespace"""
    conform(checks.prerequisites.istio_trusts_ztunnel_namespace, profile.istio, profile.ztunnel)


def test_ovn_kubernetes_local_gateway_mode(conform):
    """The cluster network is OVN-Kubernetes in local gateway mode (routingViaHost: true)"""
    conform(checks.prerequisites.ovn_kubernetes_local_gateway_mode)


def test_gateway_api_crds_installed(conform):
    """The Gateway API CRDs are installed and Established"""
    conform(checks.prerequisites.gateway_api_crds_installed)
