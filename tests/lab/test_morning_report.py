"""The morning report end to end on the lab: three runs of the suite sharing one reports
directory, as the nightly's volume does — the healthy twin, then a fault, then the twin reset.

- History (--history): the second run lists the fault's tests as new failures, the third as fixed.
- Report (`make report`): the faulted run rendered as one HTML file, opened from disk (file://)
  in Debian's headless Chromium: the DOM shows the run's totals and a failing test's incident
  report (object, expected, actual, fix), and Allure read the history.
- Alerting (--metrics-push): Debian's prometheus-pushgateway, scraped by the lab's Prometheus,
  answers deploy/alerting.yaml's expressions — not conformant after the fault, quiet after the
  reset, stale for a run 27 h old, exit 12 for a cluster that refuses the suite; a push nobody
  receives is one line and leaves the exit status alone.

The mTLS tests are deselected (`-m "not mtls"`): what this module proves does not depend on live
evidence, which tests/lab/test_suite_on_twin.py covers; each run then costs about 3 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import delete_from_gateway, push_to_gateway

from browser import render_until
from lab import faults
from lab.paths import REPO
from lab.suite_runner import SuiteRun, run_suite
from lab.wait import polling

pytestmark = pytest.mark.lab

FAULT = "ztunnel-rbac-missing"
EXPECTED = {f"tests_conformance/{t}" for t in yaml.safe_load(
    (Path(__file__).parent / "fault_expectations.yaml").read_text())[FAULT]["fails"]}
CLUSTER = "spoke-dc-v6"
RULES = next(d for d in yaml.safe_load_all((REPO / "deploy" / "alerting.yaml").read_text())
             if d["kind"] == "PrometheusRule")
ALERTS = {r["alert"]: r["expr"] for g in RULES["spec"]["groups"] for r in g["rules"]}
SCRAPED_WAIT_S = 20
RBAC_TEST = "tests_conformance/test_tenants.py::test_workload_identity_rbac_present[bank-employees-jboss-chat]"


@dataclass
class Night:
    reports: Path
    runs: list[SuiteRun] = field(default_factory=list)
    alerts_after: list[dict[str, list[dict]]] = field(default_factory=list)  # per pushed run: alert -> series
    report_ids: dict[str, str] = field(default_factory=dict)  # the rendered run's test id -> report id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(prometheus: str, promql: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}),
                                timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def _alerts_once_scraped(prometheus: str, pushed_after: float, cluster: str = CLUSTER) -> dict[str, list[dict]]:
    """Each alert expression's answer, once Prometheus has scraped the push made after `pushed_after`."""
    fresh = f'ossm_conformance_last_run_timestamp_seconds{{job="ossm-conformance",cluster="{cluster}"}} > {pushed_after}'
    for attempt in polling(SCRAPED_WAIT_S, every=0.5):
        with attempt:
            assert _query(prometheus, fresh), f"Prometheus has not scraped the push of {pushed_after} yet"
    return {name: _query(prometheus, expr) for name, expr in ALERTS.items()}


@pytest.fixture(scope="module")
def night(lab, tmp_path_factory) -> Night:
    pushgateway, prometheus = lab.env.get("LAB_PUSHGATEWAY_URL"), lab.env["LAB_PROMETHEUS_URL"]
    assert pushgateway, "the lab runs no Pushgateway: `make lab-deps` installs Debian's prometheus-pushgateway"
    reports = tmp_path_factory.mktemp("reports")
    night = Night(reports)
    suite = ("-m", "not mtls", "--settle-timeout", "2", "--history", str(reports / "history.jsonl"),
             "--alluredir", str(reports / "allure-results"), "--clean-alluredir")

    def run(push_to: str) -> None:
        started = time.time()
        night.runs.append(run_suite(lab.kubeconfig, reports, *suite, "--metrics-push", push_to))
        if push_to == pushgateway:
            night.alerts_after.append(_alerts_once_scraped(prometheus, started))

    faults.reset(lab.kubeconfig)
    run(f"http://127.0.0.1:{_free_port()}")   # healthy; nothing listens there: the push fails
    faults.apply(FAULT, lab.kubeconfig)
    try:
        run(pushgateway)
        make = subprocess.run(["make", "--no-print-directory", "report", f"REPORTS={reports}", f"PY={sys.executable}"],
                              cwd=REPO, capture_output=True, text=True, timeout=300, env=os.environ)
        assert make.returncode == 0, make.stdout + make.stderr
        night.report_ids = _report_ids(reports / "allure-results")  # before the next run replaces them
    finally:
        faults.reset(lab.kubeconfig)
    run(pushgateway)
    return night


