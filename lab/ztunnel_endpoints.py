"""Serves every twin ztunnel pod's metrics endpoint, on the pod's own IP and the real port 15020.

    python -m lab.ztunnel_endpoints --kubeconfig K --state-dir D [--prometheus-config P --prometheus-url U]

One process: a refresh thread reads the twin (a handful of cluster-wide LISTs, only when the
cluster's resourceVersion moved) and turns it into per-tick counter rates (lab/traffic.py); one
asyncio loop serves /metrics and /stats/prometheus on <podIP>:15020 for each ztunnel pod, opening
and closing listeners as pods come and go. Counters are lazy (value = base + rate x ticks), so a
tick costs nothing and a refresh only re-bases the series: counters only grow, and restart from
zero only when their ztunnel pod is replaced, as a real ztunnel's do.

<D>/status.json says what is served, for lab.services' readiness wait and for the bench.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab import traffic
from lab.kubeapi import Api, ApiException
from lab.workload_identity import RbacIndex

PORT = 15020
PATHS = ("/metrics", "/stats/prometheus")
TICK_S = 1.0
REFRESH_EVERY_S = 1.0
RELIST_COST_FACTOR = 3.0
FORCED_REFRESH_S = 15.0  # relist even when the resourceVersion did not move: a cheap safety net
TRAFFIC_FILE = Path(__file__).with_name("twin_traffic.yaml")
OPENMETRICS_TYPE = "application/openmetrics-text;charset=utf-8;version=1.0.0"
TEXT_TYPE = "text/plain; charset=utf-8"

log = logging.getLogger("lab.ztunnel_endpoints")

HELP = {  # ztunnel's help texts; client_rust appends the final "."
    traffic.OPENED: "The total number of TCP connections opened.",
    traffic.CLOSED: "The total number of TCP connections closed.",
    traffic.RECEIVED: "The size of total bytes received during request in case of a TCP connection.",
    traffic.SENT: "The size of total bytes sent during response in case of TCP connection.",
}

LISTS = {  # TwinState field -> collection path (all cluster-wide)
    "namespaces": "/api/v1/namespaces",
    "nodes": "/api/v1/nodes",
    "pods": "/api/v1/pods",
    "services": "/api/v1/services",
    "peer_authentications": "/apis/security.istio.io/v1/peerauthentications",
    "authorization_policies": "/apis/security.istio.io/v1/authorizationpolicies",
    "gateways": "/apis/gateway.networking.k8s.io/v1/gateways",
    "roles": "/apis/rbac.authorization.k8s.io/v1/roles",
    "role_bindings": "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "cluster_roles": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "cluster_role_bindings": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def series_prefix(family: str, labels: tuple[str, ...]) -> str:
    body = ",".join(f'{name}="{_escape(value)}"' for name, value in zip(traffic.LABEL_NAMES, labels))
    return f"{family}_total{{{body}}} "


@dataclass
class Series:
    prefix: str  # the sample line up to the value, rendered once
    base: int = 0
    rate: int = 0
    since: int = 0

    def value(self, tick: int) -> int:
        return self.base + self.rate * (tick - self.since)


@dataclass
class Endpoint:
    """One ztunnel pod's metrics, keyed by the pod's uid (a replaced pod starts from zero)."""

    uid: str
    pod: str
    node: str
    ip: str
    version: str
    series: dict[traffic.SeriesKey, Series] = field(default_factory=dict)
    active_proxies: int = 0
    _cache: tuple[int, int, bytes] | None = None  # (tick, generation, body)

    def rebase(self, increments: dict[traffic.SeriesKey, int], tick: int) -> None:
        for key, s in self.series.items():
            s.base, s.since, s.rate = s.value(tick), tick, increments.get(key, 0)
        for key, rate in increments.items():
            if key not in self.series:
                # An open series that does not grow belongs to a long-lived connection: ztunnel
                # counted its open once, before we first saw it (traffic.py).
                opened_before = 1 if key[0] == traffic.OPENED and rate == 0 else 0
                self.series[key] = Series(series_prefix(*key), opened_before, rate, tick)
        self._cache = None

    def render(self, tick: int, generation: int) -> bytes:
        if self._cache and self._cache[:2] == (tick, generation):
            return self._cache[2]
        lines = ["# HELP istio_build Istio component build info.", "# TYPE istio_build gauge",
                 f'istio_build{{component="ztunnel",tag="{_escape(self.version)}"}} 1']
        by_family: dict[str, list[str]] = {f: [] for f in traffic.TCP_FAMILIES}
        for (family, _), s in self.series.items():
            by_family[family].append(f"{s.prefix}{s.value(tick)}")
        for family in traffic.TCP_FAMILIES:
            lines += [f"# HELP {family} {HELP[family]}", f"# TYPE {family} counter", *by_family[family]]
        lines += ["# HELP workload_manager_active_proxy_count The total number current workloads with "
                  "active proxies (unstable).",
                  "# TYPE workload_manager_active_proxy_count gauge",
                  f"workload_manager_active_proxy_count {self.active_proxies}", "# EOF", ""]
        body = "\n".join(lines).encode()
        self._cache = (tick, generation, body)
        return body


class Store:
    """The endpoints and their counters, shared by the refresh thread and the HTTP loop."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.by_ip: dict[str, Endpoint] = {}
        self.generation = 0

    def tick(self) -> int:
        return int((time.monotonic() - self.started) / TICK_S)

    def apply(self, state: traffic.TwinState, edges: list[traffic.Edge]) -> None:
        # One Enrolment per refresh: it finds the ztunnel pods, a full pass over every pod.
        enrolment = traffic.Enrolment(state)
        increments = traffic.tick_increments(state, edges, enrolment)
        proxies = traffic.redirected_pods_by_node(state, enrolment)
        ztunnels = enrolment.ztunnels
        with self.lock:
            tick = self.tick()
            old = {e.uid: e for e in self.by_ip.values()}
            by_ip = {}
            for node, pod in ztunnels.items():
                meta, ip = pod["metadata"], pod["status"]["podIP"]
                endpoint = old.get(meta["uid"]) or Endpoint(meta["uid"], meta["name"], node, ip,
                                                            traffic.istio_version(pod))
                endpoint.ip = ip
                endpoint.active_proxies = proxies.get(node, 0)
                endpoint.rebase(increments.get(meta["uid"], {}), tick)
                by_ip[ip] = endpoint
            self.by_ip = by_ip
            self.generation += 1

    def body(self, ip: str) -> bytes | None:
        with self.lock:
            endpoint = self.by_ip.get(ip)
            return endpoint.render(self.tick(), self.generation) if endpoint else None

    def targets(self) -> list[dict]:
        with self.lock:
            return sorted(({"ip": e.ip, "pod": e.pod, "node": e.node} for e in self.by_ip.values()),
                          key=lambda t: t["ip"])


