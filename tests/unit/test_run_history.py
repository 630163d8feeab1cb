"""The run history (reporting/history.py): what is new, fixed, still failing and flaky, in
Allure 3's history format. The end-to-end proof on the lab (healthy, fault, reset) is
tests/lab/test_morning_report.py."""

from __future__ import annotations

import json

from ossm_conformance.reporting import history
from ossm_conformance.reporting.history_for_report import main as history_for_report
from ossm_conformance.reporting.summary import Result

RBAC = "tests_conformance/test_tenants.py::test_workload_identity_rbac_present[bank-employees-jboss-chat]"
EDGE = "tests_conformance/test_mtls.py::test_edge_traffic_is_mutual_tls[probe-bank-employees-jboss-chat:bff->chat-backend]"
CRD = "tests_conformance/test_crds.py::test_sail_crd_serves_v1[istios.sailoperator.io]"


def _run(outcomes: dict[str, str], examined: dict[str, str] | None = None, cluster_state: str = "s1",
         cluster: str = "spoke-dc-v6", run_id: str = "run") -> dict:
    results = {t: Result(o, "tenants", "AssertionError: Role not found" if o != "passed" else "", 100.0, 100.5,
                         (examined or {}).get(t)) for t, o in outcomes.items()}
    return history.new_point(run_id, cluster, results, cluster_state, 1 if "failed" in outcomes.values() else 0)


def _kinds(changes) -> dict[str, str]:
    return {c.test_id: c.kind for c in changes}


def test_point_is_allure_3_history_keyed_by_allure_history_id_of_the_test_id():
    point = _run({RBAC: "failed", CRD: "passed", EDGE: "error"}, run_id="r-1")
    assert point["uuid"] == "r-1" and point["name"] == "ossm-conformance spoke-dc-v6"
    assert set(point) >= {"uuid", "name", "timestamp", "knownTestCaseIds", "testResults", "metrics", "url"}
    item = point["testResults"][history.allure_history_id(RBAC)]
    assert item["fullName"] == RBAC and item["status"] == "failed" and item["historyId"] == history.allure_history_id(RBAC)
    assert point["testResults"][history.allure_history_id(EDGE)]["status"] == "broken"  # Allure's word for error
    # Allure 3: md5(testCaseId) + "." + md5(parameters, all excluded -> "")
    assert history.allure_history_id("x") == "9dd4e461268c8034f5c8564e155c67a6.d41d8cd98f00b204e9800998ecf8427e"


def test_new_failure_then_fixed_when_what_it_examined_changed():
    healthy = _run({RBAC: "passed", CRD: "passed"}, {RBAC: "with-role"})
    faulted = _run({RBAC: "failed", CRD: "passed"}, {RBAC: "no-role"})
    reset = _run({RBAC: "passed", CRD: "passed"}, {RBAC: "with-role-again"})
    assert _kinds(history.compare([healthy], faulted)) == {RBAC: "new"}
    assert _kinds(history.compare([healthy, faulted], reset)) == {RBAC: "fixed"}


def test_a_test_that_did_not_exist_and_fails_is_new():
    assert _kinds(history.compare([_run({CRD: "passed"})], _run({CRD: "passed", RBAC: "failed"}))) == {RBAC: "new"}


def test_still_failing_says_since_when_and_how_many_runs():
    runs = [_run({RBAC: "passed"}), _run({RBAC: "failed"}), _run({RBAC: "failed"})]
    runs[1]["timestamp"], runs[2]["timestamp"] = 1_000_000, 2_000_000
    (change,) = history.compare(runs, _run({RBAC: "failed"}))
    assert (change.kind, change.since, change.runs) == ("still", 1000.0, 3)


def test_outcome_changed_with_nothing_examined_changed_is_flaky():
    before = _run({RBAC: "passed"}, {RBAC: "same"})
    assert _kinds(history.compare([before], _run({RBAC: "failed"}, {RBAC: "same"}))) == {RBAC: "flaky"}


