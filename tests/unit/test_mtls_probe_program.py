"""The probe program, run for real against a tiny HTTP server serving ztunnel-like text."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mtls_samples import exposition, series

from ossm_conformance.mtls import probe_program
from ossm_conformance.mtls.observation import from_scrapes
from ossm_conformance.mtls.parse import parse_probe_log
from ossm_conformance.mtls.pod_spec import PROGRAM


class _Ztunnel(BaseHTTPRequestHandler):
    """Each GET is one scrape: the counters grow by 5 per scrape; two source_version values collapse."""
    scrapes = 0
    busy = 0   # how many next GETs answer 503, as a ztunnel on a node under load might time out

    def do_GET(self):  # noqa: N802 — http.server's name
        if type(self).busy:
            type(self).busy -= 1
            self.send_error(503)
            return
        type(self).scrapes += 1
        n = type(self).scrapes * 5
        body = exposition([
            (series(version="v1"), n), (series(version="v2"), 1),
            (series(reporter="source"), 99),                                   # mutual_tls from source: kept
            (series(reporter="source", policy="unknown", principal="unknown"), 3),
            (series(namespace="not-profiled"), 50),                             # outside PROBE_NAMESPACES
        ]).encode()
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if gz:
            body = gzip.compress(body)
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "application/openmetrics-text;charset=utf-8;version=1.0.0")
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def ztunnel():
    _Ztunnel.scrapes, _Ztunnel.busy = 0, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ztunnel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _env(port: int, **extra) -> dict:
    targets = [{"pod": "ztunnel-a", "node": "worker-1", "ip": "127.0.0.1"},
               {"pod": "ztunnel-gone", "node": "worker-2", "ip": "127.0.0.2"}]  # nothing listens: an error section
    return {"PROBE_TARGETS": json.dumps(targets), "PROBE_WINDOW": "0.2", "PROBE_PORT": str(port),
            "PROBE_NAMESPACES": "bank-employees-jboss-chat", "PROBE_SCRAPE_TIMEOUT": "2", **extra}


def test_keeps_only_needed_series_and_labels(ztunnel):
    out = io.StringIO()
    probe_program.main(_env(ztunnel), out)
    text = out.getvalue()
    assert "not-profiled" not in text and "workload_manager" not in text and "istio_xds" not in text
    assert "source_version" not in text and "destination_principal" not in text
    assert all(f"# TYPE {family} counter" in text for family in probe_program.TCP_FAMILIES)
    assert text.count("# EOF") == 2  # one body per round for the reachable endpoint
    scrapes = parse_probe_log(text)
    ok = [s for s in scrapes if s.pod == "ztunnel-a"]
    assert [s.round for s in ok] == [0, 1] and all(s.ok for s in ok)
    gone = [s for s in scrapes if s.pod == "ztunnel-gone"]
    assert gone and not any(s.ok for s in gone) and "127.0.0.2" in gone[0].reason

    opened = [s for s in ok[0].samples if s.name == "istio_tcp_connections_opened_total"]
    # v1 (5) and v2 (1) collapse into one destination series; the source-side plaintext stays.
    dest = [s for s in opened if s.labels["reporter"] == "destination"]
    assert [s.value for s in dest] == [6]
    # Both reporters stay: the source side shows what the destination never saw (identity failures).
    assert sorted(s.labels["connection_security_policy"] for s in opened if s.labels["reporter"] == "source") == [
        "mutual_tls", "unknown"]
    assert any(s.name == "istio_build" and s.labels["tag"] == "1.28.3" for s in ok[0].samples)


def test_deltas_over_the_window(ztunnel):
    out = io.StringIO()
    probe_program.main(_env(ztunnel), out)
    obs = from_scrapes(parse_probe_log(out.getvalue()), 0.2)
    grew = [d for d in obs.deltas if d.name == "istio_tcp_connections_opened_total" and d.labels["reporter"] == "destination"]
    assert [d.delta for d in grew] == [5]
    assert obs.ztunnels["ztunnel-a"].version == "1.28.3"
    assert set(obs.unobserved) == {"ztunnel-gone"}


def test_runs_as_shipped_with_the_standard_library_only(ztunnel):
    """Exactly what the pod runs: `python3 -c <source>`, here without site-packages (-S -I)."""
    env = {**_env(ztunnel), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "=== ossm-probe end window=0.2" in proc.stdout
    assert len([s for s in parse_probe_log(proc.stdout) if s.ok]) == 2


class _SlowFirstRound(BaseHTTPRequestHandler):
    """Records when each endpoint (the address it was dialled on) was sampled; the first round is
    slow (a loaded node), the second fast."""
    sampled: dict[str, list[float]] = {}

    def do_GET(self):  # noqa: N802 — http.server's name
        import time
        ip = self.connection.getsockname()[0]
        if not self.sampled.get(ip):
            time.sleep(0.15)
        self.sampled.setdefault(ip, []).append(time.monotonic())
        body = exposition([(series(), len(self.sampled[ip]))]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_every_endpoint_is_scraped_twice_at_least_the_window_apart():
    """With more endpoints than scrape threads and a slow first round, counting the window from the
    start would leave the last endpoints almost no time between their two scrapes."""
    _SlowFirstRound.sampled = {}
    server = ThreadingHTTPServer(("0.0.0.0", 0), _SlowFirstRound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        targets = [{"pod": f"ztunnel-{i}", "node": f"w-{i}", "ip": f"127.0.0.{i + 1}"} for i in range(20)]
        env = {"PROBE_TARGETS": json.dumps(targets), "PROBE_WINDOW": "0.2", "PROBE_PORT": str(server.server_address[1]),
               "PROBE_NAMESPACES": "bank-employees-jboss-chat", "PROBE_SCRAPE_TIMEOUT": "5"}
        probe_program.main(env, io.StringIO())
    finally:
        server.shutdown()
        server.server_close()
    gaps = {ip: times[1] - times[0] for ip, times in _SlowFirstRound.sampled.items()}
    assert len(gaps) == 20 and min(gaps.values()) >= 0.2, gaps


def test_an_endpoint_busy_once_is_scraped_again_before_it_counts_as_unobserved(ztunnel):
    _Ztunnel.busy = 1
    out = io.StringIO()
    probe_program.main(_env(ztunnel), out)
    text = out.getvalue()
    assert "round=0 pod=ztunnel-a node=worker-1 ip=127.0.0.1 status=ok" in text
    _Ztunnel.busy = 2   # busy twice in a row: reported, with the reason
    out = io.StringIO()
    probe_program.main(_env(ztunnel), out)
    assert "round=0 pod=ztunnel-a node=worker-1 ip=127.0.0.1 status=error reason=GET http://127.0.0.1:" in out.getvalue()
