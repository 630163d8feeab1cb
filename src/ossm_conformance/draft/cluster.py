"""The draft's reads: one snapshot of the kinds a profile is drafted from, and one observation window.

Read-only, like the suite: lists only. Edges come from Prometheus/Thanos when a URL is given
(one increase() query per chunk of namespaces, nothing written), else from the suite's probe pods
(mtls/probes.py: the suite's only write, in its own namespace, always removed). Both are the
suite's own code paths, so a drafted edge is judged later from exactly the same evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import mesh
from ..checks.plan import NOT_COPIED
from ..findings import CouldNotCheck
from ..kube.client import Api
from ..kube.objects import name
from ..kube.snapshot import Read, Snapshot, fetch
from ..mtls import probes, prometheus
from ..mtls.observation import Observation, from_scrapes

READS = [Read(kind) for kind in ("namespaces", "pods", "services", "deployments", "gateways", "peerauthentications", "roles",
                                 "subscriptions", "istios", "istiocnis", "ztunnels")]
READS.append(Read("clusterserviceversions", label_selector=NOT_COPIED))


@dataclass
class Observed:
    observation: Observation
    source: str                 # for comments: "60s (prometheus http://...)"


def snapshot(api: Api) -> Snapshot:
    snap = fetch(api, READS)
    failed = [r.error for r in snap.results if r.error]
    if failed:
        raise CouldNotCheck("; ".join(failed))
    return snap


def ambient_namespaces(view) -> list[str]:
    return sorted(name(ns) for ns in view.list("namespaces") if mesh.is_ambient(ns))


def observe(api: Api, opt, namespaces: list[str], ztunnel_namespace: str) -> Observed:
    """One window of counters toward `namespaces`, from Prometheus when opt.prometheus_url is set."""
    if opt.prometheus_url:
        prom = prometheus.connect_from_options(opt, api)
        problem = prometheus.reachable(prom)
        if problem:
            raise CouldNotCheck(f"could not query --prometheus-url {opt.prometheus_url}: {problem}")
        obs = prometheus.observe(prom, namespaces, opt.mtls_window)
        return Observed(obs, f"{opt.mtls_window:g}s (prometheus {opt.prometheus_url})")
    settings = probes.ProbeSettings(opt.probe_namespace, opt.probe_image, opt.mtls_window, opt.probe_timeout,
                                    ztunnel_namespace, tuple(namespaces))
    obs = from_scrapes(probes.collect(api, settings, probes.new_run_id()), opt.mtls_window)
    return Observed(obs, f"{opt.mtls_window:g}s (probe pods in {opt.probe_namespace})")
