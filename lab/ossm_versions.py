"""OSSM 3.3's Istio versions, as its operator ships them, so the twin runs version pairs that occur.

Source: openshift-service-mesh/sail-operator branch release-3.3, pkg/istioversion/versions.ossm.yaml
(CSV servicemeshoperator3.v3.3.7 at that branch's head): `v1.28-latest` resolves to v1.28.10, and
the CRDs' spec.version enum (chart/crds/sailoperator.io_*.yaml on that branch) lists only these.
The shared CRDs are upstream sail-operator 1.28.3, whose enum runs v1.21.6 .. v1.28.3 instead:
the lab rewrites the enum and default the way OSSM's build generates them from that file.
"""

from __future__ import annotations

import copy

CSV_VERSION = "3.3.7"
LATEST = {"v1.28-latest": "v1.28.10", "v1.27-latest": "v1.27.9", "v1.26-latest": "v1.26.8"}
RELEASES = ("v1.28.10", "v1.28.8", "v1.28.6", "v1.28.5", "v1.28.4", "v1.27.9", "v1.27.8", "v1.27.5", "v1.27.3",
            "v1.26.8", "v1.26.6", "v1.26.4", "v1.26.3", "v1.26.2")
DEFAULT = "v1.28.10"
# Istio, IstioCNI and ZTunnel accept the aliases; an IstioRevision holds a resolved release only.
_WITH_ALIASES = ("istios.sailoperator.io", "istiocnis.sailoperator.io", "ztunnels.sailoperator.io")
_RELEASES_ONLY = ("istiorevisions.sailoperator.io",)


def _enum(crd_name: str) -> list[str]:
    if crd_name in _RELEASES_ONLY:
        return list(RELEASES)
    out = []
    for alias, release in LATEST.items():  # OSSM lists each minor's alias first, then its releases
        out += [alias] + [r for r in RELEASES if r.rsplit(".", 1)[0] == release.rsplit(".", 1)[0]]
    return out


def as_ossm_ships(crds: list[dict]) -> list[dict]:
    """The CRDs with OSSM 3.3's spec.version enum and default; other CRDs unchanged."""
    out = []
    for crd in crds:
        name = crd["metadata"]["name"]
        if name in _WITH_ALIASES + _RELEASES_ONLY:
            crd = copy.deepcopy(crd)
            for version in crd["spec"]["versions"]:
                spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
                if "version" in (spec.get("default") or {}):  # IstioCNI/ZTunnel default their whole spec
                    spec["default"]["version"] = DEFAULT
                prop = spec["properties"]["version"]
                prop["enum"] = _enum(name)
                if "default" in prop:
                    prop["default"] = DEFAULT
                prop["description"] = (prop.get("description", "").split("Must be one of:")[0]
                                       + "Must be one of: " + ", ".join(prop["enum"]) + ".")
        out.append(crd)
    return out
