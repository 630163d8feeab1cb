"""A run's results as Prometheus metrics, pushed to a Pushgateway (`--metrics-push URL`), so the
cluster's alerting hears when the mesh stops conforming (deploy/prometheusrule.yaml).

One group per cluster: job="ossm-conformance", cluster=<profile's cluster>. The push is a PUT
(prometheus_client `exposition.py` push_to_gateway: "overwrites all metrics with the same job and
grouping_key"), so a test that failed last night and passes now leaves no failing series behind.
Gauges, not counters: each value is the state of the last run, as a batch job reports it through
a Pushgateway (prometheus/pushgateway README.md); the Pushgateway adds `push_time_seconds` itself.
Every run pushes, failed or not: staleness is judged on the last run's end, its verdict on the
exit status.

Series (all with job and cluster):
- ossm_conformance_tests{area, outcome}: how many test ids ended so, every pair present (0 too);
- ossm_conformance_test_failing{test_id, area, outcome}: 1 per test id that failed or could not check;
- ossm_conformance_exit_status: the run's exit status (README: Exit codes; 0 = conformant);
- ossm_conformance_run_duration_seconds, ossm_conformance_last_run_timestamp_seconds.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import push_to_gateway

from .summary import AREAS, OUTCOMES, Result, area_counts

JOB = "ossm-conformance"
PUSH_TIMEOUT_S = 10


def registry_for(cluster: str, results: dict[str, Result], exit_status: int, duration: float,
                 finished: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    tests = Gauge("ossm_conformance_tests", "Test ids of the last run, per area and outcome",
                  ["area", "outcome"], registry=registry)
    counts = area_counts(results)
    for area in (*AREAS, "other"):
        for outcome in OUTCOMES:
            tests.labels(area, outcome).set(counts.get(area, {}).get(outcome, 0))
    failing = Gauge("ossm_conformance_test_failing", "1 per test id that failed or could not check in the last run",
                    ["test_id", "area", "outcome"], registry=registry)
    for test_id, result in sorted(results.items()):
        if result.outcome in ("failed", "error"):
            failing.labels(test_id, result.area, result.outcome).set(1)
    Gauge("ossm_conformance_exit_status", "Exit status of the last run (0 conformant, 1 non-conformant, "
          "12 could not check; README: Exit codes)", registry=registry).set(exit_status)
    Gauge("ossm_conformance_run_duration_seconds", "Wall time of the last run", registry=registry).set(duration)
    Gauge("ossm_conformance_last_run_timestamp_seconds", "When the last run ended (Unix time)",
          registry=registry).set(finished)
    return registry


def push(url: str, cluster: str, registry: CollectorRegistry) -> str | None:
    """Pushes; returns None, or one line saying why the push failed. Never raises: alerting is
    a side channel, and a run's exit status must say what the cluster is, not whether a
    Pushgateway answered."""
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key={"cluster": cluster}, timeout=PUSH_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 — any failure is one line, never an exit status
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return f"ossm-conformance: metrics push to {url} failed ({reason}); the exit status is unchanged"
    return None
