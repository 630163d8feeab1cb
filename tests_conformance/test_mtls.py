"""Live mTLS: every profiled edge of an ambient tenant is encrypted, by ztunnel's own counters.

Evidence is a delta over --mtls-window, not presence: the destination ztunnel's mutual_tls series
from the source's SPIFFE principal delivered data (bytes, or connections completed without DENY),
hop by hop through a waypoint; no plaintext from the source, none accepted from anyone
(mtls/evidence.py says what a healthy and a broken cluster show). One test per (source, edge):
with --mtls-source both, the probe and Prometheus must each pass, so they must agree.
"""

import pytest

from ossm_conformance.findings import render_all

# One xdist worker runs them all, so each source observes once per run (the probe pods are
# created once, not once per worker); the project's addopts use --dist loadgroup.
pytestmark = [pytest.mark.mtls, pytest.mark.xdist_group("mtls")]


def pytest_generate_tests(metafunc):
    # The sources come from the command line, not the profile, so they are parametrized here.
    if "mtls_source" in metafunc.fixturenames:
        chosen = metafunc.config.option.mtls_source
        sources = ("probe", "prometheus") if chosen == "both" else (chosen,)
        metafunc.parametrize("mtls_source", [
            pytest.param(s, id=s, marks=[pytest.mark.probes] if s == "probe" else []) for s in sources], indirect=True)


def test_edge_traffic_is_mutual_tls(mtls_verdict):
    """ztunnel saw the profiled identity deliver mutual_tls data on the edge, and no plaintext got through"""
    if mtls_verdict.findings:
        raise AssertionError(render_all(mtls_verdict.findings))
