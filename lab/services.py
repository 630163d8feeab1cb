"""Starts the lab's services next to the control plane: ztunnel endpoints, node agent, Prometheus,
and a Pushgateway when Debian's prometheus-pushgateway is installed.

`python -m lab up` calls `start(lab_dir, kubeconfig)` once the twin is seeded, records the
returned pids, and `down` stops them. Each service runs detached in its own session with its
output in <lab>/logs/<name>.log; start() waits (bounded) until each one answers, and on any
failure stops what it started before raising, so a half-started lab leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import tenacity

from lab import control_plane, prometheus, pushgateway
from lab.kubeapi import Api
from lab.paths import REPO
from lab.traffic import ztunnel_pods_by_node
from lab.wait import polling

READY_WAIT_S = 30
STOP_WAIT_S = 10


class ServiceError(RuntimeError):
    """A service did not come up; the message names it and its log."""


def _spawn(name: str, argv: list[str], logs: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    return control_plane.launch(argv, logs / f"{name}.log", cwd=REPO, env=env)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _wait(name: str, proc: subprocess.Popen, log: Path, probe) -> None:
    """Retries `probe` (raises until ready) for at most READY_WAIT_S; a process that exits fails at once."""
    def check():
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with code {proc.returncode}; see {log}")
        probe()

    try:
        for attempt in polling(READY_WAIT_S, retry=tenacity.retry_if_not_exception_type(ServiceError)):
            with attempt:
                check()
    except ServiceError:
        raise
    except Exception as e:
        raise ServiceError(f"{name} not ready after {READY_WAIT_S} s ({e}); see {log}") from None


def _ztunnel_targets(kubeconfig: Path) -> list[dict]:
    api = Api(kubeconfig)
    try:
        pods = api.get("/api/v1/namespaces/ztunnel/pods", labelSelector="app=ztunnel").get("items") or []
    finally:
        api.close()
    return sorted(({"ip": p["status"]["podIP"], "pod": p["metadata"]["name"], "node": node}
                   for node, p in ztunnel_pods_by_node(pods).items()), key=lambda t: t["ip"])


def start(lab_dir: Path, kubeconfig: Path) -> dict[str, dict]:
    """Starts the services; returns {name: {"pid": int, "url": str | None}}."""
    lab_dir, kubeconfig = Path(lab_dir).resolve(), Path(kubeconfig).resolve()
    logs = lab_dir / "logs"
    started: dict[str, subprocess.Popen] = {}
    try:
        return _start(lab_dir, kubeconfig, logs, started)
    except BaseException:
        stop(started)
        raise


def _start(lab_dir: Path, kubeconfig: Path, logs: Path, started: dict[str, subprocess.Popen]) -> dict[str, dict]:
    targets = _ztunnel_targets(kubeconfig)
    prom_dir = lab_dir / "prometheus"
    config = prom_dir / "prometheus.yml"
    push_url = _start_pushgateway(logs, started)
    prometheus.write_config(config, targets, push_url and push_url.removeprefix("http://"))
    port = control_plane.free_port()
    prom_url = f"http://127.0.0.1:{port}"
    python = sys.executable

    started["prometheus"] = _spawn("prometheus", prometheus.argv(config, prom_dir / "data", port), logs)
    started["ztunnel-endpoints"] = _spawn("ztunnel-endpoints", [
        python, "-m", "lab.ztunnel_endpoints", "--kubeconfig", str(kubeconfig),
        "--state-dir", str(lab_dir / "ztunnel"), "--prometheus-config", str(config),
        "--prometheus-url", prom_url], logs)
    started["node-agent"] = _spawn("node-agent", [
        python, "-m", "lab.node_agent", "--kubeconfig", str(kubeconfig), "--lab-dir", str(lab_dir)], logs)

    def own_status(folder: str, service: str, cannot: str) -> dict:
        """The service's status file, once it is this process's; a bind error is final."""
        status = _read_json(lab_dir / folder / "status.json")
        if status.get("pid") != started[service].pid:
            raise RuntimeError("no status yet")
        if status.get("bind_errors"):
            raise ServiceError(f"{cannot} (another lab on the same addresses?): {status['bind_errors']}")
        return status

    def endpoints_ready():
        status = own_status("ztunnel", "ztunnel-endpoints", "ztunnel endpoints cannot listen")
        expected = {t["ip"] for t in targets}
        if not expected <= set(status.get("serving") or ()):
            raise RuntimeError(f"serving {status.get('serving')}, expected {sorted(expected)}")
        for ip in sorted(expected)[:1]:
            with urllib.request.urlopen(f"http://{ip}:15020/stats/prometheus", timeout=2) as r:
                if not r.read().endswith(b"# EOF\n"):
                    raise RuntimeError(f"{ip}:15020 answered without # EOF")

    def node_agent_ready():
        status = own_status("node-agent", "node-agent", "node agent cannot serve the kubelet API")
        if not status.get("listening"):
            raise RuntimeError("not listening on any node address yet")

    _wait("prometheus", started["prometheus"], logs / "prometheus.log", _answers_ready(prom_url))
    _wait("ztunnel-endpoints", started["ztunnel-endpoints"], logs / "ztunnel-endpoints.log", endpoints_ready)
    _wait("node-agent", started["node-agent"], logs / "node-agent.log", node_agent_ready)

    def prometheus_has_data():
        missing = {t["pod"] for t in targets} - prometheus.scraped_twice_in_last(prom_url, 300)
        if missing:
            raise RuntimeError(f"{len(missing)} of the {len(targets)} ztunnel targets not scraped twice yet")

    # Last: the endpoints must serve before Prometheus can have scraped them.
    _wait("prometheus", started["prometheus"], logs / "prometheus.log", prometheus_has_data)
    urls = {"prometheus": prom_url, "pushgateway": push_url}
    return {name: {"pid": proc.pid, "url": urls.get(name)} for name, proc in started.items()}


def _start_pushgateway(logs: Path, started: dict[str, subprocess.Popen]) -> str | None:
    """The Pushgateway, first (Prometheus's config names it); None when it is not installed."""
    binary = pushgateway.binary()
    if binary is None:
        return None
    url = f"http://127.0.0.1:{control_plane.free_port()}"
    started["pushgateway"] = _spawn("pushgateway", pushgateway.argv(binary, int(url.rsplit(":", 1)[1])), logs)
    _wait("pushgateway", started["pushgateway"], logs / "pushgateway.log", _answers_ready(url))
    return url


def _answers_ready(url: str):
    """A probe for _wait: Prometheus and the Pushgateway both answer /-/ready with 200 once they serve."""
    def probe():
        if not prometheus.ready(url):
            raise RuntimeError("/-/ready does not answer 200")
    return probe


def stop(started: dict[str, subprocess.Popen]) -> None:
    """SIGTERM, bounded wait, then SIGKILL: only the processes this call's start() spawned."""
    for proc in started.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started.values():
        try:
            proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
