"""The probe program: runs inside a probe pod as `python3 -c <this file's source>`.

STDLIB ONLY and self-contained: the pod's image (a UBI python) has nothing else, and the suite
ships this file's text in the pod spec. It scrapes every ztunnel endpoint it is given twice,
WINDOW seconds apart (the only sleep of the whole suite lives here, in the pod, on purpose: it
is the observation window), and prints what it kept to stdout, which the suite reads back
through the API (`pods/log`). Logs, not the 4 KiB termination message, so that 500 tenants fit.

To stay small at scale it keeps only what the suite judges (the same series the Prometheus
source asks for, prometheus.py):
  - istio_tcp_connections_opened/closed and istio_tcp_received/sent_bytes samples, both
    reporters, restricted to PROBE_NAMESPACES (destination_workload_namespace of the profiled
    edges) when given: bytes and completed closes are the evidence that data flowed, closes
    carry response_flags (DENY), and the source reporter shows what the destination never saw;
  - istio_build (the ztunnel version, for the incident report);
  - only the labels the suite reads, summing series that become identical once the others go.

Input (environment): PROBE_TARGETS JSON [{"pod", "node", "ip"}], PROBE_WINDOW seconds,
PROBE_PORT (15020), PROBE_PATH (/metrics), PROBE_NAMESPACES comma list, PROBE_SCRAPE_TIMEOUT.
Output, per round and endpoint, a header line then OpenMetrics text ending in `# EOF`:
  === ossm-probe round=0 pod=ztunnel-abc node=worker-1 ip=10.128.2.5 status=ok
  # TYPE istio_tcp_connections_opened counter
  istio_tcp_connections_opened_total{reporter="destination",...} 12
  # EOF
or `status=error reason=...` without a body; each round ends with `=== ossm-probe round=N done`.
"""

import gzip
import json
import os
import re
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HEADER = "=== ossm-probe"
# The counters and labels the judge reads; prometheus.py asks for exactly these (one definition).
TCP_FAMILIES = ("istio_tcp_connections_opened", "istio_tcp_connections_closed", "istio_tcp_received_bytes",
                "istio_tcp_sent_bytes")
BUILD_FAMILY = "istio_build"
TCP_LABELS = (
    "reporter", "source_workload", "source_workload_namespace", "source_principal",
    "destination_service_name", "destination_service_namespace", "destination_workload",
    "destination_workload_namespace", "connection_security_policy", "response_flags",
)
BUILD_LABELS = ("component", "tag")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def family_of(sample_name):
    if sample_name == BUILD_FAMILY:
        return BUILD_FAMILY
    if sample_name.endswith("_total") and sample_name[:-6] in TCP_FAMILIES:
        return sample_name[:-6]
    return None


def kept_labels(family, labels, namespaces):
    """The reduced label tuple of a sample worth keeping, or None to drop it."""
    if family == BUILD_FAMILY:
        return tuple((k, labels.get(k, "unknown")) for k in BUILD_LABELS)
    if namespaces and labels.get("destination_workload_namespace") not in namespaces:
        return None
    return tuple((k, labels.get(k, "unknown")) for k in TCP_LABELS)


def parse_sample(line):
    """'name{a="b",...} value [ts]' -> (name, {labels}, value), or None for an unusable line."""
    brace = line.find("{")
    if brace == -1:
        parts = line.split()
        if len(parts) < 2:
            return None
        name, labels, rest = parts[0], {}, parts[1:]
    else:
        end = line.rfind("}")
        if end < brace:
            return None
        name = line[:brace]
        labels = {k: v for k, v in LABEL_RE.findall(line[brace + 1:end])}  # values stay escaped
        rest = line[end + 1:].split()
    if not rest:
        return None
    try:
        return name, labels, float(rest[0])
    except ValueError:
        return None


