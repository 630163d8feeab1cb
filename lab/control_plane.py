"""Starts and stops the lab's etcd and kube-apiserver, and records every process it owns.

Processes run in their own session (they outlive `python -m lab up`) with output in <lab>/logs.
pids.json records each pid with its kernel start time, so `down` only ever signals the processes
this lab started, even if a pid has since been reused.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

import tenacity
import yaml

from lab import certs
from lab.paths import CONTEXT, LabPaths
from lab.wait import polling

ETCD_WAIT_S = 20
APISERVER_WAIT_S = 60
STOP_WAIT_S = 10


class LabError(RuntimeError):
    """A failure worth one line to the user."""


# --- process records -------------------------------------------------------------------------

def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), None if it is gone
    or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def record(pid: int, url: str | None = None) -> dict:
    return {"pid": pid, "start_time": start_time(pid), "url": url}


def alive(rec: dict) -> bool:
    st = start_time(rec["pid"])
    return st is not None and (rec.get("start_time") is None or st == rec["start_time"])


def read_pids(paths: LabPaths) -> dict[str, dict]:
    try:
        return json.loads(paths.pids.read_text())
    except (OSError, ValueError):
        return {}


def write_pids(paths: LabPaths, procs: dict[str, dict]) -> None:
    tmp = paths.pids.with_suffix(".tmp")
    tmp.write_text(json.dumps(procs, indent=2) + "\n")
    tmp.replace(paths.pids)


def running(paths: LabPaths) -> dict[str, dict]:
    return {name: rec for name, rec in read_pids(paths).items() if alive(rec)}


def stop(procs: dict[str, dict]) -> list[str]:
    """SIGTERM every recorded process that is still ours, then SIGKILL what remains after a bounded
    wait. Returns the names that had to be killed."""
    ours = {name: rec for name, rec in procs.items() if alive(rec)}
    for rec in ours.values():
        _signal(rec["pid"], signal.SIGTERM)
    try:
        for attempt in polling(STOP_WAIT_S, every=0.1):
            with attempt:
                if any(alive(rec) for rec in ours.values()):
                    raise TimeoutError
    except TimeoutError:
        pass
    killed = [name for name, rec in ours.items() if alive(rec)]
    for name in killed:
        _signal(ours[name]["pid"], signal.SIGKILL)
    return killed


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# --- start -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(argv: list[str], log: Path, cwd: Path | None = None,
           env: dict[str, str] | None = None) -> subprocess.Popen:
    """Starts argv detached (own session, outlives its parent) with its output appended to `log`,
    after a "$ command" line. Shared with lab/services.py."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(("$ " + shlex.join(argv) + "\n").encode())
        out.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=cwd, env=env)


def _spawn(paths: LabPaths, procs: dict[str, dict], name: str, argv: list[str],
           url: str) -> subprocess.Popen:
    """Starts a process and records it in pids.json at once, before waiting for it."""
    proc = launch(argv, paths.logs / f"{name}.log", cwd=paths.root)
    procs[name] = record(proc.pid, url)
    write_pids(paths, procs)
    return proc


def _wait(what: str, proc: subprocess.Popen, log: Path, seconds: float, probe) -> None:
    def check():
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
            raise LabError(f"{what} exited with code {proc.returncode}: {tail[0][:300]} (see {log})")
        probe()

    try:
        for attempt in polling(seconds, retry=tenacity.retry_if_not_exception_type(LabError)):
            with attempt:
                check()
    except LabError:
        raise
    except Exception as e:
        raise LabError(f"{what} not ready after {seconds:.0f} s ({e}); see {log}") from None


def start_etcd(paths: LabPaths, procs: dict[str, dict]) -> str:
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    proc = _spawn(paths, procs, "etcd", [
        str(paths.binary("etcd")), "--name=lab", f"--data-dir={paths.etcd_data}",
        f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=lab=http://127.0.0.1:{peer}",
        # Throw-away data: no fsync, as envtest does; keeps seeding fast on slow disks.
        "--unsafe-no-fsync=true", "--log-level=warn",
    ], url)

    def probe():
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            if json.load(r).get("health") != "true":
                raise RuntimeError("etcd reports unhealthy")

    _wait("etcd", proc, paths.logs / "etcd.log", ETCD_WAIT_S, probe)
    return url


AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}


