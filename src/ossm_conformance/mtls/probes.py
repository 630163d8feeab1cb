"""Probe pods' lifecycle: namespace, sweep, create, wait, read logs, remove — in every case.

The only writes the suite makes (docs/architecture.md): pods labelled for sweeping, in the suite's own
namespace. Removal is layered because a probe pod left in a production cluster is debris:
  1. the run's pods are deleted in `finally` (pass, fail, error);
  2. SIGINT/SIGTERM during the probe's lifetime unwind to that `finally`, then the signal is
     re-delivered to the previous handler (no API call inside the handler: the Api's lock is not
     re-entrant, so the handler only raises);
  3. the fixture also registers a finalizer, and every run removes, at start, the pods of earlier
     runs past their deadline (never a concurrent run's: the nightly job and a gate may overlap);
  4. activeDeadlineSeconds lets the kubelet stop a probe nobody removed.
Anything that keeps the probes from running (forbidden, image pull, unschedulable, timeout)
raises CouldNotCheck naming the permission or resource: the mTLS tests become errors.
"""

from __future__ import annotations

import signal
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from kubernetes.client.exceptions import ApiException
from tenacity import retry_if_exception, retry_if_exception_type

from ..findings import CouldNotCheck
from ..kube.client import Api
from ..kube.errors import describe
from ..kube.wait import bounded
from . import pod_spec
from .parse import Scrape, parse_probe_log

IMAGE_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                  "CreateContainerConfigError", "CreateContainerError", "RunContainerError")
CREATE_SETTLE = 30.0  # seconds a fresh namespace may need before pods are admitted (default SA, SCC annotations)


@dataclass(frozen=True)
class ProbeSettings:
    namespace: str
    image: str
    window: float
    timeout: float
    ztunnel_namespace: str
    destination_namespaces: tuple[str, ...]


class _NotDone(Exception):
    pass


class _Interrupted(BaseException):
    """Raised by our signal handler so that `finally` runs with the API client in a clean state."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


def collect(api: Api, settings: ProbeSettings, run_id: str) -> list[Scrape]:
    """Run the probes once and return every endpoint's scrapes. Pods are gone when this returns."""
    ensure_namespace(api, settings.namespace)
    sweep_expired(api, settings.namespace)
    targets = ztunnel_targets(api, settings.ztunnel_namespace)
    chunks = pod_spec.plan(targets)
    with removed_on_exit(api, settings.namespace, run_id):
        names = []
        for i, chunk in enumerate(chunks):
            name = f"ossm-probe-{run_id}-{i}"
            create_pod(api, pod_spec.manifest(name, settings.namespace, run_id, settings.image, chunk,
                                              window=settings.window, timeout=settings.timeout,
                                              destination_namespaces=list(settings.destination_namespaces)))
            names.append(name)
        wait_until_finished(api, settings, run_id, names)
        logs = read_logs(api, settings.namespace, names)
    scrapes = [s for text in logs for s in parse_probe_log(text)]
    _mark_missing(scrapes, targets)
    return scrapes


# -- namespace and sweep ------------------------------------------------------------------------

def ensure_namespace(api: Api, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}"
    try:
        ns = api.get(path)
    except ApiException as exc:
        if exc.status != 404:
            raise CouldNotCheck(f"could not run probe pods: {describe(exc, 'get namespace ' + namespace)}") from None
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": namespace, "labels": {pod_spec.MANAGED_BY: pod_spec.MANAGER,
                                                           "istio.io/dataplane-mode": "none"}}}
        try:
            api.post("/api/v1/namespaces", body)
        except ApiException as exc2:
            if exc2.status != 409:  # created meanwhile by a parallel run: fine
                raise CouldNotCheck(f"could not run probe pods: {describe(exc2, 'create namespace ' + namespace)}") from None
        return
    mode = (ns.get("metadata", {}).get("labels") or {}).get("istio.io/dataplane-mode")
    if mode == "ambient":
        raise CouldNotCheck(f"probe namespace {namespace} is enrolled in the mesh (istio.io/dataplane-mode=ambient): "
                            f"its scrapes would count as plaintext traffic; pass another --probe-namespace")


