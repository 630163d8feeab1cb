"""Istio (selected by name), IstioCNI and ZTunnel: healthy, as profiled, on the profiled minor."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.control_plane


def test_sail_cr_healthy(conform, sail_cr):
    """The CR is Reconciled, Ready (and DependenciesHealthy), Healthy, with its generation observed"""
    conform(checks.control_plane.sail_cr_healthy, sail_cr)


def test_sail_cr_spec_as_profiled(conform, sail_cr):
    """The CR's spec (namespace, profile, version, update strategy) is as the runbook sets it"""
    conform(checks.control_plane.sail_cr_spec_as_profiled, sail_cr)


def test_active_revision_on_profiled_minor(conform, profile):
    """The active IstioRevision runs the profiled Istio minor and at least one revision is ready"""
    conform(checks.control_plane.active_revision_on_profiled_minor, profile.istio.name, profile.istio_minor)
