"""What changed since the last run: a small history kept by runs that share a reports directory.

The file (`--history FILE`, reports/history.jsonl in the Makefile and the CronJob) is Allure 3's
own history format: JSON Lines, one HistoryDataPoint per run, its `testResults` keyed by
historyId (@allurereport/core-api `dist/history.d.ts`; written by @allurereport/core
`dist/history.js` AllureLocalHistory). The suite appends one point at the end of every run, so
the nightly image needs no Node; `make report` hands the same file to Allure (allurerc.mjs
historyPath), and Allure's report shows each test's history. The key is Allure 3's history id of
the pytest test id (`allure_history_id`; fixtures/reporting.py makes the test id Allure's test
case), and each entry's fullName is the test id the terminal and JUnit show.

Per test id, against the last earlier run of the same cluster:
- new failure: failed or could not check now, passed (or did not exist) then;
- fixed: failed or could not check then, passes now;
- still failing: bad both times, with the time of the first run of that streak;
- flaky: the outcome changed although what the test examined did not (same objects, same
  resourceVersions; for live-evidence tests, which examine no object, the same snapshot).
  A change nobody can name in the cluster is the test's or the environment's, not the mesh's.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..redact import redact_text
from .summary import Result

KEEP_RUNS = 60             # two months of nightlies; the oldest points are dropped
MESSAGE_CHARS = 400        # a history line holds the failure's first lines, not its evidence
# Allure's statuses; "broken" is Allure's word for a test that could not check (an error).
ALLURE_STATUS = {"passed": "passed", "failed": "failed", "error": "broken", "skipped": "skipped"}
BAD = {"failed", "broken"}
STATE_KEY = "examinedState"       # our field on a HistoryTestResult; Allure keeps unknown fields
CLUSTER_STATE_KEY = "clusterState"


@dataclass(frozen=True)
class Change:
    test_id: str
    kind: str                  # new | fixed | still | flaky
    status: str                # Allure status now
    since: float | None = None  # still failing: epoch seconds of the first bad run of the streak
    runs: int = 0               # still failing: how many runs in a row, this one included


def allure_history_id(test_id: str) -> str:
    """Allure 3's history id of a result whose testCaseId is `test_id` and whose parameters are all
    excluded: md5(testCaseId) + "." + md5("") (@allurereport/core dist/store/convert.js)."""
    return f"{_md5(test_id)}.{_md5('')}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def state_digest(refs) -> str:
    """A short digest of (kind, namespace, name, resourceVersion) tuples: equal means unchanged."""
    h = hashlib.sha256()
    for ref in sorted(refs):
        h.update("\x1f".join(str(part) for part in ref).encode())
        h.update(b"\x1e")
    return h.hexdigest()[:16]


def object_ref(obj: dict) -> tuple[str, str, str]:
    """(namespace, name, resourceVersion): the API server changes resourceVersion on every write."""
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", ""), meta.get("resourceVersion", "")


def snapshot_digest(snapshot) -> str:
    """What every read of the snapshot saw, Events left out: they change all day on a healthy cluster."""
    refs = []
    for result in snapshot.results:
        if result.read.kind != "events":
            refs += [(result.read.kind, *object_ref(o)) for o in result.items]
            refs += [("error", result.read.kind, result.error)] if result.error else []
    return state_digest(refs)


def load(path: str | os.PathLike) -> list[dict]:
    """Every point in the file, oldest first; a missing file is an empty history, a torn line is skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    points = []
    for line in lines:
        try:
            point = json.loads(line)
        except ValueError:
            continue
        if isinstance(point, dict) and isinstance(point.get("testResults"), dict):
            points.append(point)
    return points


