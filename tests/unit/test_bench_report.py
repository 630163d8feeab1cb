"""docs/performance.md says which twin each figure belongs to (bench/report.py)."""

from __future__ import annotations

from bench import report
from bench.scenario import Measured, Series


def _measured(label: str, tenants: int, pods: int, seed_seconds: float) -> Measured:
    empty = Series()
    return Measured(label, 300, tenants, 2000, seed_seconds, empty, empty, empty, empty, 4, empty, pods)


def test_seeding_names_each_twin_once_with_the_scales_measured_on_it():
    small, mesh_only, large = (_measured("10 tenants", 10, 20000, 874.2), _measured("mesh-only", 504, 3106, 225.0),
                               _measured("realistic", 504, 20000, 874.2))
    line = report._seeding([small, mesh_only, large])
    assert line == ("300 nodes / 2000 namespaces / 20000 pods seeded in 874 s (measured as 10 tenants and realistic); "
                    "300 nodes / 2000 namespaces / 3106 pods seeded in 225 s (measured as mesh-only)")