# ---- reading the twin ---------------------------------------------------------------------------

class TwinReader:
    def __init__(self, api: Api):
        self.api = api
        self.last_version: str | None = None
        self.last_read = 0.0

    def cluster_version(self) -> str:
        """The cluster-wide resourceVersion: it moves on any write to any object."""
        return self.api.get("/api/v1/namespaces", limit=1)["metadata"]["resourceVersion"]

    def changed(self) -> bool:
        version = self.cluster_version()
        stale = time.monotonic() - self.last_read > FORCED_REFRESH_S
        if version == self.last_version and not stale:
            return False
        self.last_version = version
        return True

    def _list(self, path: str) -> list[dict]:
        try:
            return self.api.get(path).get("items") or []
        except ApiException as e:
            if e.status == 404:  # e.g. the Istio CRDs are not installed: no PeerAuthentication
                return []
            raise

    def read(self) -> traffic.TwinState:
        lists = {name: self._list(path) for name, path in LISTS.items()}
        self.last_read = time.monotonic()
        return traffic.TwinState(
            namespaces={n["metadata"]["name"]: n for n in lists["namespaces"]},
            nodes={n["metadata"]["name"]: n for n in lists["nodes"]},
            pods=lists["pods"], services=lists["services"],
            peer_authentications=lists["peer_authentications"],
            authorization_policies=lists["authorization_policies"], gateways=lists["gateways"],
            rbac=RbacIndex.build(lists["roles"], lists["role_bindings"], lists["cluster_roles"],
                                 lists["cluster_role_bindings"]))


def load_edges(path: Path = TRAFFIC_FILE) -> list[traffic.Edge]:
    return traffic.edges_from_config(yaml.safe_load(path.read_text()) or {})


# ---- HTTP ---------------------------------------------------------------------------------------