def start_apiserver(paths: LabPaths, procs: dict[str, dict], etcd_url: str) -> str:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    pki = paths.pki
    argv = [
        str(paths.binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
        # Without it the apiserver looks for a default route and fails on isolated machines.
        "--advertise-address=127.0.0.1",
        f"--cert-dir={pki}", f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.0.0.0/16",  # room for 500 tenants' Services
        # The default ServiceAccount comes from a controller that does not run here (as envtest).
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        # Reliability tests add a FlowSchema of their own.
        "--enable-priority-and-fairness=true",
        # No kube-controller-manager: the lease reconciler would keep writing a loopback endpoint
        # that Endpoints validation refuses, filling the log.
        "--endpoint-reconciler-type=none",
        # The kubelet stand-in (node agent) serves every node's InternalIP with a lab-CA cert.
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP",
    ]
    if os.environ.get("OSSM_LAB_AUDIT") == "1":  # benchmarks count requests from this log
        paths.audit_policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        argv += [f"--audit-policy-file={paths.audit_policy}", f"--audit-log-path={paths.audit_log}",
                 "--audit-log-maxbackup=1",
                 # ... and collect its garbage before each measured run (bench/scenario.py
                 # collect_server_garbage, /debug/pprof/heap?gc=1): at 20,000 pods its Go GC marks a
                 # ~3 GB heap on the two cores being measured, 2-4 CPU-s at random moments.
                 "--profiling=true"]
    else:
        argv.append("--profiling=false")
    proc = _spawn(paths, procs, "kube-apiserver", argv, url)
    _wait("kube-apiserver", proc, paths.logs / "kube-apiserver.log", APISERVER_WAIT_S,
          apiserver_probe(paths, url))
    return url


def apiserver_probe(paths: LabPaths, url: str):
    """A readiness probe for _wait: raises until GET /readyz (as the lab's admin) answers 200.
    The TLS context is built once here, not on every poll. Also used by reliability/."""
    ctx = ssl.create_default_context(cafile=str(paths.pki / "ca.crt"))
    ctx.load_cert_chain(str(paths.pki / "admin.crt"), str(paths.pki / "admin.key"))

    def probe():
        with urllib.request.urlopen(f"{url}/readyz", timeout=2, context=ctx) as r:
            if r.status != 200:
                raise RuntimeError(f"/readyz answered {r.status}")

    return probe


def write_kubeconfig(paths: LabPaths, api_url: str) -> None:
    def b64(name: str) -> str:
        return base64.b64encode((paths.pki / name).read_bytes()).decode()

    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT, "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": {"server": api_url,
                                                    "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64("admin.crt"),
                                             "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin"}}],
    }
    paths.kubeconfig.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    paths.kubeconfig.chmod(0o600)


def write_env(paths: LabPaths, api_url: str, procs: dict[str, dict]) -> None:
    """The lab's env file; service URLs come from the recorded processes (empty when not started)."""
    values = {
        "KUBECONFIG": str(paths.kubeconfig), "LAB_API_URL": api_url,
        "LAB_PROMETHEUS_URL": (procs.get("prometheus") or {}).get("url") or "",
        "LAB_PUSHGATEWAY_URL": (procs.get("pushgateway") or {}).get("url") or "",
        "LAB_DIR": str(paths.root),
        # So that `python -m lab fault ...` from a shell that sourced this file acts on this lab.
        "OSSM_LAB_DIR": str(paths.root),
        "LAB_PIDS": " ".join(str(r["pid"]) for r in procs.values()),
    }
    paths.env.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()))


def read_env(paths: LabPaths) -> dict[str, str]:
    env = {}
    for line in paths.env.read_text().splitlines() if paths.env.exists() else []:
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = (shlex.split(value) or [""])[0]
    return env


def start(paths: LabPaths, procs: dict[str, dict], node_ips: list[str]) -> str:
    """Starts etcd and the apiserver, recording them in `procs` (and pids.json) as they start so
    that a failure half-way can still be cleaned up. Returns the API URL."""
    paths.root.mkdir(parents=True, exist_ok=True)
    certs.write_pki(paths.pki, node_ips)
    etcd_url = start_etcd(paths, procs)
    api_url = start_apiserver(paths, procs, etcd_url)
    write_kubeconfig(paths, api_url)
    return api_url
