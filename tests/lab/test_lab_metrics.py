"""The lab's ztunnel endpoints and Prometheus, against a running twin (lab/services.py).

The endpoints must look like ztunnel to a scraper (OpenMetrics text, the real labels, counters
that grow) and follow the twin's state the way a real mesh would under the runbook's faults.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from lab import faults
from lab.workload_identity import RbacIndex
from lab.wait import polling
from lab_helpers import service_account_may

pytestmark = pytest.mark.lab

PILOT = "bank-employees-jboss-chat"
PILOT_EDGES = [("bff", "chat-backend"), ("bff", "eap-domain-group-a"), ("bff", "eap-domain-group-b")]
CLIENT = f"spiffe://cluster.local/ns/{PILOT}/sa/bff"
OPENED = "istio_tcp_connections_opened_total"
CLOSED = "istio_tcp_connections_closed_total"
RECEIVED = "istio_tcp_received_bytes_total"
SETTLE_S = 10  # the endpoints relist within ~1 s of a change; bounded with room for a busy machine


@contextmanager
def fault(kubeconfig: Path, name: str):
    """One named fault for the length of a block; the healthy twin is restored in every case."""
    faults.apply(name, kubeconfig)
    try:
        yield
    finally:
        faults.reset(kubeconfig)


@pytest.fixture(scope="module")
def prometheus_url(lab) -> str:
    url = lab.env.get("LAB_PROMETHEUS_URL")
    if not url:
        pytest.fail(f"no LAB_PROMETHEUS_URL in {lab.dir / 'env'}: the lab's services did not start")
    return url


def ztunnel_pods(api) -> dict[str, dict]:
    """node -> its ztunnel pod."""
    pods = api.get("/api/v1/namespaces/ztunnel/pods", labelSelector="app=ztunnel")["items"]
    return {p["spec"]["nodeName"]: p for p in pods}


def fetch(ip: str, path: str = "/metrics", accept: str | None = None) -> tuple[str, str]:
    request = urllib.request.Request(f"http://{ip}:15020{path}", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers.get("Content-Type", ""), response.read().decode()


def samples(ip: str) -> list:
    _, text = fetch(ip, "/stats/prometheus", "application/openmetrics-text;version=1.0.0")
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def edge_series(api, reporter: str, source: str, destination: str, name: str = OPENED, namespace: str = PILOT,
                source_namespace: str = PILOT) -> list:
    """The node's ztunnel series for one edge, scraped from the node that reports it."""
    node = _node_of(api, source_namespace if reporter == "source" else namespace,
                    source if reporter == "source" else destination)
    ip = ztunnel_pods(api)[node]["status"]["podIP"]
    service = f"{destination}.{namespace}.svc.cluster.local"
    return [s for s in samples(ip) if s.name == name and s.labels["reporter"] == reporter
            and s.labels["source_workload_namespace"] == source_namespace and s.labels["destination_service"] == service]


def _node_of(api, namespace: str, app: str) -> str:
    pods = api.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
    return next(p["spec"]["nodeName"] for p in pods if p["metadata"]["labels"].get("app") == app
                or p["metadata"]["name"].startswith(app + "-"))


def total(series, **labels) -> float:
    return sum(s.value for s in series if all(s.labels.get(k) == v for k, v in labels.items()))


def grows(read, seconds: float = SETTLE_S) -> None:
    """Bounded: `read()` (a number) must grow between two reads about 1.5 s apart."""
    for attempt in polling(seconds, every=0.5):
        with attempt:
            before = read()
            time.sleep(1.5)
            after = read()
            assert after > before, f"did not grow: {before} -> {after}"


def test_every_ztunnel_pod_ip_serves_openmetrics_on_15020(api):
    for node, pod in ztunnel_pods(api).items():
        ip = pod["status"]["podIP"]
        content_type, text = fetch(ip, "/metrics", "application/openmetrics-text;version=1.0.0")
        assert content_type.startswith("application/openmetrics-text"), (node, content_type)
        assert text.endswith("# EOF\n")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["istio_build"].samples[0].labels == {"component": "ztunnel", "tag": "1.28.10"}
        for name in ("istio_tcp_connections_opened", "istio_tcp_connections_closed",
                     "istio_tcp_received_bytes", "istio_tcp_sent_bytes"):
            assert families[name].type == "counter", (node, name)
        # Without an OpenMetrics Accept header: same body, text/plain (as ztunnel answers).
        plain_type, plain = fetch(ip, "/stats/prometheus")
        assert plain_type.startswith("text/plain") and plain.endswith("# EOF\n")
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(ip, "/stats")
        assert err.value.code == 404


def test_counters_only_grow_between_two_scrapes(api):
    ips = [p["status"]["podIP"] for p in ztunnel_pods(api).values()]
    first = {ip: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(ip)} for ip in ips}
    time.sleep(2.2)
    grew = 0
    for ip in ips:
        second = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(ip)}
        for key, value in first[ip].items():
            assert second.get(key, -1) >= value, (ip, key)
            grew += second[key] > value
    assert grew, "no counter grew in 2 s"