def _report_ids(results: Path) -> dict[str, str]:
    """Test id -> the awesome report's id of it (its tree leaf, its page's #fragment): md5 of the
    Allure result's uuid (@allurereport/core dist/store/convert.js testResultRawToState)."""
    ids = {}
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text())
        ids[result["fullName"]] = hashlib.md5(result["uuid"].encode(), usedforsecurity=False).hexdigest()
    return ids


def _section(output: str, title: str) -> list[str]:
    """The test ids listed under `title: N` in the suite's 'since the last run' block."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title}: "))
    ids = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        ids.append(line.split()[0])
    assert len(ids) == int(lines[start].split(": ")[1]), lines[start:start + len(ids) + 1]
    return ids


def test_the_history_lists_the_fault_as_new_then_fixed(night):
    healthy, faulted, reset = night.runs
    assert (healthy.exit_code, faulted.exit_code, reset.exit_code) == (0, 1, 0), faulted.output[-3000:]
    assert "no earlier run of this cluster" in healthy.output
    assert set(_section(faulted.output, "new failures")) == EXPECTED, faulted.output[-3000:]
    assert _section(faulted.output, "fixed since last run") == [] and _section(faulted.output, "still failing") == []
    assert set(_section(reset.output, "fixed since last run")) == EXPECTED, reset.output[-3000:]
    assert _section(reset.output, "new failures") == [] and _section(reset.output, "flaky (outcome changed, the objects it examined did not)") == []
    points = [json.loads(line) for line in (night.reports / "history.jsonl").read_text().splitlines()]
    assert [p["exitStatus"] for p in points] == [0, 1, 0] and {p["cluster"] for p in points} == {CLUSTER}


def test_a_push_that_fails_is_one_line_and_keeps_the_exit_status(night):
    healthy = night.runs[0]
    assert healthy.exit_code == 0
    failed = [line for line in healthy.output.splitlines() if "metrics push to" in line]
    assert len(failed) == 1 and "failed" in failed[0] and "the exit status is unchanged" in failed[0], failed


def test_the_report_opens_from_disk_with_totals_and_an_incident_report(night):
    faulted = night.runs[1]
    index = night.reports / "html" / "index.html"
    assert sorted(p.name for p in index.parent.iterdir() if p.suffix == ".html") == ["index.html"]
    assert "googletagmanager" not in index.read_text(), "make report must drop Allure's analytics tag"
    dom = render_until(index, lambda d: d.texts("metadata-item-total"))
    counts = {k: dom.texts(f"metadata-item-{k}") for k in ("total", "failed", "passed")}
    assert counts == {"total": [f"Total {len(faulted.outcomes)}"], "failed": [f"Failed {len(EXPECTED)}"],
                      "passed": [f"Passed {len(faulted.outcomes) - len(EXPECTED)}"]}, counts
    failed = dom.leaves("failed")
    assert len(failed) == len(EXPECTED), failed
    leaf = night.report_ids[RBAC_TEST]
    assert leaf in {leaf_id for leaf_id, _ in failed}, (leaf, failed)
    page = render_until(index, lambda d: d.texts("test-result-error-message"), fragment=leaf)
    (message,) = page.texts("test-result-error-message")
    for part in ("RoleBinding bank-employees-jboss-chat/ztunnel-workload-identity", "expected:", "actual: not found",
                 "fix:", "request impersonation authentication failure"):
        assert part in message, message
    assert page.texts("test-result-fullname") == [RBAC_TEST]
    assert page.texts("test-result-tab-history") == ["History 1"], "Allure did not read the healthy run from the history"


def _of(series: list[dict], cluster: str = CLUSTER) -> list[dict]:
    """The series of one cluster group: other tests push their own (lab-stale, lab-refused)."""
    return [s for s in series if s["metric"].get("cluster") == cluster]


def test_prometheus_answers_the_alerts_from_the_pushgateway(night, lab):
    after_fault, after_reset = night.alerts_after
    assert [(s["metric"], s["value"][1]) for s in _of(after_fault["OSSMConformanceNotConformant"])] == [({"cluster": CLUSTER}, "1")]
    assert _of(after_fault["OSSMConformanceStale"]) == [] and after_fault["OSSMConformanceResultsMissing"] == []
    assert _of(after_reset["OSSMConformanceNotConformant"]) == [] and _of(after_reset["OSSMConformanceStale"]) == []
    assert after_reset["OSSMConformanceResultsMissing"] == []
    failing = _query(lab.env["LAB_PROMETHEUS_URL"], f'ossm_conformance_test_failing{{cluster="{CLUSTER}"}}')
    assert failing == [], "the reset run's push must replace the faulted run's failing series"


def test_the_stale_alert_fires_for_a_run_older_than_26_hours(lab):
    """A push made as if the last run ended 27 h ago, in its own cluster group (removed afterwards)."""
    pushgateway, prometheus = lab.env["LAB_PUSHGATEWAY_URL"], lab.env["LAB_PROMETHEUS_URL"]
    registry = CollectorRegistry()
    Gauge("ossm_conformance_last_run_timestamp_seconds", "when the last run ended", registry=registry).set(
        time.time() - 27 * 3600)
    grouping = {"cluster": "lab-stale"}
    push_to_gateway(pushgateway, job="ossm-conformance", registry=registry, grouping_key=grouping)
    try:
        for attempt in polling(SCRAPED_WAIT_S, every=0.5):
            with attempt:
                stale = _query(prometheus, ALERTS["OSSMConformanceStale"])
                assert [s["metric"] for s in _of(stale, "lab-stale")] == [{"cluster": "lab-stale"}], stale
    finally:
        delete_from_gateway(pushgateway, job="ossm-conformance", grouping_key=grouping)


def test_the_alerting_manifests_are_valid(lab, api, tmp_path):
    """promtool (Debian's prometheus) checks the rules; the API server dry-runs the other objects."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES["spec"]))
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    paths = {"Service": "/api/v1/namespaces/{ns}/services", "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
             "ServiceMonitor": "/apis/monitoring.coreos.com/v1/namespaces/{ns}/servicemonitors"}
    docs = [d for d in yaml.safe_load_all((REPO / "deploy" / "alerting.yaml").read_text()) if d["kind"] != "PrometheusRule"]
    assert {d["kind"] for d in docs} == set(paths)
    for doc in docs:  # in `default`: the twin has no ossm-conformance namespace, and a dry run writes nothing
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": "default"}}
        api.request("POST", paths[doc["kind"]].format(ns="default"), doc, query={"dryRun": "All"})


def test_a_cluster_that_refuses_the_suite_still_reaches_the_alerting(lab, tmp_path):
    """Exit 12 at preflight (a token the API server refuses: 401), before any test: the push still
    happens, and the not-conformant alert carries the exit status. Its own cluster group, removed after."""
    kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    kubeconfig["users"][0]["user"] = {"token": "refused-token"}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    profile = tmp_path / "profile.yaml"
    profile.write_text((REPO / "profiles" / f"{CLUSTER}.yaml").read_text().replace(f"cluster: {CLUSTER}", "cluster: lab-refused", 1))
    pushgateway = lab.env["LAB_PUSHGATEWAY_URL"]
    started = time.time()
    try:
        run = run_suite(tmp_path / "kubeconfig", tmp_path, "--profile", str(profile), "-m", "not mtls",
                        "--metrics-push", pushgateway)
        assert run.exit_code == 12 and "401 Unauthorized" in run.output, run.output[-3000:]
        alerts = _alerts_once_scraped(lab.env["LAB_PROMETHEUS_URL"], started, cluster="lab-refused")
        assert [s["value"][1] for s in _of(alerts["OSSMConformanceNotConformant"], "lab-refused")] == ["12"]
    finally:
        delete_from_gateway(pushgateway, job="ossm-conformance", grouping_key={"cluster": "lab-refused"})