def filter_exposition(lines, namespaces):
    """Exposition lines -> {family: {label tuple: summed value}} for the families we keep."""
    kept = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("istio_"):  # cheap reject: most of a ztunnel scrape is other families
            continue
        cuts = [i for i in (line.find("{"), line.find(" ")) if i != -1]
        if not cuts or family_of(line[:min(cuts)]) is None:
            continue
        parsed = parse_sample(line)
        if parsed is None:
            continue
        name, labels, value = parsed
        family = family_of(name)
        key = kept_labels(family, labels, namespaces)
        if key is None:
            continue
        series = kept.setdefault(family, {})
        series[key] = series.get(key, 0.0) + value
    return kept


def render(kept):
    """OpenMetrics text of the kept families (TYPE line, samples, `# EOF`)."""
    out = []
    for family in (BUILD_FAMILY,) + TCP_FAMILIES:
        series = kept.get(family)
        if not series:
            continue
        kind = "gauge" if family == BUILD_FAMILY else "counter"
        sample = family if family == BUILD_FAMILY else family + "_total"
        out.append(f"# TYPE {family} {kind}")
        for key, value in series.items():
            labels = ",".join(f'{k}="{v}"' for k, v in key)
            number = str(int(value)) if value == int(value) else repr(value)
            out.append(f"{sample}{{{labels}}} {number}")
    out.append("# EOF")
    return "\n".join(out)


def scrape(target, port, path, timeout, namespaces):
    """One endpoint -> (status line suffix, body or None). Streams so a large scrape stays small."""
    url = f"http://{target['ip']}:{port}{path}"
    request = urllib.request.Request(url, headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        "Accept-Encoding": "gzip",
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            stream = gzip.GzipFile(fileobj=response) if response.headers.get("Content-Encoding") == "gzip" else response
            lines = (raw.decode("utf-8", "replace") for raw in stream)
            return "status=ok", render(filter_exposition(lines, namespaces))
    except Exception as exc:  # every failure is reported per endpoint; the other endpoints still count
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        return f"status=error reason=GET {url}: {reason}", None


def scrape_round(number, targets, port, path, timeout, namespaces, out):
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        results = list(pool.map(lambda t: scrape(t, port, path, timeout, namespaces), targets))
        # A ztunnel busy for a moment (its node under load) answers a second time: one more attempt
        # once the round's other scrapes are done, before the endpoint counts as unobserved (which
        # leaves its edges undecided). Each attempt is bounded by the scrape timeout.
        failed = [i for i, (_, body) in enumerate(results) if body is None]
        for i, retried in zip(failed, pool.map(lambda i: scrape(targets[i], port, path, timeout, namespaces), failed)):
            results[i] = retried
    for target, (status, body) in zip(targets, results):
        out.write(f"{HEADER} round={number} pod={target['pod']} node={target.get('node') or '-'} "
                  f"ip={target['ip']} {status}\n")
        if body is not None:
            out.write(body + "\n")
    out.write(f"{HEADER} round={number} done\n")
    out.flush()  # the first round is readable in the log even if the pod is stopped later


def main(environ=None, out=None):
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    targets = json.loads(environ["PROBE_TARGETS"])
    window = float(environ.get("PROBE_WINDOW", "60"))
    port = int(environ.get("PROBE_PORT", "15020"))
    path = environ.get("PROBE_PATH", "/metrics")
    timeout = float(environ.get("PROBE_SCRAPE_TIMEOUT", "10"))
    namespaces = frozenset(n for n in environ.get("PROBE_NAMESPACES", "").split(",") if n)
    started = time.monotonic()
    scrape_round(0, targets, port, path, timeout, namespaces, out)
    # The observation window: counters must grow between the two rounds (deltas, not presence).
    # It starts when the first round has ended, so every endpoint's two scrapes are at least
    # `window` apart: counted from the start, a slow first round (150 endpoints on a loaded node)
    # would leave the last endpoints a fraction of a second, too little to see a counter move.
    # This program runs inside the probe pod; the suite itself waits only through bounded polls.
    time.sleep(window)
    scrape_round(1, targets, port, path, timeout, namespaces, out)
    out.write(f"{HEADER} end window={window:g} elapsed={time.monotonic() - started:.2f}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
