"""The Prometheus / Thanos Querier source, through prometheus-api-client.

One instant query per counter and chunk of destination namespaces (not per edge: 500 tenants
stay a handful of requests), `increase()` over the window, grouped by the labels the judge reads
and by the scraped ztunnel `pod`. The counters and labels are the probe's (probe_program.py), so
the judge (evidence.py) answers the same questions from both sources. One query per counter
because increase() drops the metric name: the families would collide in one result.
`partial_response=false` makes Thanos fail instead of answering from a subset of stores.

A ztunnel Prometheus did not scrape at least twice in the window has no increase() at all
(prometheus/prometheus promql/functions.go, extrapolatedRate: fewer than two samples, no value):
its edges would look silent. So one more query counts each ztunnel's successful scrapes
(`up` = 1) over the same range, and a ztunnel with fewer than two is *unobserved*, as the probe
marks a ztunnel it could not scrape: a node that rebooted or a ztunnel that restarted during the
window, or a window shorter than two scrape intervals, leaves its edges undecided, never red.
Tokens travel only in the Authorization header; they are never logged or attached.
"""

from __future__ import annotations

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from ..findings import CouldNotCheck
from ..kube.errors import OBJECT_REPR
from ..redact import redact_text
from .observation import COUNTERS, Observation, SeriesDelta, Ztunnel
from .probe_program import TCP_LABELS

GROUP_BY = ("pod", "node") + TCP_LABELS
NAMESPACES_PER_QUERY = 40   # keeps the GET URL far below proxy limits
PARAMS = {"partial_response": "false"}
ERRORS = (PrometheusApiClientException, requests.exceptions.RequestException, ValueError, KeyError)


def connect(url: str, token: str | None, ca: str | None, insecure: bool, timeout: float) -> PrometheusConnect:
    session = requests.Session()
    session.verify = False if insecure else (ca or True)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    # One small retry layer for 5xx/429; connection failures surface quickly as one clear line.
    retry = Retry(total=2, connect=1, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504))
    return PrometheusConnect(url=url.rstrip("/"), headers=headers, session=session, retry=retry, timeout=timeout)


def connect_from_options(opt, api) -> PrometheusConnect:
    """The connection the options describe. Without --prometheus-token, the kubeconfig's bearer
    token: OpenShift's thanos-querier accepts the same token as the API server (oc login)."""
    token = opt.prometheus_token or _bearer_token(api)
    return connect(opt.prometheus_url, token, opt.prometheus_ca, opt.prometheus_insecure, timeout=opt.ossm_request_timeout)


def _bearer_token(api) -> str | None:
    value = (api.api_client.configuration.api_key or {}).get("authorization") or ""
    return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else (value or None)


def reachable(prom: PrometheusConnect) -> str | None:
    """None when the endpoint answers a query, else one line saying why (no credentials in it)."""
    try:
        prom.custom_query("vector(1)", params=PARAMS)  # not GET / : an OpenShift route serves only /api
        return None
    except ERRORS as exc:
        return _one_line(exc)


def duration(window: float) -> str:
    return f"{int(round(window * 1000))}ms"


def query_for(counter: str, namespaces: list[str], window: float) -> str:
    # Namespaces are DNS labels (validated with the profile): nothing in them needs regex escaping.
    pattern = "|".join(namespaces)
    return (f"sum by ({', '.join(GROUP_BY)}) (increase({counter}"
            f'{{destination_workload_namespace=~"{pattern}"}}[{duration(window)}]))')


def scrapes_query(ztunnel_namespace: str, window: float) -> str:
    return f'sum by (pod) (sum_over_time(up{{namespace="{ztunnel_namespace}"}}[{duration(window)}]))'


def observe(prom: PrometheusConnect, namespaces: list[str], window: float,
            ztunnels: dict[str, str] | None = None, ztunnel_namespace: str = "ztunnel") -> Observation:
    """ztunnels: the running ztunnel pods (pod -> node, from the snapshot) the window should cover;
    None: only the ztunnels that answered are known (the profile draft)."""
    obs = Observation("prometheus", window)
    queries = 0
    for i in range(0, len(namespaces), NAMESPACES_PER_QUERY):
        for counter in COUNTERS:
            query = query_for(counter, namespaces[i:i + NAMESPACES_PER_QUERY], window)
            obs.query = obs.query or query
            queries += 1
            try:
                rows = prom.custom_query(query, params=PARAMS)
            except ERRORS as exc:
                raise CouldNotCheck(f"could not query Prometheus {prom.url}: {_one_line(exc)}") from None
            for row in rows:
                labels = {k: v for k, v in row["metric"].items() if k not in ("pod", "node")}
                pod = row["metric"].get("pod", "unknown")
                obs.ztunnels.setdefault(pod, Ztunnel(pod, row["metric"].get("node", "-")))
                obs.deltas.append(SeriesDelta(pod, counter, labels, float(row["value"][1])))
    if ztunnels is not None:
        _mark_unscraped(obs, _successful_scrapes(prom, ztunnel_namespace, window), ztunnels)
        queries += 1
    if queries > 1:
        obs.query += f" (and {queries - 1} more: one per counter and namespace chunk, and the ztunnels' scrapes)"
    return obs


def _successful_scrapes(prom: PrometheusConnect, ztunnel_namespace: str, window: float) -> dict[str, float]:
    try:
        rows = prom.custom_query(scrapes_query(ztunnel_namespace, window), params=PARAMS)
    except ERRORS as exc:
        raise CouldNotCheck(f"could not query Prometheus {prom.url}: {_one_line(exc)}") from None
    return {row["metric"].get("pod", ""): float(row["value"][1]) for row in rows}


def _mark_unscraped(obs: Observation, scrapes: dict[str, float], ztunnels: dict[str, str]) -> None:
    """Every running ztunnel needs two successful scrapes in the window for its increase() to exist.
    A pod Prometheus still remembers but the snapshot does not list as running is gone (a rollout
    replaced it): its node's ztunnel is the running one, judged in its place. Only when the pods
    could not be read does every scraped ztunnel count."""
    for pod in sorted(ztunnels or {p for p in scrapes if p}):
        if pod in ztunnels:
            obs.ztunnels.setdefault(pod, Ztunnel(pod, ztunnels[pod]))
        count = scrapes.get(pod, 0.0)
        if count < 2:
            obs.unobserved[pod] = (
                f"Prometheus scraped it successfully {count:g} time(s) in the {obs.window:g}s window; increase() needs "
                f"two samples (a ztunnel restarted or its node came back during the window, a failing scrape, or "
                f"--mtls-window shorter than two scrape intervals)")


def _one_line(exc: BaseException) -> str:
    # requests wraps urllib3's MaxRetryError, whose .reason says what happened ("[Errno 111] Connection
    # refused") after a pool description that would push it past the cut.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = f"{type(exc).__name__}: {OBJECT_REPR.sub('', str(reason or exc))}".replace("\n", " ")
    return redact_text(text if len(text) < 300 else text[:297] + "...")
