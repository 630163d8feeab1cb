"""The lab's scheduler and kubelet, through the real API, for the pods the lab can run.

    python -m lab.node_agent --kubeconfig K --lab-dir D

- schedules: a Pending pod without spec.nodeName is bound (pods/binding) to a Ready lab node that
  fits it (nodeSelector, NoSchedule/NoExecute taints vs tolerations), round-robin over workers;
- runs: a pod bound to a lab node whose containers' commands start with python3/python is run for
  real as a host process with the pod's command, args and env, its output kept as the container
  log; pods/status is written as a kubelet writes it (Running with a 127.30.x.y pod IP, then
  Succeeded/Failed with the container's terminated state and exit code), activeDeadlineSeconds
  is enforced; a pod the lab cannot run (an image's own entrypoint) fails with a clear reason;
- serves logs: the kubelet API on every node's InternalIP:10250 (lab.kubelet_server), so
  `pods/log` through the apiserver returns the program's output;
- finishes deletions: a pod with a deletionTimestamp on a lab node has its process killed and is
  deleted with gracePeriodSeconds=0, as a kubelet confirms.

Not modelled: restarts (every container runs once, whatever restartPolicy says), init containers,
valueFrom env, volumes, and the terminationMessagePath file (a host process has no /dev of its
own): FallbackToLogsOnError is the way to a termination message here.

It never touches a pod the twin seeded with its status already written (any phase but a fresh
Pending); deletions are the only exception. Pods annotated
`lab.ossm-conformance.io/node-agent: ignore` are left alone entirely.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, TypedDict

import msgspec

from lab.kubeapi import Api, ApiException
from lab.kubelet_server import KubeletServer
from lab.wait import until

log = logging.getLogger("lab.node_agent")

LOOP_S = 0.3
NODES_REFRESH_S = 2.0
KILL_GRACE_MAX_S = 3.0  # a deleted pod's process gets SIGTERM, then SIGKILL after this at most
IGNORE_ANNOTATION = "lab.ossm-conformance.io/node-agent"
PYTHON_COMMAND = re.compile(r"^python(3(\.\d+)?)?$")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# kubelet's FallbackToLogsOnError: the last 80 lines of the log, at most 2048 bytes of them
# (pkg/kubelet/container/runtime.go MaxContainerTerminationMessageLogLines/-LogLength).
TERMINATION_LOG_LINES = 80
TERMINATION_LOG_BYTES = 2048
CANNOT_RUN_REASON = "LabCannotRunImage"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- pure helpers (tests/unit/test_lab_node_agent.py) -----------------------------------------

def is_python_container(container: dict) -> bool:
    command = container.get("command") or []
    return bool(command) and bool(PYTHON_COMMAND.match(os.path.basename(command[0])))


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command, args and env values: unknown refs stay as written,
    $$ escapes a dollar."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR_REF.sub(repl, value)


def container_env(pod: dict, container: dict) -> dict[str, str]:
    """What the process sees: a minimal base (not the agent's own environment) plus the pod's
    `env` values in order; valueFrom is not resolved (the lab's probes do not need it)."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": pod["metadata"]["name"], "HOME": "/root", "LANG": "C.UTF-8"}
    for item in container.get("env") or ():
        if "value" in item:
            env[item["name"]] = expand(item.get("value") or "", env)
    return env


def container_argv(container: dict, env: dict[str, str], python: str) -> list[str]:
    command = [expand(a, env) for a in container.get("command") or []]
    args = [expand(a, env) for a in container.get("args") or []]
    return [python] + command[1:] + args


def termination_message(log_bytes: bytes, exit_code: int, policy: str | None) -> str:
    if policy != "FallbackToLogsOnError" or exit_code == 0:
        return ""
    tail = b"".join(log_bytes.splitlines(keepends=True)[-TERMINATION_LOG_LINES:])
    return tail[-TERMINATION_LOG_BYTES:].decode("utf-8", errors="replace")


def tolerates(pod: dict, taint: dict) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or ():
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_fits(pod: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    if not any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ()):
        return False
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    return all(tolerates(pod, t) for t in (node.get("spec") or {}).get("taints") or ()
               if t.get("effect") in ("NoSchedule", "NoExecute"))


def untouched(pod: dict) -> bool:
    """A Pending pod nobody has reported on yet: created by a client, maybe bound, never started.
    The twin's seeded pods (status written as a kubelet would) fail this test and are left alone."""
    status = pod.get("status") or {}
    if status.get("phase", "Pending") != "Pending":
        return False
    if status.get("containerStatuses") or status.get("initContainerStatuses") or status.get("podIP"):
        return False
    return all(c.get("type") == "PodScheduled" and c.get("status") == "True" for c in status.get("conditions") or ())


def node_address(node: dict) -> tuple[str, int] | None:
    status = node.get("status") or {}
    ip = next((a["address"] for a in status.get("addresses") or () if a.get("type") == "InternalIP"), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    return (ip, int(port)) if ip else None


# ---- running pods -------------------------------------------------------------------------------

@dataclass
class RunningPod:
    uid: str
    namespace: str
    name: str
    node: str
    pod_ip: str
    host_ip: str
    started_at: str
    started_mono: float
    deadline_s: int | None
    containers: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    specs: dict[str, dict] = field(default_factory=dict)
    finished: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (exit code, finishedAt)

    def running(self) -> bool:
        return any(p.poll() is None for p in self.containers.values())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        for proc in self.containers.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass


class PodIps:
    """127.30.0.1, 127.30.0.2, ...: loopback, so the host can reach every lab pod."""

    def __init__(self):
        self.next = 0

    def allocate(self) -> str:
        n, self.next = self.next, self.next + 1
        return f"127.30.{(n // 254) % 256}.{n % 254 + 1}"


METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
WATCH_TIMEOUT_S = 60
_Meta = TypedDict("_Meta", {"uid": str, "name": str, "namespace": str, "deletionTimestamp": str,
                            "deletionGracePeriodSeconds": int}, total=False)
_MetaPage = TypedDict("_MetaPage", {"metadata": TypedDict("_ListMeta", {"continue": str, "resourceVersion": str},
                                                           total=False),
                                    "items": Optional[list[TypedDict("_Item", {"metadata": _Meta}, total=False)]]},
                      total=False)
_META_PAGE = msgspec.json.Decoder(_MetaPage)


class DeletionWatch:
    """Which pods are being deleted, from a watch of every pod's metadata, as a kubelet watches
    its node's pods (pkg/kubelet/config/apiserver.go): nothing is read while nothing changes. A
    relist every pass cost the agent a core on a 20,000-pod bench twin (an OpenShift pod's
    metadata, managedFields included, is ~7 KB: 140 MB per list), and the API server as much.
    `deleting`: uid -> metadata of pods with a deletionTimestamp; `gone`: uids deleted outright."""

    def __init__(self, api: Api, stop: threading.Event):
        self.api, self.stop = api, stop
        self.lock = threading.Lock()
        self.deleting: dict[str, dict] = {}
        self.gone: set[str] = set()
        self.last_error = ""

    def take_gone(self) -> set[str]:
        with self.lock:
            gone, self.gone = self.gone, set()
        return gone

    def being_deleted(self) -> list[dict]:
        with self.lock:
            return list(self.deleting.values())

    def done(self, uid: str) -> None:
        with self.lock:
            self.deleting.pop(uid, None)

    def run(self) -> None:
        version = None
        while not self.stop.is_set():
            try:
                version = version or self._list()
                version = self._watch(version)
                self.last_error = ""
            except Exception as e:  # noqa: BLE001 — an apiserver hiccup: list again and go on watching
                self.last_error = f"{type(e).__name__}: {e}"[:300]
                log.warning("pod watch: %s; listing again", self.last_error)
                version = None
                self.stop.wait(1)

    def _get(self, query: list, accept: str):
        return self.api.client.call_api("/api/v1/pods", "GET", query_params=query, header_params={"Accept": accept},
                                        auth_settings=["BearerToken"], _preload_content=False,
                                        _return_http_data_only=True)

    def _list(self) -> str:
        """Every pod's metadata, in pages of 500; returns the list's resourceVersion to watch from."""
        deleting, token = {}, None
        while True:
            page = _META_PAGE.decode(self._get([("limit", "500")] + ([("continue", token)] if token else []),
                                               METADATA_LIST).data)
            for item in page.get("items") or ():
                meta = item.get("metadata") or {}
                if meta.get("deletionTimestamp"):
                    deleting[meta["uid"]] = meta
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        with self.lock:
            self.deleting = deleting
        return page["metadata"]["resourceVersion"]

    def _watch(self, version: str) -> str | None:
        """Follows changes until the server ends the watch; the version to resume from (None: relist)."""
        response = self._get([("watch", "true"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
                              ("timeoutSeconds", str(WATCH_TIMEOUT_S))], METADATA_WATCH)
        try:
            for line in response:
                if self.stop.is_set():
                    return version
                if not line.strip():
                    continue
                event = json.loads(line)
                meta = (event.get("object") or {}).get("metadata") or {}
                if event.get("type") == "ERROR":
                    return None          # e.g. 410 Gone: the version is too old, list again
                version = meta.get("resourceVersion") or version
                with self.lock:
                    if event.get("type") == "DELETED":
                        self.deleting.pop(meta.get("uid"), None)
                        self.gone.add(meta.get("uid"))
                    elif meta.get("deletionTimestamp"):
                        self.deleting[meta["uid"]] = meta
        finally:
            response.release_conn()
        return version


class NodeAgent:
    def __init__(self, api: Api, lab_dir: Path):
        self.api = api
        self.lab_dir = lab_dir
        self.pods_dir = lab_dir / "node-agent" / "pods"
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.python = shutil.which("python3") or sys.executable
        self.nodes: dict[str, dict] = {}
        self.nodes_read = 0.0
        self.rr = 0
        self.ips = PodIps()
        self.running: dict[str, RunningPod] = {}
        self.log_index: dict[tuple[str, str, str], tuple[Path, RunningPod]] = {}
        self.finalized: set[str] = set()  # uids whose deletion we already confirmed
        self.unschedulable: set[str] = set()
        self.stop = threading.Event()
        self.deletions = DeletionWatch(api, self.stop)
        self.kubelet = KubeletServer(lab_dir / "pki", self.lookup_log)
        self.last_error = ""

    # -- kubelet API lookups (called from server threads) --
    def lookup_log(self, namespace: str, pod: str, container: str):
        entry = self.log_index.get((namespace, pod, container))
        if entry is None:
            return None
        path, running_pod = entry
        proc = running_pod.containers.get(container)
        return path, (lambda: proc is not None and proc.poll() is None)

    # -- API helpers --
    def pod_path(self, namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{namespace}/pods/{name}"

    def patch_status(self, namespace: str, name: str, status: dict, resource_version: str | None = None) -> None:
        """A status write; with the resourceVersion the pod was read at, it is conditional (409 if the
        pod changed meanwhile), as a kubelet's first write out of Pending must be: the lab's own
        seeder may have just written the status of a pod it recreated."""
        body: dict = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        self.api.patch(self.pod_path(namespace, name) + "/status", body)

    def refresh_nodes(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.nodes_read < NODES_REFRESH_S:
            return
        items = self.api.get("/api/v1/nodes").get("items") or []
        self.nodes = {n["metadata"]["name"]: n for n in items}
        self.nodes_read = time.monotonic()
        self.kubelet.sync({a for a in (node_address(n) for n in items) if a})

    # -- one pass --
    def tick(self) -> None:
        self.refresh_nodes()
        pending = self.api.get("/api/v1/pods", fieldSelector="status.phase=Pending")
        for pod in pending.get("items") or ():
            if (pod["metadata"].get("annotations") or {}).get(IGNORE_ANNOTATION) == "ignore":
                continue
            if pod["metadata"].get("deletionTimestamp"):
                continue  # handled with the deletions below
            try:
                self.handle_pending(pod)
            except ApiException as e:
                if e.status not in (404, 409):  # gone or changed meanwhile: next pass sees the truth
                    raise
        self.reap()
        self.finish_deletions()

    def handle_pending(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        if uid in self.running or not untouched(pod):
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            self.schedule(pod)
        elif node in self.nodes:
            self.start(pod, self.nodes[node])

    def schedule(self, pod: dict) -> None:
        spec = pod.get("spec") or {}
        if spec.get("schedulerName") not in (None, "", "default-scheduler"):
            return  # another scheduler's pod
        names = sorted(self.nodes)
        fitting = [n for n in names if node_fits(pod, self.nodes[n])]
        if not fitting:
            self.refresh_nodes(force=True)
            if pod["metadata"]["uid"] not in self.unschedulable:  # say it once, keep retrying quietly
                self.unschedulable.add(pod["metadata"]["uid"])
                log.info("no lab node fits %s/%s yet", pod["metadata"]["namespace"], pod["metadata"]["name"])
            return
        # Round-robin, workers first: control-plane nodes only take pods that tolerate their taint.
        workers = [n for n in fitting if "node-role.kubernetes.io/master" not in
                   (self.nodes[n]["metadata"].get("labels") or {})] or fitting
        target = workers[self.rr % len(workers)]
        self.rr += 1
        meta = pod["metadata"]
        self.api.request("POST", self.pod_path(meta["namespace"], meta["name"]) + "/binding", {
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": target}})
        log.info("bound %s/%s to %s", meta["namespace"], meta["name"], target)

    def start(self, pod: dict, node: dict) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        containers = spec.get("containers") or []
        host_ip = (node_address(node) or ("", 0))[0]
        unsupported = [c["name"] for c in containers if not is_python_container(c)]
        if spec.get("initContainers") or unsupported or not containers:
            return self.fail_unrunnable(pod, host_ip, unsupported or [c["name"] for c in spec.get("initContainers") or ()])
        started = now()
        running = RunningPod(meta["uid"], meta["namespace"], meta["name"], spec["nodeName"], self.ips.allocate(),
                             host_ip, started, time.monotonic(), spec.get("activeDeadlineSeconds"))
        pod_dir = self.pods_dir / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"
        pod_dir.mkdir(parents=True, exist_ok=True)
        for c in containers:
            env = container_env(pod, c)
            log_path = pod_dir / f"{c['name']}.log"
            with open(log_path, "wb") as out:
                # stdout and stderr interleave in one log, as the container runtime records them.
                proc = subprocess.Popen(container_argv(c, env, self.python), stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, env=env, cwd=pod_dir,
                                        start_new_session=True)
            running.containers[c["name"]], running.logs[c["name"]], running.specs[c["name"]] = proc, log_path, c
            self.log_index[(meta["namespace"], meta["name"], c["name"])] = (log_path, running)
        self.running[meta["uid"]] = running
        log.info("started %s/%s on %s (ip %s)", meta["namespace"], meta["name"], running.node, running.pod_ip)
        try:
            self.patch_status(meta["namespace"], meta["name"], self.running_status(running), meta.get("resourceVersion"))
        except ApiException:
            running.kill()
            self.running.pop(meta["uid"], None)
            raise

    def fail_unrunnable(self, pod: dict, host_ip: str, names: list[str]) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        message = (f"the lab node agent runs only containers whose command starts with python3/python; "
                   f"cannot run {', '.join(names) or 'a pod without containers'} "
                   f"(image {', '.join(c.get('image', '?') for c in spec.get('containers') or [])})")
        t = now()
        self.patch_status(meta["namespace"], meta["name"], {
            "phase": "Failed", "reason": CANNOT_RUN_REASON, "message": message,
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}] if host_ip else [], "startTime": t,
            "conditions": self.conditions(False, t, "PodFailed"),
            "containerStatuses": [{
                "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                "started": False, "restartCount": 0,
                "state": {"waiting": {"reason": CANNOT_RUN_REASON, "message": message}}}
                for c in spec.get("containers") or []],
        }, meta.get("resourceVersion"))
        log.info("failed %s/%s: %s", meta["namespace"], meta["name"], message)

    # -- status bodies --
    @staticmethod
    def conditions(ready: bool, t: str, reason: str = "") -> list[dict]:
        def cond(kind, status, why=""):
            c = {"type": kind, "status": "True" if status else "False", "lastProbeTime": None,
                 "lastTransitionTime": t}
            if why:
                c["reason"] = why
            return c
        return [cond("PodReadyToStartContainers", ready), cond("Initialized", True),
                cond("Ready", ready, "" if ready else reason), cond("ContainersReady", ready, "" if ready else reason),
                cond("PodScheduled", True)]

    def running_status(self, r: RunningPod) -> dict:
        return {
            "phase": "Running", "hostIP": r.host_ip, "hostIPs": [{"ip": r.host_ip}],
            "podIP": r.pod_ip, "podIPs": [{"ip": r.pod_ip}], "startTime": r.started_at,
            "conditions": self.conditions(True, r.started_at),
            "containerStatuses": [self.container_status(r, name) for name in r.containers],
        }

    def container_status(self, r: RunningPod, name: str, deadline: bool = False) -> dict:
        spec = r.specs[name]
        base = {"name": name, "image": spec.get("image", ""), "imageID": spec.get("image", ""),
                "containerID": f"lab://{r.uid}-{name}", "restartCount": 0}
        if name not in r.finished:
            return {**base, "ready": True, "started": True, "state": {"running": {"startedAt": r.started_at}}}
        code, finished_at = r.finished[name]
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                      "startedAt": r.started_at, "finishedAt": finished_at, "containerID": base["containerID"]}
        if code < 0:  # killed by a signal: report it the way the runtime does (128 + signal)
            terminated["exitCode"], terminated["signal"] = 128 - code, -code
        message = termination_message(r.logs[name].read_bytes() if not deadline else b"",
                                      terminated["exitCode"], spec.get("terminationMessagePolicy"))
        if message:
            terminated["message"] = message
        return {**base, "ready": False, "started": False, "state": {"terminated": terminated}}

    # -- process exits and deadlines --
    def reap(self) -> None:
        for uid, r in list(self.running.items()):
            deadline_hit = r.deadline_s is not None and time.monotonic() - r.started_mono > r.deadline_s
            if deadline_hit and r.running():
                r.kill()
                for proc in r.containers.values():
                    proc.wait(timeout=5)
            for name, proc in r.containers.items():
                if name not in r.finished and proc.poll() is not None:
                    r.finished[name] = (proc.returncode, now())
            if r.running():
                continue
            try:
                self.report_finished(r, deadline_hit)
            except ApiException as e:
                if e.status != 404:
                    raise
            self.running.pop(uid, None)

    def report_finished(self, r: RunningPod, deadline_hit: bool) -> None:
        statuses = [self.container_status(r, name, deadline=deadline_hit) for name in r.containers]
        ok = all(s["state"]["terminated"]["exitCode"] == 0 for s in statuses)
        status = {**self.running_status(r), "phase": "Succeeded" if ok and not deadline_hit else "Failed",
                  "conditions": self.conditions(False, now(), "PodCompleted" if ok else "PodFailed"),
                  "containerStatuses": statuses}
        if deadline_hit:
            status.update(reason="DeadlineExceeded",
                          message="Pod was active on the node longer than the specified deadline")
        self.patch_status(r.namespace, r.name, status)
        log.info("%s/%s finished: %s", r.namespace, r.name, status["phase"])

    # -- deletions --
    def finish_deletions(self) -> None:
        """Pods being deleted on lab nodes: stop what runs, then confirm as a kubelet does."""
        for uid in self.deletions.take_gone() & set(self.running):
            # Deleted outright (gracePeriodSeconds=0, e.g. a lab reset): a kubelet kills what is left.
            self.stop_pod(self.running.pop(uid), 0)
        for meta in self.deletions.being_deleted():
            if meta["uid"] in self.finalized:
                continue
            r = self.running.pop(meta["uid"], None)
            if r is not None:
                self.stop_pod(r, float(meta.get("deletionGracePeriodSeconds") or 0))
            else:
                pod = self.api.get_or_none(self.pod_path(meta["namespace"], meta["name"]))
                if pod is None or (pod.get("spec") or {}).get("nodeName") not in self.nodes:
                    self.deletions.done(meta["uid"])
                    continue  # gone already, or not on a lab node: not ours to confirm
            try:
                self.api.request("DELETE", self.pod_path(meta["namespace"], meta["name"]), {
                    "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                    "preconditions": {"uid": meta["uid"]}})
            except ApiException as e:
                if e.status not in (404, 409):  # gone, or a new pod of the same name: nothing to do
                    raise
            # Remembered so a pod held by finalizers is confirmed once, not on every pass.
            self.finalized.add(meta["uid"])
            self.deletions.done(meta["uid"])
            for key, (_, owner) in list(self.log_index.items()):
                if owner.uid == meta["uid"]:  # a deleted pod's logs go with it, as on a node
                    self.log_index.pop(key, None)
            log.info("deleted %s/%s", meta["namespace"], meta["name"])

    @staticmethod
    def stop_pod(r: RunningPod, grace_s: float) -> None:
        r.kill(signal.SIGTERM)
        try:
            until(lambda: not r.running(), min(grace_s, KILL_GRACE_MAX_S), "the pod's processes to exit", every=0.05)
        except TimeoutError:
            pass  # its grace period is over: killed, as the kubelet does
        r.kill(signal.SIGKILL)
        for proc in r.containers.values():
            proc.wait(timeout=5)

    # -- lifecycle --
    def write_status(self) -> None:
        status = {"pid": os.getpid(), "listening": self.kubelet.listening(), "bind_errors": self.kubelet.errors,
                  "running": sorted(f"{r.namespace}/{r.name}" for r in self.running.values()),
                  "last_error": self.last_error, "watch_error": self.deletions.last_error}
        path = self.lab_dir / "node-agent" / "status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(path)

    def run(self) -> None:
        threading.Thread(target=self.deletions.run, name="pod-watch", daemon=True).start()
        while not self.stop.is_set():
            try:
                self.tick()
                self.last_error = ""
            except Exception as e:  # the API may hiccup; a kubelet keeps going and retries
                self.last_error = f"{type(e).__name__}: {e}"[:500]
                log.warning("pass failed: %s", self.last_error)
            self.write_status()
            self.stop.wait(LOOP_S)
        for r in self.running.values():
            r.kill()
        self.kubelet.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.node_agent", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--lab-dir", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    agent = NodeAgent(Api(args.kubeconfig), Path(args.lab_dir).resolve())
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stop.set())
    agent.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
