"""The import rule (docs/architecture.md) holds on the tree: `python -m tools.imports` finds no
import pointing up the layer order, no two units importing each other, no private module reached
from another unit; and every unit of the tree sits in a layer."""

from __future__ import annotations

import subprocess
import sys

from tools import imports


def test_every_arrow_points_down():
    arrows, private = imports.graph()
    assert imports.problems(arrows, private) == []


def test_the_command_says_so_and_exits_zero():
    run = subprocess.run([sys.executable, "-m", "tools.imports"], cwd=imports.REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "every arrow points down"


def test_an_arrow_up_the_layers_is_named():
    arrows = {"ossm_conformance.kube": {"ossm_conformance.checks"}, "ossm_conformance.checks": set()}
    assert imports.problems(arrows, []) == ["up: ossm_conformance.kube (kube) -> ossm_conformance.checks (checks)"]


def test_two_units_importing_each_other_are_a_cycle():
    arrows = {"ossm_conformance.gate": {"ossm_conformance.plugin"}, "ossm_conformance.plugin": {"ossm_conformance.gate"}}
    assert imports.problems(arrows, []) == ["cycle: ossm_conformance.gate <-> ossm_conformance.plugin"]
