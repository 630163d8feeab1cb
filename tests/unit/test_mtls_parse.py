"""Reading probe output: OpenMetrics first, classic fallback, selection by sample name and labels."""

from __future__ import annotations

from mtls_samples import exposition, series

from ossm_conformance.mtls.observation import OPENED, RESTARTED, from_scrapes
from ossm_conformance.mtls.parse import parse_exposition, parse_probe_log, select


def test_openmetrics_groups_counter_samples():
    samples = parse_exposition(exposition([(series(), 12)]))
    assert [s.value for s in select(samples, OPENED, reporter="destination", connection_security_policy="mutual_tls")] == [12]


def test_truncated_body_falls_back_to_the_classic_parser():
    text = exposition([(series(), 12)]).replace("# EOF\n", "")
    samples = parse_exposition(text)  # OpenMetrics refuses it (no # EOF); the classic parser keeps labels and values
    assert [s.value for s in select(samples, OPENED, source_workload="bff")] == [12]


def _log(rounds: list[str]) -> str:
    lines = []
    for number, body in enumerate(rounds):
        lines += [f"=== ossm-probe round={number} pod=ztunnel-a node=w1 ip=10.0.0.1 status=ok", body.rstrip("\n"),
                  f"=== ossm-probe round={number} done"]
    return "\n".join(lines) + "\n"


def test_probe_log_sections_and_errors():
    text = _log([exposition([(series(), 1)])]) + (
        "=== ossm-probe round=0 pod=ztunnel-b node=w2 ip=10.0.0.2 status=error reason=GET http://10.0.0.2:15020/metrics: timed out\n")
    scrapes = parse_probe_log(text)
    assert [(s.pod, s.ok) for s in scrapes] == [("ztunnel-a", True), ("ztunnel-b", False)]
    assert scrapes[1].reason == "GET http://10.0.0.2:15020/metrics: timed out"


def test_unreadable_section_is_unobserved_not_empty():
    text = "=== ossm-probe round=0 pod=ztunnel-a node=w1 ip=1.2.3.4 status=ok\nistio_tcp_connections_opened_total{reporter=\"dest\n"
    [scrape] = parse_probe_log(text)
    assert not scrape.ok and "unreadable" in scrape.reason


def test_counter_reset_makes_the_ztunnel_unobserved():
    text = _log([exposition([(series(), 40)]), exposition([(series(), 3)])])
    obs = from_scrapes(parse_probe_log(text), 5)
    assert obs.unobserved == {"ztunnel-a": RESTARTED} and obs.restarted == ["ztunnel-a"] and not obs.deltas


def test_a_series_born_in_the_window_grew_from_zero():
    text = _log([exposition([]), exposition([(series(), 4)])])
    obs = from_scrapes(parse_probe_log(text), 5)
    assert [d.delta for d in obs.deltas if d.name == OPENED] == [4]


def test_missing_second_round_is_unobserved():
    text = _log([exposition([(series(), 4)])])
    obs = from_scrapes(parse_probe_log(text), 5)
    assert "did not finish" in obs.unobserved["ztunnel-a"]
