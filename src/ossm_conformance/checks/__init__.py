"""Pure checks, one module per area: `check(view, *args) -> list[Finding]`, no I/O.

`view` offers only .list(kind, namespace=None), .get(kind, name, namespace=None) and .server.
Each check declares the snapshot kinds it reads with `@reads(...)` (see _k8s.reads).
"""

from . import control_plane, crds, data_plane, istio_system, operator, prerequisites, rbac, tenants, waypoints

__all__ = ["control_plane", "crds", "data_plane", "istio_system", "operator", "prerequisites", "rbac", "tenants", "waypoints"]
