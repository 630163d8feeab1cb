"""The lab's traffic model (lab/traffic.py): twin state -> ztunnel counter increments.

Small hand-made twins: one pilot namespace with bff -> chat-backend on two worker nodes.
"""
from __future__ import annotations

import copy

import pytest

from lab.traffic import (CLOSED, LABEL_NAMES, OPENED, RECEIVED, SENT, Edge, TwinState,
                         edges_from_config, redirected_pods_by_node, tick_increments)
from lab.workload_identity import RbacIndex, rule_allows

NS = "bank-employees-jboss-chat"
EDGE = Edge(namespace=NS, source="bff", destination="chat-backend", connections_per_second=3,
            request_bytes=100, response_bytes=1000)
CLIENT = f"spiffe://cluster.local/ns/{NS}/sa/bff"


def node(name, zone="zone-a"):
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/region": "dc-v6",
                                                   "topology.kubernetes.io/zone": zone}}}


def pod(name, namespace, node_name, app=None, ip="127.1.0.1", ready=True, redirected=True, labels=None,
        sa=None):
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
            "labels": dict(labels or {}), "annotations": {},
            "creationTimestamp": "2026-05-01T00:00:00Z"}
    if app:
        meta["labels"]["app"] = app
    if redirected:
        meta["annotations"]["ambient.istio.io/redirection"] = "enabled"
    return {"metadata": meta,
            "spec": {"nodeName": node_name, "serviceAccountName": sa or app or name,
                     "containers": [{"name": "c", "image": "registry.example/ztunnel-rhel9:1.28.3"}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def ztunnel(node_name, i, ready=True):
    return pod(f"ztunnel-{i}", "ztunnel", node_name, app="ztunnel", ip=f"127.10.0.{i}", ready=ready,
               redirected=False, sa="ztunnel")


def service(name, namespace):
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"selector": {"app": name}}}


WORKLOAD_IDENTITY_ROLE = {
    "metadata": {"name": "ztunnel-workload-identity", "namespace": NS},
    "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
              {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}],
}
WORKLOAD_IDENTITY_BINDING = {
    "metadata": {"name": "ztunnel-workload-identity", "namespace": NS},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ztunnel-workload-identity"},
    "subjects": [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}],
}


def healthy(**overrides) -> dict:
    """The pieces of a healthy pilot twin, as plain dicts, so a test can break one of them."""
    parts = {
        "namespaces": {NS: {"metadata": {"name": NS, "labels": {"istio.io/dataplane-mode": "ambient"}}},
                       "ztunnel": {"metadata": {"name": "ztunnel"}}},
        "nodes": {"worker-0": node("worker-0"), "worker-1": node("worker-1", "zone-b")},
        "pods": [ztunnel("worker-0", 4), ztunnel("worker-1", 5),
                 pod("bff-abc", NS, "worker-0", app="bff", ip="127.1.0.2"),
                 pod("chat-backend-def", NS, "worker-1", app="chat-backend", ip="127.1.0.3")],
        "services": [service("chat-backend", NS), service("bff", NS)],
        "peer_authentications": [{"metadata": {"name": "default", "namespace": NS},
                                  "spec": {"mtls": {"mode": "STRICT"}}}],
        "roles": [WORKLOAD_IDENTITY_ROLE], "role_bindings": [WORKLOAD_IDENTITY_BINDING],
    }
    parts.update(overrides)
    return parts


def state_of(parts: dict) -> TwinState:
    return TwinState(namespaces=parts["namespaces"], nodes=parts["nodes"], pods=parts["pods"],
                     services=parts["services"], peer_authentications=parts["peer_authentications"],
                     rbac=RbacIndex.build(parts["roles"], parts["role_bindings"], [], []))


def series(increments: dict, ztunnel_pod: str) -> list[tuple[str, dict, int]]:
    found = increments.get(f"uid-ztunnel-{ztunnel_pod}", {})
    return [(family, dict(zip(LABEL_NAMES, labels)), n) for (family, labels), n in found.items()]


def only(rows, family, **labels):
    matches = [(lab, n) for fam, lab, n in rows if fam == family and all(lab[k] == v for k, v in labels.items())]
    assert len(matches) == 1, f"{family} {labels}: {matches}"
    return matches[0]


