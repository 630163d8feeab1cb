"""The sail-operator's CRDs: present, Established, serving and storing v1."""

from __future__ import annotations

from .. import runbook
from ..findings import Finding
from ._k8s import condition_status, describe_condition, dig, reads

# The kinds the suite reads from the sail-operator (product facts, not cluster facts).
SAIL_CRDS = ("istios.sailoperator.io", "istiocnis.sailoperator.io", "ztunnels.sailoperator.io",
             "istiorevisions.sailoperator.io")
SERVED_VERSION = "v1"
# Gateway API (standard channel): waypoints are Gateways, L7 routes HTTPRoutes/GRPCRoutes.
GATEWAY_API_CRDS = ("gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
                    "httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io",
                    "referencegrants.gateway.networking.k8s.io")


@reads("customresourcedefinitions")
def sail_crd_serves_v1(view, crd_name: str) -> list[Finding]:
    obj = f"CustomResourceDefinition {crd_name}"
    crd = view.get("customresourcedefinitions", crd_name)
    if crd is None:
        return [Finding(obj, "installed", "not found", runbook.CRDS)]
    findings = []
    established = condition_status(crd, "Established")
    if established != "True":
        # Absent or Unknown right after creation is the API server catching up; False is a conflict.
        findings.append(Finding(obj, "condition Established=True", describe_condition(crd, "Established"),
                                runbook.CRDS, settling=established in ("absent", "Unknown")))
    versions = {v.get("name"): v for v in dig(crd, "spec.versions", []) or []}
    v1 = versions.get(SERVED_VERSION)
    if v1 is None or not v1.get("served") or not v1.get("storage"):
        seen = ", ".join(f"{n}(served={v.get('served')}, storage={v.get('storage')})" for n, v in sorted(versions.items()))
        findings.append(Finding(obj, f"version {SERVED_VERSION} served and the storage version", seen or "no versions",
                                runbook.CRDS))
    return findings
