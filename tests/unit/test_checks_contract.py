"""The suite's contract, checked statically: each conformance test declares exactly the kinds its
checks read, has its area marker and a one-line title, and every public check is run by a test.

A kind missing from `reads` would be a suite defect at run time (and an unreadable kind would be
missed by setup); an extra one would turn an unrelated unreadable kind into an error.
"""

import ast
import inspect
from pathlib import Path

import pytest

from ossm_conformance import checks
from ossm_conformance.params import PARAMS

SUITE = Path(__file__).resolve().parents[2] / "tests_conformance"
AREA_OF = {"test_operator": "operator", "test_crds": "crds", "test_control_plane": "control_plane",
           "test_data_plane": "data_plane", "test_tenants": "tenants", "test_waypoints": "waypoints",
           "test_istio_system": "istio_system", "test_prerequisites": "prerequisites"}


def _tests():
    for module, area in AREA_OF.items():
        tree = ast.parse((SUITE / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield pytest.param(module, area, tree, node, id=f"{module}::{node.name}")


def _checks_used(fn: ast.FunctionDef) -> list:
    """checks.<area>.<name> references in the body that carry a @reads declaration."""
    used = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute) \
                and isinstance(n.value.value, ast.Name) and n.value.value.id == "checks":
            target = getattr(getattr(checks, n.value.attr), n.attr)
            if hasattr(target, "reads"):
                used.append(target)
    return used


def _reads_marker(fn: ast.FunctionDef) -> set[str]:
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.reads":
            return {a.value for a in d.args}
    return set()


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_reads_marker_is_the_union_of_its_checks(module, area, tree, fn):
    used = _checks_used(fn)
    assert used, f"{fn.name} runs no check"
    assert _reads_marker(fn) == {k for c in used for k in c.reads}


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_has_area_marker_and_title(module, area, tree, fn):
    assert f"pytestmark = pytest.mark.{area}" in ast.unparse(tree)
    doc = ast.get_docstring(fn)
    assert doc and "\n" not in doc.strip()


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_parameters_come_from_params_or_fixtures(module, area, tree, fn):
    fixtures = {"conform", "profile", "view", "subject_access_review"}
    assert {a.arg for a in fn.args.args} <= fixtures | set(PARAMS)


def test_every_public_check_is_run_by_a_test():
    used = {c for p in _tests() for c in _checks_used(p.values[3])}
    declared = {f for mod in (getattr(checks, m) for m in checks.__all__)
                for _, f in inspect.getmembers(mod, inspect.isfunction) if hasattr(f, "reads") and f.__module__ == mod.__name__}
    assert declared - used == set()


def test_params_ids_are_unique_and_stable():
    from objects import PROFILE
    for name, build in PARAMS.items():
        ids = [i for i, _ in build(PROFILE)]
        assert len(ids) == len(set(ids)), name
        assert ids == [i for i, _ in build(PROFILE)], name