def test_healthy_edge_is_mutual_tls_on_both_reporters_with_the_client_principal():
    inc = tick_increments(state_of(healthy()), [EDGE])
    src_rows, dst_rows = series(inc, "ztunnel-4"), series(inc, "ztunnel-5")
    labels, opened = only(src_rows, OPENED, reporter="source")
    assert opened == 3
    assert labels["connection_security_policy"] == "mutual_tls"
    assert labels["source_principal"] == CLIENT
    assert labels["destination_service"] == f"chat-backend.{NS}.svc.cluster.local"
    assert labels["destination_principal"] == f"spiffe://cluster.local/ns/{NS}/sa/chat-backend"
    assert labels["source_zone"] == "zone-a" and labels["destination_zone"] == "zone-b"
    labels, opened = only(dst_rows, OPENED, reporter="destination")
    assert (opened, labels["connection_security_policy"], labels["source_principal"]) == (3, "mutual_tls", CLIENT)
    assert only(dst_rows, CLOSED)[1] == 3 and only(dst_rows, CLOSED)[0]["response_flags"] == "-"
    assert only(dst_rows, RECEIVED)[1] == 300 and only(dst_rows, SENT)[1] == 3000
    # Each ztunnel reports only its own side.
    assert all(lab["reporter"] == "source" for _, lab, _ in src_rows)
    assert all(lab["reporter"] == "destination" for _, lab, _ in dst_rows)


def test_every_series_carries_the_full_label_set_in_ztunnel_order():
    inc = tick_increments(state_of(healthy()), [EDGE])
    for rows in inc.values():
        for (_, labels) in rows:
            assert len(labels) == len(LABEL_NAMES) == 27
            assert all(v for v in labels)  # never empty: missing values are "unknown"


def _plaintext(parts: dict) -> tuple[list, list]:
    inc = tick_increments(state_of(parts), [EDGE])
    rows = series(inc, "ztunnel-4") + series(inc, "ztunnel-5")
    assert not [r for r in rows if r[1]["connection_security_policy"] == "mutual_tls"]
    return series(inc, "ztunnel-4"), series(inc, "ztunnel-5")


def test_unlabelled_namespace_turns_the_edge_plaintext_and_strict_denies_it():
    parts = healthy()
    parts["namespaces"][NS]["metadata"]["labels"] = {}
    src_rows, dst_rows = _plaintext(parts)
    labels, opened = only(src_rows, OPENED, reporter="source")
    assert (opened, labels["connection_security_policy"], labels["source_principal"]) == (3, "unknown", "unknown")
    labels, opened = only(dst_rows, OPENED, reporter="destination")
    assert (opened, labels["connection_security_policy"], labels["source_principal"]) == (3, "unknown", "unknown")
    # STRICT PeerAuthentication: opened, then closed with DENY, and no bytes copied (ztunnel created
    # the byte series at the open: they stay at zero).
    assert only(dst_rows, CLOSED)[0]["response_flags"] == "DENY"
    assert {n for fam, _, n in dst_rows if fam in (RECEIVED, SENT)} == {0}


def test_plaintext_without_strict_is_closed_normally_and_copies_bytes():
    parts = healthy(peer_authentications=[])
    parts["namespaces"][NS]["metadata"]["labels"] = {}
    _, dst_rows = _plaintext(parts)
    assert only(dst_rows, CLOSED)[0]["response_flags"] == "-"
    assert only(dst_rows, RECEIVED)[1] == 300


def test_mesh_wide_strict_applies_and_namespace_permissive_overrides_it():
    mesh_strict = {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}}
    parts = healthy(peer_authentications=[mesh_strict])
    parts["namespaces"][NS]["metadata"]["labels"] = {}
    assert only(_plaintext(parts)[1], CLOSED)[0]["response_flags"] == "DENY"
    permissive = {"metadata": {"name": "default", "namespace": NS}, "spec": {"mtls": {"mode": "PERMISSIVE"}}}
    parts["peer_authentications"] = [mesh_strict, permissive]
    assert only(_plaintext(parts)[1], CLOSED)[0]["response_flags"] == "-"


def _identity_failure(parts: dict) -> None:
    """No plaintext fallback: the source ztunnel counts a mutual_tls open as the client and closes
    it without a byte; the destination ztunnel counts nothing (istio/ztunnel src/proxy/outbound.rs)."""
    inc = tick_increments(state_of(parts), [EDGE])
    src_rows = series(inc, "ztunnel-4")
    labels, opened = only(src_rows, OPENED, reporter="source")
    assert (labels["connection_security_policy"], labels["source_principal"], opened) == ("mutual_tls", CLIENT, 3)
    closed, n = only(src_rows, CLOSED)
    assert (closed["response_flags"], n) == ("-", 3)
    assert {n for fam, _, n in src_rows if fam in (RECEIVED, SENT)} == {0}
    assert not [r for r in series(inc, "ztunnel-5") if r[1]["source_workload_namespace"] == NS]


