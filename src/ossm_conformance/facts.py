"""Facts about the running mesh that reports and the pre-upgrade gate both need.

Each returns None when the cluster does not say (the caller reports "unknown"); none raises
for a missing object, because these feed headers and notes, not verdicts.
"""

from __future__ import annotations

from .profile import Operator, Profile


def _safe(fn):
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 — unreadable: the caller says "unknown"
            return None
    return wrapper


def operator_subscription(view, op: Operator) -> dict | None:
    """The Subscription for the package in its namespace: the one named after the package, else any.
    Raises when subscriptions could not be read (the operator checks turn that into an error)."""
    subs = [s for s in view.list("subscriptions", op.namespace) if (s.get("spec") or {}).get("name") == op.package]
    return next((s for s in subs if s["metadata"]["name"] == op.package), subs[0] if subs else None)


@_safe
def subscription(view, profile: Profile, package: str = "servicemeshoperator3") -> dict | None:
    op = next((o for o in profile.operators if o.package == package), None)
    return operator_subscription(view, op) if op else None


@_safe
def installed_csv(view, profile: Profile) -> str | None:
    sub = subscription(view, profile)
    return (sub or {}).get("status", {}).get("installedCSV")


@_safe
def active_revision(view, profile: Profile) -> dict | None:
    istio = view.get("istios", profile.istio.name)
    name = (istio or {}).get("status", {}).get("activeRevisionName")
    return view.get("istiorevisions", name) if name else None


@_safe
def running_istio_version(view, profile: Profile) -> str | None:
    """The resolved version the operator runs (IstioRevision.spec.version), not the alias."""
    rev = active_revision(view, profile)
    return (rev or {}).get("spec", {}).get("version")
