"""Waypoints: the profiled waypoint Gateways, and L7 policy only where a waypoint enforces it."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.waypoints


@pytest.mark.reads("gateways", "gatewayclasses", "namespaces", "services")
def test_waypoint_gateway_ready(conform, waypoint_tenant):
    """The waypoint Gateway (istio-waypoint, HBONE 15008) is Programmed and used by the namespace"""
    conform(checks.waypoints.waypoint_gateway_ready, waypoint_tenant)


@pytest.mark.reads("authorizationpolicies", "httproutes", "grpcroutes", "gateways", "namespaces")
def test_l7_policies_have_a_waypoint(conform, profile):
    """No L7 AuthorizationPolicy or mesh route sits in a namespace without a waypoint"""
    conform(checks.waypoints.l7_policies_have_a_waypoint, profile.istio.namespace)
