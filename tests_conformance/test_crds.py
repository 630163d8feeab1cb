"""The sail-operator's CRDs are installed, Established and serve v1."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.crds


def test_sail_crd_serves_v1(conform, sail_crd):
    """The sail-operator CRD is Established and serves and stores v1"""
    conform(checks.crds.sail_crd_serves_v1, sail_crd)
