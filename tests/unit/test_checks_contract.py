"""The suite's contract, checked statically: each conformance test runs, through `conform`, the
check named after it (its name without `test_`), so one grep goes from a failing id to its check
and the plugin takes the kinds the test needs from that check's @reads; no test declares kinds by
hand; each test has its area marker and a one-line title and takes only real fixtures; every
check is run by its test (or by the pre-upgrade gate).
"""

import ast
from pathlib import Path

import pytest

from ossm_conformance import checks, gate
from ossm_conformance.params import PARAMS

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests_conformance"
AREA_OF = {"test_operator": "operator", "test_crds": "crds", "test_control_plane": "control_plane",
           "test_data_plane": "data_plane", "test_tenants": "tenants", "test_waypoints": "waypoints",
           "test_istio_system": "istio_system", "test_prerequisites": "prerequisites",
           "test_upgrade_gate": "preupgrade", "test_mtls": "mtls"}
NO_CHECK = {"test_edge_traffic_is_mutual_tls"}  # judged from ztunnel's counters (fixtures/mtls.py), not the snapshot


def _tests():
    for module, area in AREA_OF.items():
        tree = ast.parse((SUITE / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield pytest.param(module, area, tree, node, id=f"{module}::{node.name}")


def _conformed(fn: ast.FunctionDef) -> list[str]:
    """The names of the checks the test passes to conform(...)."""
    return [ast.unparse(call.args[0]).rsplit(".", 1)[-1] for call in ast.walk(fn)
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "conform" and call.args]


def _fixtures(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and any("pytest.fixture" in ast.unparse(d) for d in n.decorator_list)}


FIXTURES = set().union(*(_fixtures(ast.parse(p.read_text())) for p in (REPO / "fixtures").glob("*.py")))


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_runs_the_check_named_after_it(module, area, tree, fn):
    if fn.name in NO_CHECK:
        assert not _conformed(fn)
        return
    check = fn.name.removeprefix("test_")
    assert check in checks.declared(), f"no check named {check} (with @reads) for {fn.name}"
    assert _conformed(fn) == [check]


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_declares_no_kinds_by_hand(module, area, tree, fn):
    assert not any("mark.reads" in ast.unparse(d) for d in fn.decorator_list)


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_has_area_marker_and_title(module, area, tree, fn):
    marks = next(ast.unparse(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets))
    assert f"pytest.mark.{area}" in marks
    doc = ast.get_docstring(fn)
    assert doc and "\n" not in doc.strip()


@pytest.mark.parametrize("module, area, tree, fn", list(_tests()))
def test_parameters_are_real_fixtures(module, area, tree, fn):
    assert {a.arg for a in fn.args.args} <= FIXTURES | _fixtures(tree) | {"pytestconfig"}


def test_every_parameter_builder_has_its_fixture():
    assert set(PARAMS) <= FIXTURES


def test_every_check_is_run_by_its_test_or_the_gate():
    tests = {p.values[3].name.removeprefix("test_") for p in _tests()}
    used_by_gate = {n.id for n in ast.walk(ast.parse(Path(gate.__file__).read_text())) if isinstance(n, ast.Name)}
    assert set(checks.declared()) - tests - used_by_gate == set()


def test_params_ids_are_unique_and_stable():
    from objects import PROFILE
    for name, build in PARAMS.items():
        ids = [i for i, _ in build(PROFILE)]
        assert len(ids) == len(set(ids)), name
        assert ids == [i for i, _ in build(PROFILE)], name