async def _serve_client(store: Store, ip: str, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    """A minimal HTTP/1.1 server: GET only, keep-alive, no compression (identity is always valid)."""
    try:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = (lines[0].split(" ") + ["", "", ""])[:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            path = target.split("?", 1)[0]
            body = store.body(ip) if method in ("GET", "HEAD") and path in PATHS else None
            if body is None:
                status, content_type, body = "404 Not Found", TEXT_TYPE, b""
            else:
                wants_om = any(part.strip().startswith("application/openmetrics-text")
                               for part in headers.get("accept", "").split(","))
                status, content_type = "200 OK", OPENMETRICS_TYPE if wants_om else TEXT_TYPE
            close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
            writer.write((f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
                          f"content-length: {len(body)}\r\n"
                          f"{'connection: close' + chr(13) + chr(10) if close else ''}\r\n").encode())
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
            if close:
                return
    except (ConnectionError, OSError):
        return
    finally:
        writer.close()


class Listeners:
    """One listening socket per ztunnel pod IP, opened and closed as the twin changes."""

    def __init__(self, store: Store):
        self.store = store
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self.errors: dict[str, str] = {}

    async def sync(self) -> None:
        wanted = {t["ip"] for t in self.store.targets()}
        for ip in set(self.servers) - wanted:
            self.servers.pop(ip).close()
        for ip in sorted(wanted - set(self.servers)):
            if not ip.startswith("127."):
                # Never listen outside loopback: a twin pod IP elsewhere is not ours to take.
                self.errors[ip] = "not a loopback address; not served"
                continue
            try:
                self.servers[ip] = await asyncio.start_server(
                    lambda r, w, ip=ip: _serve_client(self.store, ip, r, w), ip, PORT,
                    reuse_address=True, backlog=256)
                self.errors.pop(ip, None)
            except OSError as e:  # e.g. another lab serving the same twin IPs: retried next refresh
                self.errors[ip] = str(e)
        for ip in set(self.errors) - wanted:
            self.errors.pop(ip)

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()


# ---- main ---------------------------------------------------------------------------------------

class Service:
    def __init__(self, args):
        self.args = args
        self.state_dir = Path(args.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store()
        self.listeners = Listeners(self.store)
        self.edges = load_edges(Path(args.traffic))
        self.stop = threading.Event()
        self.refresh_cpu: list[float] = []  # CPU seconds of the last refreshes (status.json)
        self.last_error = ""
        self.prometheus_targets: list[dict] | None = None

    def refresh_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        reader = TwinReader(Api(self.args.kubeconfig))
        next_relist = 0.0
        while not self.stop.is_set():
            started = time.monotonic()
            cpu = time.thread_time()
            try:
                if time.monotonic() >= next_relist and reader.changed():
                    self.store.apply(reader.read(), self.edges)
                    cost = time.thread_time() - cpu
                    self.refresh_cpu = (self.refresh_cpu + [cost])[-20:]
                    # A relist of a bench twin (300 nodes, ~1,600 pods) costs ~0.6 s of CPU, mostly
                    # JSON decoding: while the twin keeps changing, spend at most a third of a core
                    # on relisting, so the endpoints stay well under one core.
                    next_relist = started + RELIST_COST_FACTOR * cost
                    asyncio.run_coroutine_threadsafe(self.listeners.sync(), loop).result(timeout=30)
                elif self.listeners.errors:
                    asyncio.run_coroutine_threadsafe(self.listeners.sync(), loop).result(timeout=30)
                # Every pass, not only on change: a reload that failed (Prometheus still starting)
                # is retried until it succeeds.
                self.sync_prometheus()
                self.last_error = ""
            except Exception as e:  # an apiserver hiccup must not kill the endpoints; say it and retry
                self.last_error = f"{type(e).__name__}: {e}"[:500]
                log.warning("refresh failed: %s", self.last_error)
            self.write_status()
            self.stop.wait(max(0.05, REFRESH_EVERY_S - (time.monotonic() - started)))

    def sync_prometheus(self) -> None:
        if not self.args.prometheus_config:
            return
        targets = self.store.targets()
        if targets == self.prometheus_targets:
            return
        from lab import prometheus
        prometheus.write_config(Path(self.args.prometheus_config), targets)
        if self.args.prometheus_url:
            prometheus.reload(self.args.prometheus_url)
        self.prometheus_targets = targets

    def write_status(self) -> None:
        status = {
            "pid": os.getpid(), "tick": self.store.tick(), "generation": self.store.generation,
            "serving": sorted(self.listeners.servers), "bind_errors": self.listeners.errors,
            "targets": self.store.targets(), "last_error": self.last_error,
            "series": sum(len(e.series) for e in list(self.store.by_ip.values())),
            "refresh_cpu_s": self.refresh_cpu[-5:],
        }
        tmp = self.state_dir / "status.json.tmp"
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(self.state_dir / "status.json")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        refresher = threading.Thread(target=self.refresh_loop, args=(loop,), name="refresh", daemon=True)
        refresher.start()
        await done.wait()
        self.stop.set()
        self.listeners.close()
        await asyncio.to_thread(refresher.join, 5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.ztunnel_endpoints", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--traffic", default=str(TRAFFIC_FILE), help="the lab's traffic edges (YAML)")
    parser.add_argument("--prometheus-config", help="rewrite this Prometheus config when ztunnel pods change")
    parser.add_argument("--prometheus-url", help="then POST <url>/-/reload")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(Service(args).run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
