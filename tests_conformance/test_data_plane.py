"""istiod, and the istio-cni and ztunnel DaemonSets on every node they should cover."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.data_plane


def test_istiod_available(conform, profile):
    """istiod is available with every replica updated, ready and available"""
    conform(checks.data_plane.istiod_available, profile.istio)


def test_daemonset_rolled_out(conform, daemonset):
    """The DaemonSet is rolled out on every node it should cover, ready but for NotReady nodes"""
    conform(checks.data_plane.daemonset_rolled_out, daemonset)


def test_daemonset_pod_ready_on_every_node(conform, daemonset):
    """One Ready pod of the DaemonSet runs on every node it should cover"""
    conform(checks.data_plane.daemonset_pod_ready_on_every_node, daemonset)


def test_daemonset_covers_enrolled_pods(conform, daemonset):
    """The DaemonSet's node placement reaches every node where enrolled tenant pods run"""
    conform(checks.data_plane.daemonset_covers_enrolled_pods, daemonset)