def test_live_evidence_tests_compare_the_snapshot():
    """An mTLS test examines no object: the snapshot (Events left out) is what could have changed."""
    passed = _run({EDGE: "passed"}, cluster_state="snap-1")
    assert _kinds(history.compare([passed], _run({EDGE: "failed"}, cluster_state="snap-1"))) == {EDGE: "flaky"}
    assert _kinds(history.compare([passed], _run({EDGE: "failed"}, cluster_state="snap-2"))) == {EDGE: "new"}


def test_no_change_no_line_and_first_run_has_nothing_to_compare():
    run = _run({RBAC: "passed", CRD: "skipped"})
    assert history.compare([run], _run({RBAC: "passed", CRD: "skipped"})) == []
    assert history.compare([], run) == []
    assert "nothing to compare" in history.summary_lines([], None, "h.jsonl")[0]


def test_summary_lines_name_each_test_under_its_heading():
    lines = history.summary_lines(history.compare([_run({RBAC: "passed"}, {RBAC: "a"})],
                                                  _run({RBAC: "failed"}, {RBAC: "b"})), _run({}), "h.jsonl")
    assert lines[1:3] == ["new failures: 1", f"  {RBAC}"] and "fixed since last run: 0" in lines


def test_append_keeps_the_last_runs_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "history.jsonl"
    for i in range(5):
        history.append(path, _run({RBAC: "passed"}, run_id=f"r{i}"), keep=3)
    with path.open("a") as fh:
        fh.write('{"uuid": "torn", "testRes')
    assert [p["uuid"] for p in history.load(path)] == ["r2", "r3", "r4"]


def test_earlier_runs_are_those_of_the_same_cluster():
    points = [_run({}, cluster="spoke-dc-v6", run_id="a"), _run({}, cluster="hub", run_id="b")]
    assert [p["uuid"] for p in history.earlier_runs(points, "spoke-dc-v6")] == ["a"]


def test_report_history_stops_before_the_rendered_run(tmp_path):
    path, results, out = tmp_path / "history.jsonl", tmp_path / "allure-results", tmp_path / "before.jsonl"
    for run_id in ("r1", "r2", "r3"):
        history.append(path, _run({RBAC: "passed"}, run_id=run_id))
    results.mkdir()
    (results / "environment.properties").write_text("API.URL=https://x\nRun.id=r2\n")
    assert history_for_report([str(path), str(results), str(out)]) == 0
    assert [json.loads(line)["uuid"] for line in out.read_text().splitlines()] == ["r1"]


def test_messages_in_the_history_are_redacted_and_short():
    results = {RBAC: Result("failed", "tenants", "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0.c2lnbmF0dXJlX3ZhbHVl " + "x" * 900,
                            1.0, 2.0)}
    item = history.new_point("r", "c", results, None, 1)["testResults"][history.allure_history_id(RBAC)]
    assert "eyJhbGci" not in item["message"] and len(item["message"]) <= history.MESSAGE_CHARS


def _finish(tmp_path, exit_status: int) -> list[str]:
    from types import SimpleNamespace

    from ossm_conformance.kube.snapshot import Snapshot
    from ossm_conformance.reporting.after_run import record

    config = SimpleNamespace(option=SimpleNamespace(ossm_history=str(tmp_path / "history.jsonl"), ossm_metrics_push=None))
    state = SimpleNamespace(profile=SimpleNamespace(cluster="spoke-dc-v6"), snapshot=Snapshot([]), run_id="r", started=0.0)
    return record(config, state, {}, exit_status)


def test_an_interrupted_run_leaves_the_history_alone(tmp_path):
    assert _finish(tmp_path, 2) == [f"history {tmp_path / 'history.jsonl'} not updated: the run did not finish (exit status 2)"]
    assert not (tmp_path / "history.jsonl").exists()
    assert "nothing to compare" in _finish(tmp_path, 1)[0]
    assert [p["exitStatus"] for p in history.load(tmp_path / "history.jsonl")] == [1]
