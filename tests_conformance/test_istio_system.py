"""NetworkPolicies in the Istio namespace leave istiod reachable for xDS and the webhook."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.istio_system


@pytest.mark.reads("networkpolicies", "deployments", "daemonsets", "gateways", "namespaces")
def test_istiod_xds_not_blocked(conform, profile):
    """istiod's NetworkPolicies admit xDS (15012) and the webhook (15017) and egress to ztunnel/waypoints"""
    conform(checks.istio_system.istiod_xds_not_blocked, profile.istio, profile.ztunnel)
