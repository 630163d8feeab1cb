"""What a run leaves for the morning reader, once its exit status is final: a line in the
history (`--history`, with what changed since the last run) and the results pushed to a
Pushgateway (`--metrics-push`). Returns the lines the terminal summary prints."""

from __future__ import annotations

import time

from .. import exitcodes
from . import history, metrics
from .summary import results_by_test_id

# A run that stopped half-way says nothing about the tests it did not reach: kept out of the
# history, or the next run would call every test it reached again "new". Its exit status is pushed.
NOT_A_WHOLE_RUN = {exitcodes.INTERRUPTED, exitcodes.INTERNAL_ERROR, exitcodes.NOTHING_SELECTED}


def record(config, state, stats: dict, exit_status: int, whole_run: bool = True) -> list[str]:
    """whole_run=False: the run stopped before its tests (preflight); only the push is made."""
    results = results_by_test_id(stats)
    cluster = state.profile.cluster
    lines: list[str] = []
    path = config.option.ossm_history
    if path and (exit_status in NOT_A_WHOLE_RUN or not whole_run):
        lines.append(f"history {path} not updated: the run did not finish (exit status {exit_status})")
    elif path:
        lines += _append_history(path, state, results, cluster, exit_status)
    url = config.option.ossm_metrics_push
    if url:
        finished = time.time()
        registry = metrics.registry_for(cluster, results, exit_status, finished - state.started, finished)
        problem = metrics.push(url, cluster, registry)
        lines.append(problem or f"results pushed to {url} (job {metrics.JOB}, cluster {cluster})")
    return lines


def _append_history(path: str, state, results, cluster: str, exit_status: int) -> list[str]:
    # The point's uuid is the report's Run.id (environment.properties): `make report` finds its run.
    point = history.new_point(state.run_id, cluster, results, history.snapshot_digest(state.snapshot), exit_status)
    try:
        earlier = history.earlier_runs(history.load(path), cluster)
        history.append(path, point)
    except OSError as exc:
        return [f"ossm-conformance: could not use the history file {path} ({exc}); the exit status is unchanged"]
    return history.summary_lines(history.compare(earlier, point), earlier[-1] if earlier else None, path)
