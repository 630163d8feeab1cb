"""Pure checks, one module per area: `check(view, *args) -> list[Finding]`, no I/O.

`view` offers only .list(kind, namespace=None), .get(kind, name, namespace=None) and .server.
Each check declares the snapshot kinds it reads with `@reads(...)` (kube/views.py): the snapshot
plan reads exactly those kinds (plan.py). A check is named after its test without `test_`
(`data_plane.daemonset_rolled_out` is `test_daemonset_rolled_out`): one grep goes from a failing
test id to its check, and the plugin takes the kinds a test needs from its check.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

from . import control_plane, crds, data_plane, istio_system, operator, prerequisites, rbac, tenants, upgrade, waypoints

__all__ = ["control_plane", "crds", "data_plane", "istio_system", "operator", "prerequisites", "rbac", "tenants", "waypoints"]
# Every module whose functions read the snapshot (upgrade: the pre-upgrade gate's rules and notes).
MODULES = (control_plane, crds, data_plane, istio_system, operator, prerequisites, rbac, tenants, upgrade, waypoints)


@cache
def declared() -> dict[str, Callable]:
    """Every public function of the check modules that declares what it reads, by name (names are
    unique): the checks, and the pre-upgrade gate's notes."""
    found: dict[str, Callable] = {}
    for module in MODULES:
        for name, function in vars(module).items():
            if not name.startswith("_") and callable(function) and hasattr(function, "reads") and getattr(function, "__module__", "") == module.__name__:
                if name in found:
                    raise ValueError(f"two checks named {name}: {found[name].__module__} and {module.__name__}")
                found[name] = function
    return found