@pytest.mark.parametrize("source, destination", PILOT_EDGES)
def test_pilot_edges_are_mutual_tls_with_the_client_principal(api, source, destination):
    # Counters outlive faults (an earlier test's plaintext series stay, as on a real ztunnel):
    # judge the series by policy and by what grows, not by presence alone.
    for reporter in ("source", "destination"):
        series = [s for s in edge_series(api, reporter, source, destination)
                  if s.labels["connection_security_policy"] == "mutual_tls"]
        assert series, f"no mutual_tls {reporter} series for {source} -> {destination}"
        assert {s.labels["source_principal"] for s in series} == {CLIENT}
        assert {s.labels["destination_principal"] for s in series} == {
            f"spiffe://cluster.local/ns/{PILOT}/sa/{destination}"}
        assert len(series[0].labels) == 27  # ztunnel 1.25+: 23 labels plus four locality labels
    # Delivered data, not opens: bff -> chat-backend rides long-lived connections (lab/twin_traffic.yaml).
    grows(lambda: total(edge_series(api, "destination", source, destination, RECEIVED),
                        connection_security_policy="mutual_tls"))
    plaintext = total(edge_series(api, "destination", source, destination), connection_security_policy="unknown")
    time.sleep(1.5)
    assert total(edge_series(api, "destination", source, destination),
                 connection_security_policy="unknown") == plaintext, "plaintext grew on the healthy twin"


