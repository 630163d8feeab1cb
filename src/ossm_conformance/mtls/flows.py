"""PURE: counter deltas summed into flows: what was opened, how it closed, how many bytes moved.

What the counters mean, read in istio/ztunnel 1.28 (`src/proxy/metrics.rs`, `ConnectionResult`):
- `istio_tcp_connections_opened_total` grows once, when a connection starts (`ConnectionResult::new`),
  before authorization and before the upstream connect: attempts count, long-lived connections
  opened before the window add nothing to it;
- `istio_tcp_received_bytes_total` / `istio_tcp_sent_bytes_total` grow while data is copied;
- `istio_tcp_connections_closed_total` grows once, at the end, carrying the final `response_flags`:
  `DENY` when an AuthorizationPolicy (or STRICT, for plaintext) refused it (`src/proxy/inbound.rs`,
  `src/proxy/inbound_passthrough.rs`: `record_with_flag(..., AuthorizationPolicyDenied)`), `CONNECT`
  when the inbound upstream connect failed, `-` otherwise. On the source side 1.28 records a failed
  outbound connection (e.g. no certificate) with `-` too (`src/proxy/outbound.rs`: `record(res)`;
  1.29+ adds IDENTITY_ERROR, TLS_FAILURE, ...), so only bytes prove delivery there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .observation import CLOSED, OPENED, RECEIVED, SENT, SeriesDelta

NO_FLAG, DENY = "-", "DENY"
MUTUAL_TLS = "mutual_tls"


def reporter(d: SeriesDelta) -> str:
    return d.labels.get("reporter", "unknown")


def policy(d: SeriesDelta) -> str:
    return d.labels.get("connection_security_policy", "unknown")


def principal(d: SeriesDelta) -> str:
    return d.labels.get("source_principal", "unknown")


def caller(d: SeriesDelta) -> tuple[str, str]:
    """(namespace, workload) of the client as ztunnel names it (looked up by the client's IP)."""
    return d.labels.get("source_workload_namespace", "unknown"), d.labels.get("source_workload", "unknown")


def toward(d: SeriesDelta, destination: str, namespace: str) -> bool:
    labels = d.labels
    in_namespace = namespace in (labels.get("destination_workload_namespace"), labels.get("destination_service_namespace"))
    # A client dialling a pod IP leaves destination_service* "unknown" (istio/ztunnel#404): the workload still names it.
    return in_namespace and destination in (labels.get("destination_service_name"), labels.get("destination_workload"))


@dataclass
class Flow:
    """The window's growth of one group of series."""
    opened: float = 0.0
    bytes: float = 0.0
    closed: dict[str, float] = field(default_factory=dict)   # response_flags -> closes

    @property
    def denied(self) -> float:
        return self.closed.get(DENY, 0.0)

    @property
    def completed(self) -> float:
        return self.closed.get(NO_FLAG, 0.0)

    @property
    def grew(self) -> bool:
        return self.opened > 0 or self.bytes > 0 or any(v > 0 for v in self.closed.values())

    def delivered(self, reported_by: str) -> bool:
        """Data flowed: bytes moved, or (destination side only) connections were accepted and completed."""
        return self.bytes > 0 or (reported_by == "destination" and self.completed > 0)

    def describe(self) -> str:
        closes = ", ".join(f"{n:g} {flag}" for flag, n in sorted(self.closed.items()) if n > 0) or "none"
        return f"+{self.opened:g} opened, +{self.bytes:g} bytes, closed: {closes}"


def flow(series: Iterable[SeriesDelta]) -> Flow:
    total = Flow()
    for d in series:
        if d.delta <= 0:
            continue
        if d.name == OPENED:
            total.opened += d.delta
        elif d.name in (RECEIVED, SENT):
            total.bytes += d.delta
        elif d.name == CLOSED:
            flag = d.labels.get("response_flags", NO_FLAG)
            total.closed[flag] = total.closed.get(flag, 0.0) + d.delta
    return total


def by_caller(series: Iterable[SeriesDelta]) -> dict[tuple[str, str], Flow]:
    groups: dict[tuple[str, str], list[SeriesDelta]] = {}
    for d in series:
        groups.setdefault(caller(d), []).append(d)
    return {c: flow(s) for c, s in sorted(groups.items())}
