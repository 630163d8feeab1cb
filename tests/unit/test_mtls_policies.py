"""Which AuthorizationPolicies a denied edge's message names: those ztunnel enforces."""

from __future__ import annotations

from mtls_samples import NS

from ossm_conformance.kube.snapshot import Read, ReadResult, Snapshot
from ossm_conformance.mtls.policies import enforced_by_ztunnel


def _policy(name: str, namespace: str, **spec) -> dict:
    return {"kind": "AuthorizationPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_selector_bound_namespace_wide_and_mesh_wide_policies_are_named_a_waypoints_are_not():
    policies = [
        _policy("deny-bff", NS, action="DENY", selector={"matchLabels": {"app": "chat-backend"}}),
        _policy("allow-all", NS, rules=[{}]),
        _policy("l7-on-waypoint", NS, targetRefs=[{"kind": "Gateway", "name": "waypoint"}]),
        _policy("mesh-deny", "istio-system", action="DENY"),
        _policy("istiod-only", "istio-system", selector={"matchLabels": {"app": "istiod"}}),
        _policy("elsewhere", "ossm3-demo", action="DENY"),
    ]
    view = Snapshot([ReadResult(Read("authorizationpolicies"), policies)])
    assert enforced_by_ztunnel(view, NS, "istio-system") == (
        f"{NS}/allow-all (ALLOW)", f"{NS}/deny-bff (DENY)", "istio-system/mesh-deny (DENY)")
