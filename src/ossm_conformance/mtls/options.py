"""Command-line options of the live mTLS evidence, and their one-line validation."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ..profile import DNS_LABEL_RE

SOURCES = ("probe", "prometheus", "both")
DEFAULT_PROBE_IMAGE = "registry.access.redhat.com/ubi9/python-311:latest"  # UBI, runs as non-root 1001, has python3
DEFAULT_PROBE_NAMESPACE = "ossm-conformance"


def add_options(g) -> None:
    g.addoption("--mtls-source", dest="mtls_source", default="probe", choices=SOURCES,
                help="where the mTLS evidence comes from: probe pods scraping ztunnel, Prometheus/Thanos, "
                     "or both (each must pass; default probe)")
    g.addoption("--mtls-window", dest="mtls_window", type=float, default=60.0, metavar="SECONDS",
                help="observation window: counters must grow within it (default 60; with Prometheus "
                     "scraping every 30s use >= 120)")
    g.addoption("--probe-namespace", dest="probe_namespace", default=DEFAULT_PROBE_NAMESPACE, metavar="NS",
                help=f"namespace of the probe pods, created if absent, never enrolled, never deleted "
                     f"(default {DEFAULT_PROBE_NAMESPACE})")
    g.addoption("--probe-image", dest="probe_image", default=DEFAULT_PROBE_IMAGE, metavar="IMAGE",
                help=f"image with python3 for the probe pods (default {DEFAULT_PROBE_IMAGE})")
    g.addoption("--probe-timeout", dest="probe_timeout", type=float, default=180.0, metavar="SECONDS",
                help="how long probe pods may take beyond --mtls-window to be scheduled, pull the image, "
                     "scrape and finish before the mTLS tests become errors (default 180)")
    g.addoption("--prometheus-url", dest="prometheus_url", default=None, metavar="URL",
                help="Prometheus or Thanos Querier base URL, e.g. https://thanos-querier-openshift-monitoring.apps.<domain> "
                     "(required by --mtls-source prometheus|both)")
    g.addoption("--prometheus-token", dest="prometheus_token", default=None, metavar="TOKEN",
                help="bearer token for Prometheus (default: the kubeconfig's bearer token, as thanos-querier expects)")
    g.addoption("--prometheus-ca", dest="prometheus_ca", default=None, metavar="FILE",
                help="CA bundle that signs the Prometheus endpoint's certificate (default: the system trust store)")
    g.addoption("--prometheus-insecure", dest="prometheus_insecure", action="store_true", default=False,
                help="do not verify the Prometheus endpoint's TLS certificate")


def uses_prometheus(opt) -> bool:
    return opt.mtls_source in ("prometheus", "both")


def problem(opt) -> str | None:
    """The first bad option value, as one line for the user, or None."""
    if opt.mtls_window <= 0:
        return f"--mtls-window must be > 0 seconds, got {opt.mtls_window:g}"
    if opt.probe_timeout <= 0:
        return f"--probe-timeout must be > 0 seconds, got {opt.probe_timeout:g}"
    if not DNS_LABEL_RE.match(opt.probe_namespace):
        return f"--probe-namespace {opt.probe_namespace!r} is not a valid namespace name"
    if not opt.probe_image.strip():
        return "--probe-image must name an image"
    if opt.prometheus_url is not None:
        url = urlparse(opt.prometheus_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            return f"--prometheus-url {opt.prometheus_url!r} is not an http(s) URL (e.g. https://thanos-querier.example:9091)"
    if uses_prometheus(opt) and not opt.prometheus_url:
        return f"--mtls-source {opt.mtls_source} needs --prometheus-url"
    if opt.prometheus_ca is not None and not Path(opt.prometheus_ca).is_file():
        return f"--prometheus-ca {opt.prometheus_ca}: no such file"
    if opt.prometheus_ca and opt.prometheus_insecure:
        return "--prometheus-ca and --prometheus-insecure contradict each other: pass one"
    return None
