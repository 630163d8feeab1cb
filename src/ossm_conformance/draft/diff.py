"""PURE: what the live cluster (a Draft) has that a profile does not, and the reverse, one line each.

Compared field by field from the profile dataclasses, so a field added to the schema (operator
version pins, opt-out exceptions) is compared without touching this file. What the cluster cannot
tell is not a difference: an excluded tenant only needs its namespace to exist and not be enrolled
(namespace label, or any pod's label); an opt-out is compared by workload, never by its reason;
`ignored_namespaces` are the profile's to keep; the cluster name is the file's. Edges are compared
only when they were observed, and a profiled edge not seen is reported with the window it was not
seen in (a quiet edge is not proof of plaintext: the suite's mTLS tests judge that).
"""

from __future__ import annotations

from dataclasses import fields

from ..checks.mesh import DATAPLANE_MODE
from ..profile import Profile, Tenant
from .live import MIXED, Draft

NOT_COMPARED = {"cluster", "source", "tenants", "operators", "ignored_namespaces"}


def differences(profile: Profile, live: Draft) -> list[str]:
    cluster = live.profile
    out: list[str] = []
    for f in fields(Profile):
        if f.name in NOT_COMPARED:
            continue
        mine, theirs = getattr(profile, f.name), getattr(cluster, f.name)
        if hasattr(mine, "__dataclass_fields__"):
            out += _fields(f.name, mine, theirs)
        elif mine != theirs:
            out.append(f"{f.name}: profile {mine!r}, cluster {theirs!r}")
    out += _keyed("operator", {o.package: o for o in profile.operators}, {o.package: o for o in cluster.operators})
    out += _tenants(profile, live)
    return out


def _fields(where: str, mine, theirs) -> list[str]:
    return [f"{where}.{f.name}: profile {getattr(mine, f.name)!r}, cluster {getattr(theirs, f.name)!r}"
            for f in fields(mine) if getattr(mine, f.name) != getattr(theirs, f.name)]


def _keyed(what: str, mine: dict, theirs: dict) -> list[str]:
    out = []
    for key in sorted(mine.keys() | theirs.keys()):
        if key not in theirs:
            out.append(f"{what} {key}: in the profile, not in the cluster")
        elif key not in mine:
            out.append(f"{what} {key}: in the cluster, not in the profile")
        else:
            out += _fields(f"{what} {key}", mine[key], theirs[key])
    return out


def _tenants(profile: Profile, live: Draft) -> list[str]:
    out = []
    ignored = set(profile.ignored_namespaces)
    seen = {t.namespace: t for t in live.profile.tenants}
    for t in profile.tenants:
        mode = live.modes.get(t.namespace, "not enrolled")
        if t.namespace not in live.namespaces:
            out.append(f"tenant {t.namespace}: in the profile ({t.mode}), no such namespace in the cluster")
        elif t.mode == "excluded":
            if t.namespace in seen:
                out.append(f"tenant {t.namespace}: profile excluded, cluster {mode}")
            out += _pods_enrolled_by_label(t.namespace, live, "profile excluded")
        elif t.namespace not in seen:
            out.append(f"tenant {t.namespace}: profile {t.mode}, cluster not enrolled")
        else:
            out += _tenant(t, seen[t.namespace], mode, live)
    profiled = {t.namespace for t in profile.tenants}
    for ns in sorted(seen.keys() - profiled - ignored):
        out.append(f"tenant {ns}: in the cluster ({live.modes.get(ns, seen[ns].mode)}), not in the profile")
    for ns in sorted(live.pods.keys() - profiled - ignored - seen.keys()):
        out += _pods_enrolled_by_label(ns, live, "not in the profile")
    return out


def _pods_enrolled_by_label(ns: str, live: Draft, what: str) -> list[str]:
    return [f"namespace {ns} ({what}): workload {w} enrolled by its pod label {DATAPLANE_MODE}=ambient"
            for w in live.pods[ns].pod_enrolled] if ns in live.pods else []


def _pod_level(mine: Tenant, live: Draft) -> list[str]:
    """Workloads that depart from their ambient namespace: opt-outs (allowed only when profiled)
    and sidecars (never in an ambient tenant)."""
    facts = live.pods.get(mine.namespace)
    opted_out = set(facts.opted_out) if facts else set()
    allowed = {o.workload for o in mine.opt_outs}
    out = [f"tenant {mine.namespace}: workload {w} opts out ({DATAPLANE_MODE}=none), not in the profile's opt_outs"
           for w in sorted(opted_out - allowed)]
    out += [f"tenant {mine.namespace}: opt-out {w} in the profile, no pod of it opts out in the cluster"
            for w in sorted(allowed - opted_out)]
    out += [f"tenant {mine.namespace}: workload {w} runs an istio-proxy sidecar in an ambient namespace"
            for w in (facts.sidecars if facts else ())]
    return out


def _tenant(mine: Tenant, theirs: Tenant, live_mode: str, live: Draft) -> list[str]:
    out = []
    if live_mode == MIXED or mine.mode != theirs.mode:
        out.append(f"tenant {mine.namespace}: profile {mine.mode}, cluster {live_mode}")
    if mine.waypoint != theirs.waypoint and mine.mode == theirs.mode:
        out.append(f"tenant {mine.namespace}: waypoint profile {mine.waypoint!r}, cluster {theirs.waypoint!r}")
    out += _pod_level(mine, live)
    if live.edges_source and mine.ambient:
        profiled, observed = set(mine.edges), set(theirs.edges)
        for e in sorted(profiled - observed, key=lambda e: e.id(mine.namespace)):
            out.append(f"edge {e.id(mine.namespace)}: in the profile, not seen as mutual_tls in the cluster "
                       f"over {live.edges_source}")
        for e in sorted(observed - profiled, key=lambda e: e.id(mine.namespace)):
            out.append(f"edge {e.id(mine.namespace)}: seen as mutual_tls in the cluster over {live.edges_source}, "
                       f"not in the profile")
    return out
