"""The one way the suite reaches the API server.

Built from --kubeconfig/--context with kubectl's rules (kubeconfig.py: --kubeconfig, else every
file of KUBECONFIG merged, else ~/.kube/config, else in-cluster), never written back. Every call carries a request timeout;
transient failures are retried with bounded, jittered backoff that honours Retry-After.
Requests are counted by verb so benchmarks and self-tests can compare runs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import kubernetes.client
import kubernetes.config
from tenacity import RetryCallState, retry_if_exception

from .. import __version__
from .errors import is_startup_answer, is_transient, is_unreachable, retry_after_seconds
from .kubeconfig import CredentialsError, KubeconfigError  # noqa: F401 — re-exported for callers
from .kubeconfig import load as load_kubeconfig
from .wait import backoff, bounded

log = logging.getLogger(__name__)

USER_AGENT = "ossm-conformance"
DEFAULT_REQUEST_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
DEFAULT_RETRY_BUDGET = 60.0            # seconds one call may spend retrying transient failures
STARTUP_GRACE = 10.0                   # seconds after the server was unreachable in which 403/404 may be a restart's


@dataclass(frozen=True)
class Target:
    """Where the suite points, for the report header (never credentials)."""
    server: str
    context: str
    user: str
    source: str  # the kubeconfig file(s), or "in-cluster"


def build_api_client(kubeconfig: str | None, context: str | None) -> tuple[kubernetes.client.ApiClient, Target]:
    """kubectl's rules (kubeconfig.py); with no kubeconfig at all, the in-cluster ServiceAccount."""
    loaded = load_kubeconfig(kubeconfig, context)
    if loaded is None:
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            cfg = kubernetes.client.Configuration()
            kubernetes.config.load_incluster_config(client_configuration=cfg)
            return _client(cfg), Target(cfg.host, "in-cluster", "serviceaccount", "in-cluster")
        raise KubeconfigError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config")
    cfg = loaded.configuration
    return _client(cfg), Target(cfg.host, loaded.context, loaded.user, loaded.source)


def _client(cfg: kubernetes.client.Configuration) -> kubernetes.client.ApiClient:
    cfg.connection_pool_maxsize = 16  # the snapshot lists 8 kinds at once, each with a page ahead (kube/pager.py)
    cfg.retries = False               # one retry layer only: ours
    client = kubernetes.client.ApiClient(cfg)
    # A distinct User-Agent lets audit logs and API Priority and Fairness tell the suite apart.
    client.user_agent = f"{USER_AGENT}/{__version__}"
    return client


class Api:
    """Thin JSON access to the API server: GET/POST/DELETE by path, timed, retried, counted."""

    def __init__(self, api_client: kubernetes.client.ApiClient, *,
                 request_timeout: tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
                 retry_budget: float = DEFAULT_RETRY_BUDGET):
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.retry_budget = retry_budget
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._unreachable_at: float | None = None

    @property
    def host(self) -> str:
        return self.api_client.configuration.host

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> dict:
        return self._call("GET", path, query=query)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body=body)

    def delete(self, path: str, body: dict | None = None, query: list[tuple[str, str]] | None = None) -> dict:
        return self._call("DELETE", path, body=body, query=query)

    def open(self, path: str, query: list[tuple[str, str]] | None = None):
        """GET, answered 2xx, its body not read yet (the urllib3 response): the snapshot's pager
        (kube/pager.py) reads a list page's first bytes, then the rest, and decodes it itself."""
        return self._call("GET", path, query=query, whole_response=True)

    def get_text(self, path: str, query: list[tuple[str, str]] | None = None) -> str:
        return self._call("GET", path, query=query, raw=True)

    def get_with_server_time(self, path: str, query: list[tuple[str, str]] | None = None) -> tuple[dict, datetime | None]:
        """GET, plus the API server's clock from the response's Date header: an object's age is
        judged on the clock that stamped it, never on this machine's (which may be skewed)."""
        response = self._call("GET", path, query=query, whole_response=True)
        return (json.loads(response.data) if response.data else {}), _server_time(response)

    def _call(self, method: str, path: str, *, query=None, body=None, raw: bool = False, whole_response: bool = False):
        retrying = bounded(self.retry_budget, retry_if_exception(self._worth_retrying), attempts=12,
                           wait=_wait_honouring_retry_after, before_sleep=_log_retry)
        for attempt in retrying:
            with attempt:
                return self._once(method, path, query, body, raw, whole_response)

    def _worth_retrying(self, exc: BaseException) -> bool:
        if is_transient(exc):
            if is_unreachable(exc):
                self._unreachable_at = time.monotonic()
            return True
        # A kube-apiserver serves requests a moment before its RBAC and CRD caches sync: right after
        # a restart it answers 403/404 to allowed requests. Only in the seconds after this client
        # found the server unreachable are those retried (bounded); otherwise they are answers.
        since = time.monotonic() - self._unreachable_at if self._unreachable_at is not None else None
        return is_startup_answer(exc) and since is not None and since < STARTUP_GRACE

    def _once(self, method, path, query, body, raw, whole_response=False):
        with self._lock:
            self.requests[method] += 1
        response = self.api_client.call_api(
            path, method,
            query_params=query or [],
            # pods/log answers 406 to "Accept: text/plain" (kube-apiserver 1.34); kubectl sends */* too.
            header_params={"Accept": "*/*" if raw else "application/json",
                           "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=self.request_timeout,
        )
        if whole_response:
            return response
        data = response.data
        if raw:
            return data.decode("utf-8", "replace")
        return json.loads(data) if data else {}


def _server_time(response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers.get("Date"))
    except (TypeError, ValueError):  # no or unreadable Date header
        return None


_backoff = backoff(first=0.5, longest=8)


def _wait_honouring_retry_after(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    hinted = retry_after_seconds(exc) if exc else None
    return max(hinted or 0.0, _backoff(state))


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info("transient API failure (attempt %d), retrying: %s", state.attempt_number, type(exc).__name__)