def test_missing_workload_identity_rbac_leaves_source_only_opens_without_bytes():
    _identity_failure(healthy(role_bindings=[]))


def test_rbac_granting_only_one_of_the_two_verbs_is_not_enough():
    role = copy.deepcopy(WORKLOAD_IDENTITY_ROLE)
    role["rules"] = role["rules"][:1]  # token create, but no impersonate
    _identity_failure(healthy(roles=[role]))


def test_rbac_through_a_clusterrole_and_a_group_subject_counts():
    cluster_role = {"metadata": {"name": "ztunnel-identity"}, "rules": WORKLOAD_IDENTITY_ROLE["rules"]}
    binding = copy.deepcopy(WORKLOAD_IDENTITY_BINDING)
    binding["roleRef"] = {"kind": "ClusterRole", "name": "ztunnel-identity"}
    binding["subjects"] = [{"kind": "Group", "name": "system:serviceaccounts:ztunnel"}]
    parts = healthy(roles=[], role_bindings=[binding])
    state = state_of(parts)
    state.rbac = RbacIndex.build([], [binding], [cluster_role], [])
    inc = tick_increments(state, [EDGE])
    assert only(series(inc, "ztunnel-5"), OPENED)[0]["connection_security_policy"] == "mutual_tls"


@pytest.mark.parametrize("rule, allowed", [
    ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
    ({"apiGroups": [""], "resources": ["*/token"], "verbs": ["create"]}, True),
    ({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create"]}, False),  # not the subresource
    ({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"],
      "resourceNames": ["bff"]}, False),  # the review names no object
    ({"apiGroups": ["apps"], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, False),
])
def test_rule_matching_follows_the_rbac_authorizer(rule, allowed):
    assert rule_allows(rule, "", "serviceaccounts", "token", "create") is allowed


def test_rolebinding_to_another_serviceaccount_does_not_count():
    binding = copy.deepcopy(WORKLOAD_IDENTITY_BINDING)
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "other"}]
    _identity_failure(healthy(role_bindings=[binding]))


def test_missing_redirection_annotation_on_the_destination():
    parts = healthy()
    parts["pods"][3]["metadata"]["annotations"] = {}
    inc = tick_increments(state_of(parts), [EDGE])
    # The client's ztunnel still sees the connection, as plaintext to a non-HBONE workload...
    labels, opened = only(series(inc, "ztunnel-4"), OPENED, reporter="source")
    assert (labels["connection_security_policy"], labels["source_principal"], opened) == ("unknown", "unknown", 3)
    # ...and nothing is counted on the server's node: its traffic bypasses ztunnel.
    assert series(inc, "ztunnel-5") == []


def test_missing_redirection_annotation_on_the_source_is_plaintext_inbound():
    parts = healthy()
    parts["pods"][2]["metadata"]["annotations"] = {}
    inc = tick_increments(state_of(parts), [EDGE])
    assert series(inc, "ztunnel-4") == []
    labels, _ = only(series(inc, "ztunnel-5"), CLOSED, reporter="destination")
    assert (labels["connection_security_policy"], labels["response_flags"]) == ("unknown", "DENY")


def test_unready_ztunnel_on_the_servers_node_never_sees_the_connection():
    parts = healthy()
    parts["pods"][1] = ztunnel("worker-1", 5, ready=False)
    _identity_failure(parts)


def test_no_ztunnel_on_a_node_means_no_series_from_that_node():
    parts = healthy()
    del parts["pods"][1]  # worker-1 has no ztunnel
    inc = tick_increments(state_of(parts), [EDGE])
    assert set(inc) == {"uid-ztunnel-ztunnel-4"}
    assert only(series(inc, "ztunnel-4"), OPENED)[0]["connection_security_policy"] == "unknown"


def test_two_non_enrolled_ends_produce_no_series():
    parts = healthy()
    for p in parts["pods"][2:]:
        p["metadata"]["annotations"] = {}
    assert tick_increments(state_of(parts), [EDGE]) == {}


def test_unscheduled_or_terminating_pods_carry_no_traffic():
    parts = healthy()
    parts["pods"][2]["spec"]["nodeName"] = ""
    parts["pods"][2]["status"] = {"phase": "Pending"}
    assert tick_increments(state_of(parts), [EDGE]) == {}
    parts = healthy()
    parts["pods"][3]["metadata"]["deletionTimestamp"] = "2026-05-01T00:00:00Z"
    assert tick_increments(state_of(parts), [EDGE]) == {}


def test_connections_spread_over_the_service_endpoints():
    parts = healthy()
    parts["pods"].append(pod("chat-backend-xyz", NS, "worker-0", app="chat-backend", ip="127.1.0.4"))
    inc = tick_increments(state_of(parts), [EDGE])
    opened = [n for fam, lab, n in series(inc, "ztunnel-4") + series(inc, "ztunnel-5")
              if fam == OPENED and lab["reporter"] == "destination"]
    assert sorted(opened) == [1, 2]  # 3 connections over 2 endpoints


def test_workload_and_canonical_names_follow_istio():
    parts = healthy()
    bff = parts["pods"][2]
    bff["metadata"]["name"] = "bff-7d9c4-abcde"
    bff["metadata"]["labels"].update({"pod-template-hash": "7d9c4", "version": "v2"})
    bff["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "bff-7d9c4"}]
    labels, _ = only(series(tick_increments(state_of(parts), [EDGE]), "ztunnel-4"), OPENED)
    assert (labels["source_workload"], labels["source_canonical_service"], labels["source_app"]) == ("bff",) * 3
    assert (labels["source_canonical_revision"], labels["source_version"]) == ("v2", "v2")
    assert labels["destination_canonical_revision"] == "latest"
    assert (labels["request_protocol"], labels["source_cluster"]) == ("tcp", "Kubernetes")


def test_namespace_selector_edges_expand_over_matching_namespaces():
    config = {"edges": [{"namespace_selector": {"matchLabels": {"lab/bench-tenant": "true"}},
                         "source": "bff", "destination": "chat-backend", "connections_per_second": 2}]}
    edges = edges_from_config(config)
    parts = healthy()
    parts["namespaces"][NS]["metadata"]["labels"]["lab/bench-tenant"] = "true"
    inc = tick_increments(state_of(parts), edges)
    assert only(series(inc, "ztunnel-5"), OPENED)[1] == 2


def test_active_proxy_count_counts_redirected_pods_per_node():
    assert redirected_pods_by_node(state_of(healthy())) == {"worker-0": 1, "worker-1": 1}


WAYPOINT_POD = pod("waypoint-xyz", NS, "worker-1", ip="127.1.0.9", redirected=False, sa="waypoint",
                   labels={"gateway.networking.k8s.io/gateway-name": "waypoint", "istio.io/dataplane-mode": "none"})
WAYPOINT_GATEWAY = {"metadata": {"name": "waypoint", "namespace": NS}, "spec": {"gatewayClassName": "istio-waypoint"}}


def _behind_waypoint(with_pod: bool = True, with_gateway: bool = True) -> dict:
    parts = healthy()
    parts["namespaces"][NS]["metadata"]["labels"]["istio.io/use-waypoint"] = "waypoint"
    if with_pod:
        parts["pods"].append(copy.deepcopy(WAYPOINT_POD))
    state = state_of(parts)
    state.gateways = [WAYPOINT_GATEWAY] if with_gateway else []
    return tick_increments(state, [EDGE])


def test_a_waypoint_gateway_without_a_pod_drops_connections_before_counting_them():
    assert _behind_waypoint(with_pod=False) == {}


def test_without_its_gateway_the_use_waypoint_label_binds_nothing_and_traffic_goes_direct():
    labels, _ = only(series(_behind_waypoint(with_pod=False, with_gateway=False), "ztunnel-5"), OPENED)
    assert (labels["source_principal"], labels["destination_workload"]) == (CLIENT, "chat-backend-def")


def test_a_long_lived_edge_moves_bytes_without_opens_until_it_is_refused():
    edge = Edge(namespace=NS, source="bff", destination="chat-backend", connections_per_second=3,
                request_bytes=100, response_bytes=1000, long_lived=True)
    rows = series(tick_increments(state_of(healthy()), [edge]), "ztunnel-5")
    assert only(rows, OPENED)[1] == 0 and only(rows, RECEIVED)[1] == 300 and only(rows, SENT)[1] == 3000
    assert not [r for r in rows if r[0] == CLOSED]
    parts = healthy()
    parts["namespaces"][NS]["metadata"]["labels"] = {}  # plaintext, denied under STRICT: it reconnects
    rows = series(tick_increments(state_of(parts), [edge]), "ztunnel-5")
    assert only(rows, OPENED)[1] == 3 and only(rows, CLOSED)[0]["response_flags"] == "DENY"


def _policy(action: str, **spec) -> dict:
    return {"metadata": {"name": f"{action.lower()}-bff", "namespace": NS}, "spec": {"action": action, **spec}}


def _with_policies(*policies) -> dict:
    state = state_of(healthy())
    state.authorization_policies = list(policies)
    return tick_increments(state, [EDGE])


def test_a_deny_policy_makes_both_ztunnels_count_refused_mutual_tls():
    deny = _policy("DENY", selector={"matchLabels": {"app": "chat-backend"}},
                   rules=[{"from": [{"source": {"principals": [f"cluster.local/ns/{NS}/sa/bff"]}}]}])
    inc = _with_policies(deny)
    dst, src = series(inc, "ztunnel-5"), series(inc, "ztunnel-4")
    labels, n = only(dst, CLOSED)
    assert (labels["connection_security_policy"], labels["source_principal"], labels["response_flags"], n) == (
        "mutual_tls", CLIENT, "DENY", 3)
    assert only(src, CLOSED)[0]["response_flags"] == "-"
    assert {n for fam, _, n in dst + src if fam in (RECEIVED, SENT)} == {0}


@pytest.mark.parametrize("policy, denied", [
    (_policy("ALLOW", rules=[{"from": [{"source": {"namespaces": ["openshift-ingress"]}}]}]), True),
    (_policy("ALLOW", rules=[{"from": [{"source": {"principals": [f"cluster.local/ns/{NS}/sa/*"]}}]}]), False),
    (_policy("ALLOW", rules=[{"to": [{"operation": {"methods": ["GET"]}}]}]), True),   # HTTP rule: dropped
    (_policy("ALLOW", targetRefs=[{"kind": "Gateway", "name": "waypoint"}], rules=[]), False),  # a waypoint's
    (_policy("DENY", rules=[{"from": [{"source": {"notNamespaces": [NS]}}]}]), False),
])
def test_allow_and_deny_follow_ztunnel(policy, denied):
    labels, _ = only(series(_with_policies(policy), "ztunnel-5"), CLOSED)
    assert (labels["response_flags"] == "DENY") is denied


def test_a_non_mesh_caller_is_named_by_its_pod_and_denied_under_strict():
    parts = healthy()
    parts["namespaces"]["openshift-ingress"] = {"metadata": {"name": "openshift-ingress"}}
    parts["pods"].append(pod("router-default-5f7d9-x2p4q", "openshift-ingress", "worker-0", app="router",
                             ip="127.1.0.7", redirected=False,
                             labels={"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"}))
    router = Edge(namespace="openshift-ingress", source="router", destination="chat-backend", destination_namespace=NS)
    rows = series(tick_increments(state_of(parts), [router]), "ztunnel-5")
    labels, n = only(rows, CLOSED)
    assert (labels["source_workload_namespace"], labels["source_principal"], labels["connection_security_policy"],
            labels["response_flags"], n) == ("openshift-ingress", "unknown", "unknown", "DENY", 1)
    assert series(tick_increments(state_of(parts), [router]), "ztunnel-4") == []  # the router is not redirected


def test_a_service_behind_a_waypoint_is_reached_through_it():
    parts = healthy()
    parts["namespaces"][NS]["metadata"]["labels"]["istio.io/use-waypoint"] = "waypoint"
    parts["pods"].append(WAYPOINT_POD)
    state = state_of(parts)
    state.gateways = [WAYPOINT_GATEWAY]
    inc = tick_increments(state, [EDGE])
    labels, _ = only(series(inc, "ztunnel-4"), OPENED, reporter="source")
    assert (labels["destination_workload"], labels["destination_principal"]) == (
        "waypoint-xyz", f"spiffe://cluster.local/ns/{NS}/sa/waypoint")
    assert labels["destination_service"] == f"chat-backend.{NS}.svc.cluster.local"
    labels, _ = only(series(inc, "ztunnel-5"), OPENED, reporter="destination")
    assert (labels["source_principal"], labels["connection_security_policy"]) == (
        f"spiffe://cluster.local/ns/{NS}/sa/waypoint", "mutual_tls")


def test_namespace_pattern_edges_cover_generated_tenants_only():
    edges = edges_from_config({"edges": [{"namespace_pattern": "bank-*", "source": "bff",
                                          "destination": "chat-backend"}]})
    assert only(series(tick_increments(state_of(healthy()), edges), "ztunnel-5"), OPENED)[1] == 1
    edges = edges_from_config({"edges": [{"namespace_pattern": "tenant-*", "source": "bff",
                                          "destination": "chat-backend"}]})
    assert tick_increments(state_of(healthy()), edges) == {}
