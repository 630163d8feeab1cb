"""Sample ztunnel expositions for the mTLS unit tests (all 27 labels, as ztunnel 1.25+ writes them)."""

from __future__ import annotations

# The lab's ztunnel endpoints write the same label set in the same order: one list for both.
from lab.traffic import LABEL_NAMES  # noqa: E402
from ossm_conformance.profile import Edge

NS = "bank-employees-jboss-chat"
EDGE = Edge(source="bff", source_service_account="bff", destination="chat-backend", destination_service_account="chat-backend")


def series(reporter="destination", policy="mutual_tls", principal=f"spiffe://cluster.local/ns/{NS}/sa/bff",
           source="bff", destination="chat-backend", namespace=NS, version="v1", flags="-",
           source_namespace=NS, destination_workload=None) -> dict:
    values = {
        "reporter": reporter, "source_workload": source, "source_canonical_service": source,
        "source_canonical_revision": "latest", "source_workload_namespace": source_namespace,
        "source_principal": principal,
        "source_app": source, "source_version": version, "source_cluster": "Kubernetes",
        "destination_service": f"{destination}.{namespace}.svc.cluster.local",
        "destination_service_namespace": namespace, "destination_service_name": destination,
        "destination_workload": destination_workload or destination, "destination_canonical_service": destination,
        "destination_canonical_revision": "latest", "destination_workload_namespace": namespace,
        "destination_principal": f"spiffe://cluster.local/ns/{namespace}/sa/{destination}",
        "destination_app": destination, "destination_version": "latest", "destination_cluster": "Kubernetes",
        "request_protocol": "tcp", "response_flags": flags, "connection_security_policy": policy,
        "source_region": "unknown", "source_zone": "unknown", "destination_region": "unknown", "destination_zone": "unknown",
    }
    return values


FAMILIES = ("istio_tcp_connections_opened", "istio_tcp_connections_closed", "istio_tcp_received_bytes",
            "istio_tcp_sent_bytes")


def exposition(counters: list[tuple[dict, float]], tag: str = "1.28.3") -> str:
    """OpenMetrics text as ztunnel serves it: HELP/TYPE per family, opened/closed/bytes, noise families, # EOF.
    Every (labels, value) is written in each of the four TCP families."""
    return exposition_of([(family, labels, value) for family in FAMILIES for labels, value in counters], tag)


def exposition_of(samples: list[tuple[str, dict, float]], tag: str = "1.28.3") -> str:
    """The same, one (family, labels, value) per sample line, in ztunnel's label order."""
    def line(sample: str, labels: dict, value) -> str:
        body = ",".join(f'{k}="{labels[k]}"' for k in LABEL_NAMES)
        return f"{sample}{{{body}}} {value:g}"

    out = ["# HELP istio_build Istio component build info.", "# TYPE istio_build gauge",
           f'istio_build{{component="ztunnel",tag="{tag}"}} 1']
    for family in FAMILIES:
        out += [f"# HELP {family} The total.", f"# TYPE {family} counter"]
        out += [line(f"{family}_total", labels, value) for fam, labels, value in samples if fam == family]
    out += ["# HELP workload_manager_active_proxy_count The count (unstable).",
            "# TYPE workload_manager_active_proxy_count gauge", "workload_manager_active_proxy_count 7",
            "# HELP istio_xds_message The total.", "# TYPE istio_xds_message counter",
            'istio_xds_message_total{url="type.googleapis.com/istio.workload.Address"} 42',
            "# EOF"]
    return "\n".join(out) + "\n"