def sweep_expired(api: Api, namespace: str) -> None:
    """Remove what earlier runs left behind (a SIGKILLed run cannot clean up): the pods of every
    run past its deadline (pod_spec.expired_runs). A concurrent run's pods are not touched."""
    what = f"list pods labelled {pod_spec.selector()} in namespace {namespace}"
    try:
        listed, now = api.get_with_server_time(f"/api/v1/namespaces/{namespace}/pods", [("labelSelector", pod_spec.selector())])
    except ApiException as exc:
        raise CouldNotCheck(f"could not run probe pods: {describe(exc, what)}") from None
    for run_id in pod_spec.expired_runs(listed.get("items") or [], now or datetime.now(timezone.utc)):
        sweep(api, namespace, run_id)


def sweep(api: Api, namespace: str, run_id: str) -> None:
    """Delete one run's probe pods. Grace 0: the program keeps no state."""
    what = f"delete pods labelled {pod_spec.selector(run_id)} in namespace {namespace}"
    try:
        api.delete(f"/api/v1/namespaces/{namespace}/pods",
                   query=[("labelSelector", pod_spec.selector(run_id)), ("gracePeriodSeconds", "0")])
    except ApiException as exc:
        raise CouldNotCheck(f"could not run probe pods: {describe(exc, what)}") from None


