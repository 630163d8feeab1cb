"""Waypoints: the profiled waypoint Gateways carry L7, and L7 configuration sits only where a proxy applies it."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.waypoints


def test_waypoint_gateway_ready(conform, waypoint_tenant):
    """The waypoint Gateway is Programmed, its Envoy Deployment ready, waypoint-for as profiled, used by the namespace"""
    conform(checks.waypoints.waypoint_gateway_ready, waypoint_tenant)


def test_l7_policies_have_a_waypoint(conform, profile):
    """Every L7 policy, route and VirtualService is applied by a waypoint (or a non-waypoint Envoy gateway)"""
    conform(checks.waypoints.l7_policies_have_a_waypoint, profile.istio.namespace)


def test_istiod_reports_no_rejection(conform):
    """istiod reports no AuthorizationPolicy or Service it could not apply (IST0171)"""
    conform(checks.waypoints.istiod_reports_no_rejection)


def test_no_sidecar_resource_in_ambient_namespaces(conform):
    """No Sidecar resource sits in an ambient namespace, where it has no effect (IST0167)"""
    conform(checks.waypoints.no_sidecar_resource_in_ambient_namespaces)
