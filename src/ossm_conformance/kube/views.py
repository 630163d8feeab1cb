"""The view a check gets: the shared snapshot, limited to the kinds the check declared.

A function that reads the snapshot declares its kinds with `@reads(...)`. The snapshot plan
reads exactly the kinds declared (checks/plan.py); the plugin turns an unreadable declared kind
into an *error* during setup; reading an undeclared kind is a suite defect, reported as such.
"""

from __future__ import annotations

from typing import Callable

from .kinds import KINDS


def reads(*kinds: str) -> Callable:
    """Declare the snapshot kinds a function may read. The unit tests hold every check to it, and
    the snapshot plan is derived from these declarations."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"not snapshot kinds: {unknown}")

    def mark(check):
        check.reads = tuple(kinds)
        return check
    return mark


class SuiteDefect(RuntimeError):
    """The suite itself is wrong (e.g. a check reads a kind its test did not declare)."""


class DeclaredView:
    def __init__(self, view, declared: set[str]):
        self.view = view
        self.declared = declared
        self.server = view.server

    def _allow(self, kind: str) -> None:
        if kind not in self.declared:
            raise SuiteDefect(f"suite defect: the check read '{kind}' but its test declares only {sorted(self.declared)}")

    def list(self, kind, namespace=None):
        self._allow(kind)
        return self.view.list(kind, namespace)

    def get(self, kind, name, namespace=None):
        self._allow(kind)
        return self.view.get(kind, name, namespace)
