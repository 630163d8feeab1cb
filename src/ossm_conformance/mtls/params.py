"""Test parameters of the mTLS evidence: one id per profiled edge of an ambient tenant.

Merged with params.PARAMS by the plugin. Ids come from Edge.id (e.g.
`bank-employees-jboss-chat:bff->chat-backend`), in the profile's order for every xdist worker.
"""

from __future__ import annotations

from typing import Callable

from ..profile import Profile


def _edges(p: Profile) -> list[tuple[str, tuple]]:
    return [(e.id(t.namespace), (t.namespace, e)) for t in p.ambient_tenants for e in t.edges]


def destination_namespaces(p: Profile) -> list[str]:
    """Where the profiled edges land: what the probe keeps and Prometheus is asked about."""
    return list(dict.fromkeys(e.destination_namespace or t.namespace for t in p.ambient_tenants for e in t.edges))


MTLS_PARAMS: dict[str, Callable[[Profile], list[tuple[str, object]]]] = {
    "edge": _edges,
}