def test_rbac_evaluator_agrees_with_subject_access_reviews(api, lab):
    """The endpoints decide workload identity from listed RBAC; the apiserver's own answer must match,
    on the healthy twin and with the pilot's RoleBinding removed."""
    def compare():
        index = RbacIndex.build(*(api.get(f"/apis/rbac.authorization.k8s.io/v1/{kind}")["items"]
                                  for kind in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")))
        for ns in api.get("/api/v1/namespaces")["items"]:
            name = ns["metadata"]["name"]
            answers = []
            for resource, subresource, verb in (("serviceaccounts", "token", "create"),
                                                ("serviceaccounts", "", "impersonate")):
                answers.append(service_account_may(api, "ztunnel", "ztunnel", verb=verb, resource=resource,
                                                   namespace=name, subresource=subresource))
            assert index.ztunnel_may_mint(name) == all(answers), name
        return index

    assert compare().ztunnel_may_mint(PILOT)
    with fault(lab.kubeconfig, "ztunnel-rbac-missing"):
        assert not compare().ztunnel_may_mint(PILOT)


def test_missing_workload_identity_rbac_leaves_source_only_opens_and_no_plaintext(api, lab):
    """No certificate: no plaintext fallback. The source ztunnel counts mutual_tls opens as bff and
    moves no bytes; the destination ztunnels stop counting the edge (istio/ztunnel outbound.rs)."""
    with fault(lab.kubeconfig, "ztunnel-rbac-missing"):
        for source, destination in PILOT_EDGES:
            grows(lambda: total(edge_series(api, "source", source, destination),
                                connection_security_policy="mutual_tls", source_principal=CLIENT))
            flat = (lambda: total(edge_series(api, "source", source, destination, RECEIVED)),
                    lambda: total(edge_series(api, "destination", source, destination)),
                    lambda: total(edge_series(api, "destination", source, destination, RECEIVED)))
            before = [read() for read in flat]
            time.sleep(1.5)
            assert [read() for read in flat] == before, "bytes or destination counts moved without workload identity"


def test_the_long_lived_edge_moves_bytes_without_opening_connections(api):
    opened = lambda: total(edge_series(api, "destination", "bff", "chat-backend"), connection_security_policy="mutual_tls")
    before = opened()
    grows(lambda: total(edge_series(api, "destination", "bff", "chat-backend", RECEIVED),
                        connection_security_policy="mutual_tls", source_principal=CLIENT))
    assert opened() == before >= 1, "a pooled connection opened once, before the window"


def test_the_routers_plaintext_is_denied_at_demo_server_under_strict(api):
    def router(name, **labels):
        return total(edge_series(api, "destination", "router-default", "demo-server", name, namespace="ossm3-demo",
                                 source_namespace="openshift-ingress"), **labels)
    grows(lambda: router(CLOSED, response_flags="DENY", connection_security_policy="unknown", source_principal="unknown"))
    bytes_before = router(RECEIVED)  # counters outlive faults: an earlier accepted-plaintext fault stays counted
    time.sleep(1.5)
    assert router(RECEIVED) == bytes_before, "STRICT let the router's plaintext through on the healthy twin"


def test_an_authorization_policy_denial_closes_mutual_tls_with_deny(api, lab):
    with fault(lab.kubeconfig, "authorizationpolicy-denies-edge"):
        grows(lambda: total(edge_series(api, "destination", "bff", "eap-domain-group-b", CLOSED),
                            connection_security_policy="mutual_tls", source_principal=CLIENT, response_flags="DENY"))
        received = lambda: total(edge_series(api, "destination", "bff", "eap-domain-group-b", RECEIVED))
        before = received()
        time.sleep(1.5)
        assert received() == before


def test_a_permissive_override_lets_the_routers_plaintext_in(api, lab):
    with fault(lab.kubeconfig, "peerauthentication-lets-plaintext-in"):
        grows(lambda: total(edge_series(api, "destination", "router-default", "demo-server", RECEIVED,
                                        namespace="ossm3-demo", source_namespace="openshift-ingress"),
                            connection_security_policy="unknown"))


def test_waypoint_pods_gone_stops_the_waypoint_edges_counters(api, lab):
    def web(reporter):
        return total(edge_series(api, reporter, "frontend", "web", RECEIVED, namespace="apps-team-x",
                                 source_namespace="apps-team-x"))
    grows(lambda: web("source"))
    with fault(lab.kubeconfig, "waypoint-pods-gone"):
        for attempt in polling(SETTLE_S, every=0.5):
            with attempt:
                before = web("source")
                time.sleep(1.5)
                assert web("source") == before


def _closed(api, destination: str) -> list:
    pods = {p["metadata"]["labels"].get("app"): p for p in api.get(f"/api/v1/namespaces/{PILOT}/pods")["items"]}
    ip = ztunnel_pods(api)[pods[destination]["spec"]["nodeName"]]["status"]["podIP"]
    service = f"{destination}.{PILOT}.svc.cluster.local"
    return [s for s in samples(ip) if s.name == "istio_tcp_connections_closed_total"
            and s.labels["reporter"] == "destination" and s.labels["destination_service"] == service]


def test_unlabelled_namespace_stops_pilot_mutual_tls(api, lab):
    """namespace-unlabelled also drops the pods' redirection (istio-cni un-enrols them): both ends
    leave the mesh, so, as on a real cluster, the pilot's mutual_tls counters stop growing and no
    ztunnel counts the now-direct traffic (a ztunnel counts only the connections it proxies: istio/ztunnel
    `src/proxy/outbound.rs`, `inbound.rs`)."""
    def pilot_total(policy):
        return sum(total(edge_series(api, reporter, s, d), connection_security_policy=policy)
                   for s, d in PILOT_EDGES for reporter in ("source", "destination"))

    with fault(lab.kubeconfig, "namespace-unlabelled"):
        for attempt in polling(SETTLE_S, every=0.5):
            with attempt:
                before = pilot_total("mutual_tls"), pilot_total("unknown")
                time.sleep(1.5)
                assert (pilot_total("mutual_tls"), pilot_total("unknown")) == before
    grows(lambda: pilot_total("mutual_tls"))  # and back to mTLS once the twin is restored


def test_plaintext_traffic_fault_shows_as_denied_plaintext_at_the_destination(api, lab):
    """CNI not active on bff's node: bff's traffic bypasses ztunnel, so only the destination's
    ztunnel sees it, as plaintext from an unknown principal, and STRICT denies it."""
    with fault(lab.kubeconfig, "plaintext-traffic"):
        pods = {p["metadata"]["labels"].get("app"): p for p in api.get(f"/api/v1/namespaces/{PILOT}/pods")["items"]}
        if pods["bff"]["spec"]["nodeName"] != faults.PLAINTEXT_NODE:
            pytest.fail(f"the twin moved bff off {faults.PLAINTEXT_NODE}; this test assumes it is there")
        grows(lambda: sum(s.value for d in ("chat-backend", "eap-domain-group-a", "eap-domain-group-b")
                          for s in _closed(api, d) if s.labels["connection_security_policy"] == "unknown"
                          and s.labels["response_flags"] == "DENY" and s.labels["source_workload"] == "bff"))


def _query(prometheus_url: str, promql: str) -> list[dict]:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_answers_the_pilot_mutual_tls_series(prometheus_url):
    promql = (f'sum by (destination_service) (istio_tcp_connections_opened_total{{reporter="destination",'
              f'connection_security_policy="mutual_tls",source_principal="{CLIENT}"}})')
    wanted = {f"{d}.{PILOT}.svc.cluster.local" for _, d in PILOT_EDGES}
    # Prometheus applies new targets on a 5 s tick, then scrapes every second: ~6 s on a fresh lab.
    for attempt in polling(15, every=0.5):
        with attempt:
            result = _query(prometheus_url, promql)
            assert wanted <= {r["metric"]["destination_service"] for r in result}, result
    targets = _query(prometheus_url, 'up{job="ztunnel"}')
    assert targets and all(t["value"][1] == "1" for t in targets)
    assert {t["metric"]["namespace"] for t in targets} == {"ztunnel"}
    assert all(t["metric"]["pod"].startswith("ztunnel-") and t["metric"]["node"] for t in targets)
