"""The view a check gets: the shared snapshot, limited to the kinds its test declared.

Declaring kinds (`@pytest.mark.reads(...)`) lets the plugin turn an unreadable kind into an
*error* during setup; reading an undeclared kind is a suite defect, reported as such.
"""

from __future__ import annotations


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