@contextmanager
def removed_on_exit(api: Api, namespace: str, run_id: str):
    """Delete this run's pods however the block ends; SIGINT/SIGTERM unwind here first."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}

    def interrupt(signum, frame):
        raise _Interrupted(signum)

    for s in previous:
        signal.signal(s, interrupt)
    interrupted = None
    try:
        yield
    except _Interrupted as exc:
        interrupted = exc.signum
    finally:
        deferred: list[int] = []
        for s in previous:  # a second Ctrl-C must not cut the removal short
            signal.signal(s, lambda signum, frame: deferred.append(signum))
        try:
            sweep(api, namespace, run_id)
        except Exception as exc:  # noqa: BLE001 — report and keep unwinding; the deadline and next sweep remain
            sys.stderr.write(f"ossm-conformance: could not remove probe pods ({exc}); they stop at their "
                             f"activeDeadlineSeconds and a later run removes them\n")
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        interrupted = interrupted or (deferred[0] if deferred else None)
    if interrupted is not None:
        if interrupted == signal.SIGINT:
            raise KeyboardInterrupt
        signal.raise_signal(interrupted)   # the previous SIGTERM handler (default: terminate)


# -- ztunnel endpoints ------------------------------------------------------------------------

def ztunnel_targets(api: Api, ztunnel_namespace: str) -> list[dict]:
    what = f"list pods labelled app=ztunnel in namespace {ztunnel_namespace}"
    try:
        pods = api.get(f"/api/v1/namespaces/{ztunnel_namespace}/pods", [("labelSelector", "app=ztunnel")]).get("items") or []
    except ApiException as exc:
        raise CouldNotCheck(f"could not find ztunnel endpoints: {describe(exc, what)}") from None
    targets = [{"pod": p["metadata"]["name"], "node": (p.get("spec") or {}).get("nodeName") or "-",
                "ip": (p.get("status") or {}).get("podIP")}
               for p in pods
               if (p.get("status") or {}).get("phase") == "Running" and (p.get("status") or {}).get("podIP")
               and not p["metadata"].get("deletionTimestamp")]
    if not targets:
        raise CouldNotCheck(f"no running ztunnel pod with an IP ({what}): there is no endpoint to scrape")
    return targets


def _mark_missing(scrapes: list[Scrape], targets: list[dict]) -> None:
    """An endpoint the probes never reported on is unobserved, not silently absent."""
    seen = {s.pod for s in scrapes}
    for t in targets:
        if t["pod"] not in seen:
            scrapes.append(Scrape(0, t["pod"], t["node"], t["ip"], False, "absent from the probe's output"))


# -- create, wait, read -----------------------------------------------------------------------

def _admission_not_ready(exc: BaseException) -> bool:
    """A namespace created seconds ago may not have its default ServiceAccount / SCC annotations yet."""
    text = str(getattr(exc, "body", "") or "")
    return isinstance(exc, ApiException) and exc.status == 403 and (
        'serviceaccount "default" not found' in text or "error looking up service account" in text)


def create_pod(api: Api, body: dict) -> None:
    ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
    retrying = bounded(CREATE_SETTLE, retry_if_exception(_admission_not_ready), longest=4)
    try:
        for attempt in retrying:
            with attempt:
                api.post(f"/api/v1/namespaces/{ns}/pods", body)
    except ApiException as exc:
        if exc.status == 409:
            # The name carries this run's id: a 409 means our own POST was applied but its answer was
            # lost (timeout, reset, apiserver restart) and the client's retry found the pod. Ours, fine.
            return
        raise CouldNotCheck(f"could not run probe pods: {describe(exc, f'create pod {name} in namespace {ns}')}") from None


def wait_until_finished(api: Api, settings: ProbeSettings, run_id: str, names: list[str]) -> None:
    """One bounded poll over fresh reads until every probe pod has Succeeded."""
    budget = settings.window + settings.timeout
    retrying = bounded(budget, retry_if_exception_type(_NotDone), longest=5, jitter=0.3)
    try:
        for attempt in retrying:
            with attempt:
                _check_progress(api, settings.namespace, run_id, names)
    except _NotDone as still:
        raise CouldNotCheck(f"probe pods did not finish within --mtls-window + --probe-timeout ({budget:g}s): {still}") from None


def _check_progress(api: Api, namespace: str, run_id: str, names: list[str]) -> None:
    what = f"list pods labelled {pod_spec.selector(run_id)} in namespace {namespace}"
    try:
        pods = {p["metadata"]["name"]: p for p in
                api.get(f"/api/v1/namespaces/{namespace}/pods", [("labelSelector", pod_spec.selector(run_id))]).get("items") or []}
    except ApiException as exc:
        raise CouldNotCheck(f"could not follow probe pods: {describe(exc, what)}") from None
    waiting = []
    for name in names:
        pod = pods.get(name)
        if pod is None:
            raise CouldNotCheck(f"probe pod {namespace}/{name} disappeared before finishing (deleted by someone else?)")
        status = pod.get("status") or {}
        phase = status.get("phase", "Pending")
        if phase == "Succeeded":
            continue
        if phase == "Failed":
            raise CouldNotCheck(f"probe pod {namespace}/{name} failed: {_termination(status)}")
        stuck = _image_or_config_failure(status)
        if stuck:
            raise CouldNotCheck(f"probe pod {namespace}/{name} cannot start: {stuck} (image {pod['spec']['containers'][0]['image']}; "
                                f"pass --probe-image with a reachable image that has python3)")
        waiting.append(f"{name} {phase}{_pending_reason(status)}")
    if waiting:
        raise _NotDone("; ".join(waiting))


def _image_or_config_failure(status: dict) -> str:
    for cs in status.get("containerStatuses") or ():
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_FAILURES:
            return f"{waiting['reason']}: {waiting.get('message', '')}".strip(": ")
    return ""


def _pending_reason(status: dict) -> str:
    for c in status.get("conditions") or ():
        if c.get("status") == "False" and c.get("reason"):
            return f" ({c['type']}: {c['reason']} {c.get('message', '')})".rstrip()
    return ""


def _termination(status: dict) -> str:
    if status.get("reason"):  # e.g. DeadlineExceeded
        return f"{status['reason']}: {status.get('message', '')}"
    for cs in status.get("containerStatuses") or ():
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            return f"exit code {term.get('exitCode')}: {(term.get('message') or term.get('reason') or '').strip()[-500:]}"
    return "no termination status"


def read_logs(api: Api, namespace: str, names: list[str]) -> list[str]:
    def one(name: str) -> str:
        try:
            return api.get_text(f"/api/v1/namespaces/{namespace}/pods/{name}/log", [("container", pod_spec.CONTAINER)])
        except ApiException as exc:
            raise CouldNotCheck(f"could not read probe output: {describe(exc, f'get pods/log {name} in namespace {namespace}')}") from None

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
        return list(pool.map(one, names))
