"""Test parameters built from the profile: one (id, value) per object, so the id alone says what broke.

The plugin parametrizes any test argument named here, indirectly: each is a fixture of
fixtures/params.py (with its docstring). Order is the profile's (or a fixed product order), never
a set's, so every xdist worker collects the same ids.
"""

from __future__ import annotations

from typing import Callable

from .checks.control_plane import ExpectedCR
from .checks.crds import SAIL_CRDS
from .checks.data_plane import DaemonSetRef
from .profile import Profile


def _operators(p: Profile):
    return [(op.package, op) for op in p.operators]


def _sail_crs(p: Profile):
    istio_spec = [("namespace", p.istio.namespace), ("profile", p.istio.profile), ("version", p.istio.version),
                  ("updateStrategy.type", p.istio.update_strategy)]
    if p.istio.inactive_revision_deletion_grace_period_seconds is not None:
        istio_spec.append(("updateStrategy.inactiveRevisionDeletionGracePeriodSeconds",
                           p.istio.inactive_revision_deletion_grace_period_seconds))
    cni_spec = [("namespace", p.istio_cni.namespace), ("version", p.istio_cni.version)]
    if p.istio_cni.profile:
        cni_spec.insert(1, ("profile", p.istio_cni.profile))
    cni_ds = ("cni", p.istio_cni.namespace, p.istio_cni.daemonset)
    ztunnel_ds = ("ztunnel", p.ztunnel.namespace, p.ztunnel.daemonset)
    crs = [ExpectedCR("istios", p.istio.name, tuple(istio_spec), p.istio_minor, (cni_ds, ztunnel_ds)),
           ExpectedCR("istiocnis", p.istio_cni.name, tuple(cni_spec), p.istio_minor, (cni_ds,)),
           ExpectedCR("ztunnels", p.ztunnel.name, (("namespace", p.ztunnel.namespace), ("version", p.ztunnel.version)),
                      p.istio_minor, (ztunnel_ds,))]
    return [(cr.title, cr) for cr in crs]


def _daemonsets(p: Profile):
    refs = [DaemonSetRef(p.istio_cni.namespace, p.istio_cni.daemonset, "cni"),
            DaemonSetRef(p.ztunnel.namespace, p.ztunnel.daemonset, "ztunnel")]
    return [(r.title, r) for r in refs]


def _tenants(*modes: str) -> Callable[[Profile], list]:
    return lambda p: [(t.namespace, t) for t in p.tenants if t.mode in modes]


PARAMS: dict[str, Callable[[Profile], list[tuple[str, object]]]] = {
    "operator": _operators,
    "sail_crd": lambda p: [(crd, crd) for crd in SAIL_CRDS],
    "sail_cr": _sail_crs,
    "daemonset": _daemonsets,
    "ambient_tenant": _tenants("ambient", "ambient+waypoint"),
    "waypoint_tenant": _tenants("ambient+waypoint"),
    "excluded_tenant": _tenants("excluded"),
    "sidecar_tenant": _tenants("sidecar"),
}