def append(path: str | os.PathLike, point: dict, keep: int = KEEP_RUNS) -> None:
    """Adds the run's point, keeping the last `keep`; written to a temp file and renamed, so a run
    killed while writing leaves the previous history whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    points = (load(path) + [point])[-keep:]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".history-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.writelines(json.dumps(p, separators=(",", ":")) + "\n" for p in points)
    os.replace(tmp, path)


def new_point(run_id: str, cluster: str, results: dict[str, Result], cluster_state: str | None,
              exit_status: int) -> dict:
    """The run as a HistoryDataPoint; its uuid is the run's id (the report's Run.id)."""
    test_results = {}
    for test_id, r in results.items():
        key = allure_history_id(test_id)
        item = {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}:{test_id}").hex,
            "name": test_id.rsplit("::", 1)[-1],
            "fullName": test_id,
            "environment": "default",   # Allure 3 matches history per environment; the suite has one
            "historyId": key,
            "status": ALLURE_STATUS[r.outcome],
            "start": int(r.start * 1000),
            "stop": int(r.stop * 1000),
            "duration": int((r.stop - r.start) * 1000),
            "labels": [],
            "url": "",
        }
        if r.message:
            item["message"] = redact_text(r.message)[:MESSAGE_CHARS]
        if r.examined:
            item[STATE_KEY] = r.examined
        test_results[key] = item
    return {
        "uuid": run_id, "name": point_name(cluster), "timestamp": int(time.time() * 1000),
        "knownTestCaseIds": sorted(_md5(t) for t in results), "testResults": test_results, "metrics": {}, "url": "",
        "cluster": cluster, "exitStatus": exit_status, CLUSTER_STATE_KEY: cluster_state,
    }


def point_name(cluster: str) -> str:
    return f"ossm-conformance {cluster}"


def earlier_runs(points: list[dict], cluster: str) -> list[dict]:
    """The points of this cluster, oldest first: a reports directory may be shared by clusters."""
    return [p for p in points if p.get("cluster") == cluster]


def compare(earlier: list[dict], current: dict) -> list[Change]:
    """The changes of `current` against the last of `earlier` (same cluster, oldest first)."""
    if not earlier:
        return []
    last = earlier[-1]
    changes = []
    for key, now in sorted(current["testResults"].items(), key=lambda kv: kv[1]["fullName"]):
        test_id = now["fullName"]
        then = last["testResults"].get(key)
        bad_now, bad_then = now["status"] in BAD, bool(then) and then["status"] in BAD
        if bad_now and bad_then:
            since, runs = _streak(earlier, key)
            changes.append(Change(test_id, "still", now["status"], since, runs + 1))
        elif bad_now or (bad_then and now["status"] == "passed"):
            unchanged = then is not None and _state(then, last) == _state(now, current)
            changes.append(Change(test_id, "flaky" if unchanged else ("new" if bad_now else "fixed"), now["status"]))
    return changes


def _state(item: dict, point: dict) -> str | None:
    return item.get(STATE_KEY) or point.get(CLUSTER_STATE_KEY)


def _streak(earlier: list[dict], key: str) -> tuple[float, int]:
    """When the run of bad outcomes that reaches the last earlier run began, and its length."""
    since, runs = None, 0
    for point in reversed(earlier):
        item = point["testResults"].get(key)
        if not item or item["status"] not in BAD:
            break
        since, runs = point["timestamp"] / 1000, runs + 1
    return since, runs


TITLES = {
    "new": "new failures",
    "fixed": "fixed since last run",
    "still": "still failing",
    "flaky": "flaky (outcome changed, the objects it examined did not)",
}


def summary_lines(changes: list[Change], last: dict | None, path: str) -> list[str]:
    """The terminal's 'since the last run' block."""
    if last is None:
        return [f"no earlier run of this cluster in {path}: nothing to compare with yet"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last["timestamp"] / 1000))
    lines = [f"compared with the run of {when} (exit status {last.get('exitStatus', '?')}, {path})"]
    for kind, title in TITLES.items():
        picked = [c for c in changes if c.kind == kind]
        lines.append(f"{title}: {len(picked)}")
        for c in picked:
            extra = ""
            if kind == "still":
                extra = f"  since {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(c.since))} ({c.runs} runs)"
            lines.append(f"  {c.test_id}{' (could not check)' if c.status == 'broken' else ''}{extra}")
    return lines


def before_run(points: list[dict], run_id: str) -> list[dict]:
    """The points written before run `run_id`: what that run's report compares it with (all of
    them when the run is not in the history, e.g. it ran without --history)."""
    for index, point in enumerate(points):
        if point.get("uuid") == run_id:
            return points[:index]
    return points
