"""The probe and Prometheus answer the same questions: one set of counter deltas, seen through
each source's own path (the probe's scrape parsing; Prometheus' increase() rows for the PromQL
prometheus.py sends), gets the same verdict and the same incident report."""

from __future__ import annotations

import re

import pytest
from test_mtls_evidence import ROUTER, _obs, conn
from mtls_samples import EDGE, NS, series

from ossm_conformance.mtls import evidence, prometheus
from ossm_conformance.mtls.observation import Observation


class _Prometheus:
    """Answers each increase() query from the probe's deltas, grouped by the query's `by` labels,
    filtered by its destination namespace matcher, as Prometheus would."""
    url = "http://prometheus.test"

    def __init__(self, probe: Observation, scrapes: dict[str, float] | None = None):
        self.probe, self.queries = probe, []
        self.scrapes = {pod: 3.0 for pod in probe.ztunnels} if scrapes is None else scrapes

    def custom_query(self, query: str, params=None):
        self.queries.append(query)
        if "sum_over_time(up{" in query:  # successful scrapes per ztunnel pod over the window
            return [{"metric": {"pod": pod}, "value": [0, str(n)]} for pod, n in self.scrapes.items()]
        by = [label.strip() for label in re.search(r"sum by \(([^)]*)\)", query).group(1).split(",")]
        counter = re.search(r"increase\((\w+)\{", query).group(1)
        namespaces = re.search(r'destination_workload_namespace=~"([^"]*)"', query).group(1).split("|")
        rows: dict[tuple, float] = {}
        for d in self.probe.deltas:
            if d.name != counter or d.labels.get("destination_workload_namespace") not in namespaces:
                continue
            labels = {**d.labels, "pod": d.ztunnel, "node": self.probe.ztunnels[d.ztunnel].node}
            key = tuple((k, labels.get(k, "")) for k in by)
            rows[key] = rows.get(key, 0.0) + d.delta
        return [{"metric": dict(k), "value": [0, str(v)]} for k, v in rows.items()]


CASES = {
    "long-lived pass": [conn(series(), bytes=9000)],
    "router denied": [conn(series(), opened=2, closed=2, bytes=10), conn(series(**ROUTER), opened=3, closed=3, flags="DENY")],
    "router accepted": [conn(series(), bytes=10), conn(series(**ROUTER), opened=3, closed=3, bytes=30)],
    "authorization deny": [conn(series(), opened=4, closed=4, flags="DENY")],
    "identity failure": [conn(series(reporter="source"), opened=5, closed=5, base=0)],
    "own plaintext": [conn(series(policy="unknown", principal="unknown"), opened=2, closed=2, flags="DENY")],
    "silence": [conn(series())],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_sources_give_the_same_verdict(case):
    probe = _obs(*CASES[case])
    fake = _Prometheus(probe)
    from_prometheus = prometheus.observe(fake, [NS], probe.window)
    assert len(fake.queries) == 4  # one per counter for one namespace chunk
    verdicts = [evidence.judge(NS, EDGE, "cluster.local", obs, policies=(f"{NS}/p (DENY)",))
                for obs in (probe, from_prometheus)]
    assert verdicts[0].outcome == verdicts[1].outcome
    assert verdicts[0].notes == verdicts[1].notes
    # Only the source's name and the ztunnel version (the probe reads istio_build) may differ.
    texts = [[f.render().replace(f"({src})", "").replace(", ztunnel 1.28.3", "") for f in v.findings]
             for v, src in zip(verdicts, ("probe", "prometheus"))]
    assert texts[0] == texts[1]


def test_the_promql_asks_for_every_label_the_judge_reads():
    query = prometheus.query_for("istio_tcp_connections_closed_total", ["a", "b"], 120)
    assert 'increase(istio_tcp_connections_closed_total{destination_workload_namespace=~"a|b"}[120000ms])' in query
    for label in ("response_flags", "source_principal", "source_workload", "source_workload_namespace", "reporter",
                  "connection_security_policy", "destination_workload", "pod"):
        assert label in query


# -- scrape coverage: increase() needs two samples ------------------------------------------------

RUNNING = {"ztunnel-w1": "worker-1", "ztunnel-w2": "worker-2"}
HEALTHY = [conn(series(), opened=2, closed=2, bytes=900)]


def _from_prometheus(scrapes: dict[str, float], ztunnels=RUNNING):
    return prometheus.observe(_Prometheus(_obs(*HEALTHY), scrapes), [NS], 3, ztunnels, "ztunnel")


def test_the_scrape_query_counts_successful_scrapes_over_the_same_range():
    assert prometheus.scrapes_query("ztunnel", 3) == 'sum by (pod) (sum_over_time(up{namespace="ztunnel"}[3000ms]))'


def test_every_running_ztunnel_scraped_twice_is_observed():
    obs = _from_prometheus({"ztunnel-w1": 3, "ztunnel-w2": 3})
    assert obs.unobserved == {}
    assert evidence.judge(NS, EDGE, "cluster.local", obs).outcome == evidence.PASS


def test_a_ztunnel_scraped_once_in_the_window_leaves_its_edges_undecided_not_red():
    # The edge's ztunnel came back (node reboot, restart) one scrape before the query: no increase()
    # for its series, which would look like silence.
    obs = _from_prometheus({"ztunnel-w1": 1, "ztunnel-w2": 3})
    assert "scraped it successfully 1 time(s) in the 3s window" in obs.unobserved["ztunnel-w1"]
    verdict = evidence.judge(NS, EDGE, "cluster.local", obs, edge_nodes=frozenset({"worker-1"}))
    assert verdict.outcome == evidence.UNDECIDED and "ztunnel-w1" in verdict.reason


def test_an_unscraped_ztunnel_on_another_node_does_not_hide_the_edge():
    obs = _from_prometheus({"ztunnel-w1": 3})
    assert set(obs.unobserved) == {"ztunnel-w2"} and obs.ztunnels["ztunnel-w2"].node == "worker-2"
    verdict = evidence.judge(NS, EDGE, "cluster.local", obs, edge_nodes=frozenset({"worker-1"}))
    assert verdict.outcome == evidence.PASS


def test_a_replaced_ztunnel_prometheus_still_remembers_does_not_blind_the_mesh():
    # A rollout during the window: the old pod's last scrape is in the range, its node's new pod
    # (running, scraped) answers for that node.
    obs = _from_prometheus({"ztunnel-w1": 3, "ztunnel-w2": 3, "ztunnel-w1-old": 1})
    assert obs.unobserved == {}
    assert evidence.judge(NS, EDGE, "cluster.local", obs).outcome == evidence.PASS


def test_unreadable_pods_leave_every_scraped_ztunnel_to_count():
    obs = _from_prometheus({"ztunnel-w1": 3, "ztunnel-w2": 1}, ztunnels={})
    assert set(obs.unobserved) == {"ztunnel-w2"}


def test_no_scrapes_at_all_in_the_window_is_could_not_check_for_every_ztunnel():
    # A window shorter than two scrape intervals: no increase() anywhere, not a mesh without traffic.
    obs = _from_prometheus({})
    assert set(obs.unobserved) == set(RUNNING)
    assert evidence.judge(NS, EDGE, "cluster.local", obs).outcome == evidence.UNDECIDED


def test_without_the_running_ztunnels_no_coverage_is_asked():
    fake = _Prometheus(_obs(*HEALTHY), {})
    obs = prometheus.observe(fake, [NS], 3)
    assert obs.unobserved == {} and not any("up{" in q for q in fake.queries)
