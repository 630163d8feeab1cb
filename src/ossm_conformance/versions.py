"""Istio version strings: "v1.28.3" (a release) and "v1.28-latest" (an alias the operator resolves)."""

from __future__ import annotations

import re
from typing import NamedTuple

_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_ALIAS = re.compile(r"^v?(\d+)\.(\d+)-latest$")


class Version(NamedTuple):
    major: int
    minor: int
    patch: int

    @property
    def minor_str(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str | None) -> Version | None:
    """A concrete release, or None (aliases and garbage are not releases)."""
    m = _RELEASE.match((text or "").strip())
    return Version(int(m[1]), int(m[2]), int(m[3])) if m else None


def minor_of(text: str | None) -> str | None:
    """"1.28" for "v1.28.3" and for "v1.28-latest"; None for anything else."""
    text = (text or "").strip()
    m = _RELEASE.match(text) or _ALIAS.match(text)
    return f"{m[1]}.{m[2]}" if m else None
