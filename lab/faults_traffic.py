"""Named faults of the mesh's traffic, as a user breaks it on a real cluster: an AuthorizationPolicy
that denies a profiled edge, a PeerAuthentication override that lets plaintext in, a waypoint whose
pods are gone. Registered in lab.faults' FAULTS on import.

What ztunnel then counts is the traffic model's business (lab/traffic.py, after istio/ztunnel
1.28): DENY closes from `src/proxy/inbound.rs` (assert_rbac, lab/authorization.py), accepted
plaintext from `src/proxy/inbound_passthrough.rs`, connections to a Service whose waypoint has no
endpoint dropped uncounted by `src/proxy/outbound.rs` (build_request, log_early_deny). The
waypoint's Gateway stays Programmed: istiod's status follows address assignment, not the pods.
"""

from __future__ import annotations

import copy

from lab import seed
from lab.faults import DEMO, PILOT, WAYPOINT_NS, _KIND, Api, _delete, _get, _pods, fault


def _create_security(api: Api, kind: str, name: str, namespace: str, spec: dict) -> None:
    """A security.istio.io/v1 object, as a user would apply it."""
    api.create({"apiVersion": _KIND[kind].api_version, "kind": kind,
                "metadata": {"name": name, "namespace": namespace}, "spec": spec})


@fault("authorizationpolicy-denies-edge",
       f"an AuthorizationPolicy in {PILOT} denies bff's identity at eap-domain-group-b: ztunnel counts "
       "the mutual_tls opens and closes them with DENY")
def _authorizationpolicy_denies_edge(api: Api) -> None:
    # Selector-bound L4 policy: ztunnel enforces it (lab/authorization.py).
    _create_security(api, "AuthorizationPolicy", "eap-b-deny-bff", PILOT, {
        "selector": {"matchLabels": {"app": "eap-domain-group-b"}}, "action": "DENY",
        "rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/{PILOT}/sa/bff"]}}]}]})


@fault("peerauthentication-lets-plaintext-in",
       f"a workload-level PERMISSIVE PeerAuthentication for demo-server in {DEMO}: the router's "
       "plaintext is accepted instead of denied")
def _peerauthentication_lets_plaintext_in(api: Api) -> None:
    _create_security(api, "PeerAuthentication", "demo-server-permissive", DEMO, {
        "selector": {"matchLabels": {"app": "demo-server"}}, "mtls": {"mode": "PERMISSIVE"}})


@fault("waypoint-pods-gone",
       f"the waypoint Deployment of {WAYPOINT_NS} scaled to 0: the Gateway stays Programmed (istiod assigns "
       "its address regardless), ztunnel drops connections to its Services uncounted")
def _waypoint_pods_gone(api: Api) -> None:
    # What `oc scale deploy/waypoint --replicas=0` leaves once the controllers have acted.
    api.patch(_KIND["Deployment"].path("waypoint", WAYPOINT_NS), {"spec": {"replicas": 0}})
    dep = _get(api, "Deployment", "waypoint", WAYPOINT_NS)
    status = copy.deepcopy(dep["status"])
    for key in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "unavailableReplicas"):
        status.pop(key, None)  # zero counts are omitted (omitempty)
    status["observedGeneration"] = dep["metadata"]["generation"]
    seed.write_status(api, dep, status)
    for rs in api.list(_KIND["ReplicaSet"], WAYPOINT_NS):
        if rs["metadata"]["name"].startswith("waypoint-"):
            api.patch(_KIND["ReplicaSet"].path(rs["metadata"]["name"], WAYPOINT_NS), {"spec": {"replicas": 0}})
            rs = _get(api, "ReplicaSet", rs["metadata"]["name"], WAYPOINT_NS)
            seed.write_status(api, rs, {"replicas": 0, "observedGeneration": rs["metadata"]["generation"]})
    for pod in _pods(api, WAYPOINT_NS, prefix="waypoint-"):
        _delete(api, "Pod", pod["metadata"]["name"], WAYPOINT_NS)
