"""NetworkPolicies in the Istio and ZTunnel namespaces let control-plane traffic flow as it does in ambient."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.istio_system


def test_istiod_xds_not_blocked(conform, profile):
    """istiod admits xDS/CA (15012) from ztunnel, waypoints and gateways and the webhook (15017), and reaches the API and DNS"""
    conform(checks.istio_system.istiod_xds_not_blocked, profile.istio, profile.ztunnel)


def test_ztunnel_reaches_istiod(conform, profile):
    """NetworkPolicies in the ztunnel namespace let ztunnel dial istiod:15012 and DNS"""
    conform(checks.istio_system.ztunnel_reaches_istiod, profile.istio, profile.ztunnel)


def test_gateways_reach_istiod(conform, profile):
    """NetworkPolicies where each waypoint and istio-class gateway runs let its Envoy dial istiod:15012 and DNS"""
    conform(checks.istio_system.gateways_reach_istiod, profile.istio)
