"""Pure: the twin's state -> what each ztunnel pod counts per tick.

The lab's ztunnel endpoints call `tick_increments` whenever the twin changes and add the result
to their counters once per tick. Semantics follow istio/ztunnel 1.28 (`src/proxy/metrics.rs`,
`outbound.rs`, `inbound.rs`, `inbound_passthrough.rs`) and istio.io's
`docs/ambient/usage/verify-mtls-enabled` (the reporter, policy and principal of each path):

- a pod is *redirected* when istio-cni recorded that its traffic goes to the node's ztunnel (pod
  annotation ambient.istio.io/redirection=enabled) and a ztunnel pod serves that node; it is *in the
  mesh* (an HBONE workload for istiod) when, redirected, its namespace carries
  istio.io/dataplane-mode=ambient and the pod does not opt out;
- a mesh pod *has its identity* when ztunnel can get its certificate: the namespace's
  workload-identity RBAC lets ztunnel mint it and the node's ztunnel is Ready;
- two mesh ends with their identities: mutual_tls on both reporters, with the client's principal,
  unless an AuthorizationPolicy enforced by ztunnel refuses it (lab/authorization.py): then both
  count the open, the destination closes with DENY, the source closes with "-" (1.28 records the
  failed outbound without a flag), no bytes;
- two mesh ends, one without its identity: no plaintext fallback (outbound picks HBONE from the
  destination's protocol): the source counts a mutual_tls open with its own principal and closes it
  without bytes; the destination counts nothing (the handshake never completed);
- otherwise each redirected end reports plaintext (`unknown`, principal unknown, the client named
  by its pod), and a STRICT PeerAuthentication at the destination denies it (opened, then closed
  with response_flags=DENY, no bytes); two non-redirected ends: no series;
- a Service bound to a waypoint (istio.io/use-waypoint) is reached through it by mesh clients: the
  client's ztunnel reports the waypoint as destination_workload, the server's ztunnel sees the
  waypoint's identity. A waypoint Gateway without a live pod: ztunnel drops the connection before
  counting it (outbound `build_request` fails, `log_early_deny`): no series at all. Without the
  Gateway, istiod binds no waypoint and traffic goes direct;
- a `long_lived` edge is carried by connections opened before any window (a pool): while they
  work, only the byte counters grow; refused or failed, the client keeps reconnecting, and every
  attempt is an open.
- ztunnel creates a connection's byte series when it opens it (`ConnectionResult::new`): a denied
  connection leaves them at zero.

The edges are the clients' connection attempts and a Service's endpoints are its live pods: the lab
does not gate endpoints on readiness.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from lab.authorization import denying_policy
from lab.workload_identity import RbacIndex

TRUST_DOMAIN = "cluster.local"
CLUSTER_ID = "Kubernetes"  # the chart's ISTIO_META_CLUSTER_ID default
ROOT_NAMESPACE = "istio-system"  # mesh-wide PeerAuthentication lives here
ZTUNNEL_NAMESPACE = "ztunnel"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"
USE_WAYPOINT_LABEL = "istio.io/use-waypoint"
UNKNOWN = "unknown"

OPENED = "istio_tcp_connections_opened"
CLOSED = "istio_tcp_connections_closed"
RECEIVED = "istio_tcp_received_bytes"
SENT = "istio_tcp_sent_bytes"
TCP_FAMILIES = (OPENED, CLOSED, RECEIVED, SENT)

# Encoding order of ztunnel's CommonTrafficLabels (1.25+ adds the four locality labels).
LABEL_NAMES = (
    "reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
    "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
    "destination_service", "destination_service_namespace", "destination_service_name",
    "destination_workload", "destination_canonical_service", "destination_canonical_revision",
    "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
    "destination_cluster", "request_protocol", "response_flags", "connection_security_policy",
    "source_region", "source_zone", "destination_region", "destination_zone",
)

SeriesKey = tuple[str, tuple[str, ...]]  # (family, label values in LABEL_NAMES order)
NO_WAYPOINT_POD: dict = {"metadata": {"name": "(no waypoint pod)"}}


@dataclass(frozen=True)
class Edge:
    """One steady flow of the lab: every source pod opens `connections_per_second` connections per
    tick to the Service `destination` (spread over its endpoints)."""

    namespace: str
    source: str
    destination: str
    destination_namespace: str = ""
    connections_per_second: int = 1
    request_bytes: int = 512
    response_bytes: int = 2048
    # Carried by connections opened before any observation window: bytes grow, opens do not.
    long_lived: bool = False
    # Instead of one namespace: every namespace whose name matches this shell pattern and carries
    # these labels (the bench's generated tenants); the destination is then in the same namespace.
    namespace_pattern: str = ""
    namespace_labels: tuple[tuple[str, str], ...] = ()

    @property
    def server_namespace(self) -> str:
        return self.destination_namespace or self.namespace


def edges_from_config(config: dict) -> list[Edge]:
    """lab/twin_traffic.yaml's `edges` -> Edge values (unknown keys are an error, not ignored)."""
    edges = []
    for entry in config.get("edges") or ():
        entry = dict(entry)
        selector = entry.pop("namespace_selector", None) or {}
        labels = tuple(sorted((selector.get("matchLabels") or {}).items()))
        edges.append(Edge(namespace=entry.pop("namespace", ""), namespace_labels=labels,
                          namespace_pattern=entry.pop("namespace_pattern", ""), **entry))
    return edges


def _expand(edges: Iterable[Edge], namespaces: Mapping[str, dict]) -> Iterable[Edge]:
    for edge in edges:
        if not edge.namespace_labels and not edge.namespace_pattern:
            yield edge
            continue
        for name, ns in namespaces.items():
            labels = _labels(ns)
            if edge.namespace_pattern and not fnmatch.fnmatchcase(name, edge.namespace_pattern):
                continue
            if all(labels.get(k) == v for k, v in edge.namespace_labels):
                yield replace(edge, namespace=name, namespace_pattern="", namespace_labels=())


@dataclass
class TwinState:
    """One tick's view of the twin: plain dicts as the API returns them in JSON."""

    namespaces: Mapping[str, dict]
    nodes: Mapping[str, dict]
    pods: list[dict]
    services: list[dict]
    peer_authentications: list[dict] = field(default_factory=list)
    authorization_policies: list[dict] = field(default_factory=list)
    gateways: list[dict] = field(default_factory=list)
    rbac: RbacIndex = field(default_factory=lambda: RbacIndex.build([], [], [], []))


# ---- small readers ---------------------------------------------------------------------------

def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _labels(obj: dict) -> dict:
    return _meta(obj).get("labels") or {}


def _annotations(obj: dict) -> dict:
    return _meta(obj).get("annotations") or {}


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def is_live(pod: dict) -> bool:
    """Running on a node and not being deleted: the pods that carry traffic."""
    status = pod.get("status") or {}
    return (status.get("phase") == "Running" and bool((pod.get("spec") or {}).get("nodeName"))
            and not _meta(pod).get("deletionTimestamp"))


def ztunnel_pods_by_node(pods: Iterable[dict]) -> dict[str, dict]:
    """The ztunnel pod serving each node (DaemonSet: one per node; the newest wins a rollout overlap)."""
    chosen: dict[str, dict] = {}
    for pod in pods:
        meta = _meta(pod)
        if meta.get("namespace") != ZTUNNEL_NAMESPACE or _labels(pod).get("app") != "ztunnel":
            continue
        status = pod.get("status") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or not status.get("podIP") or status.get("phase") != "Running":
            continue
        current = chosen.get(node)
        if current is None or meta.get("creationTimestamp", "") > _meta(current).get("creationTimestamp", ""):
            chosen[node] = pod
    return chosen


def istio_version(ztunnel_pod: dict) -> str:
    """istio_build's tag: the ztunnel image tag (e.g. ...ztunnel-rhel9:1.28.10 -> 1.28.10)."""
    for container in (ztunnel_pod.get("spec") or {}).get("containers") or ():
        image = container.get("image") or ""
        tail = image.rsplit("/", 1)[-1]
        if ":" in tail and "@" not in tail:
            return tail.split(":", 1)[1].lstrip("v")
    return UNKNOWN


def workload_name(pod: dict) -> str:
    """The controller's name, as istio derives it (Deployment for a ReplicaSet-owned pod)."""
    meta = _meta(pod)
    for owner in meta.get("ownerReferences") or ():
        name = owner.get("name", "")
        if owner.get("kind") == "ReplicaSet":
            template_hash = _labels(pod).get("pod-template-hash")
            if template_hash and name.endswith("-" + template_hash):
                return name[: -len(template_hash) - 1]
            return name
        if owner.get("kind") in ("DaemonSet", "StatefulSet", "Job", "Deployment", "ReplicationController"):
            return name
    return meta.get("name", UNKNOWN)


def canonical_service(pod: dict) -> str:
    labels = _labels(pod)
    return (labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name")
            or labels.get("app") or workload_name(pod))


def canonical_revision(pod: dict) -> str:
    labels = _labels(pod)
    return (labels.get("service.istio.io/canonical-revision") or labels.get("app.kubernetes.io/version")
            or labels.get("version") or "latest")


def spiffe_id(namespace: str, service_account: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


def pod_principal(pod: dict) -> str:
    spec = pod.get("spec") or {}
    return spiffe_id(_meta(pod).get("namespace", ""), spec.get("serviceAccountName") or "default")


def _locality(node: dict | None) -> tuple[str, str]:
    labels = _labels(node or {})
    return (labels.get("topology.kubernetes.io/region") or UNKNOWN,
            labels.get("topology.kubernetes.io/zone") or UNKNOWN)


# ---- enrolment ---------------------------------------------------------------------------------

class Enrolment:
    """Answers, for one TwinState, whether a pod is redirected and whether it has a mesh identity."""

    def __init__(self, state: TwinState):
        self.state = state
        self.ztunnels = ztunnel_pods_by_node(state.pods)
        self._may_mint: dict[str, bool] = {}

    def ztunnel_for(self, pod: dict) -> dict | None:
        return self.ztunnels.get((pod.get("spec") or {}).get("nodeName", ""))

    def redirected(self, pod: dict) -> bool:
        return (_annotations(pod).get(REDIRECTION_ANNOTATION) == "enabled"
                and self.ztunnel_for(pod) is not None)

    def namespace_ambient(self, namespace: str) -> bool:
        ns = self.state.namespaces.get(namespace)
        return ns is not None and _labels(ns).get(DATAPLANE_MODE_LABEL) == "ambient"

    def may_mint(self, namespace: str) -> bool:
        if namespace not in self._may_mint:
            self._may_mint[namespace] = self.state.rbac.ztunnel_may_mint(namespace)
        return self._may_mint[namespace]

    def in_mesh(self, pod: dict) -> bool:
        namespace = _meta(pod).get("namespace", "")
        return (self.redirected(pod) and self.namespace_ambient(namespace)
                and _labels(pod).get(DATAPLANE_MODE_LABEL) != "none")

    def has_identity(self, pod: dict) -> bool:
        ztunnel = self.ztunnel_for(pod)
        return self.may_mint(_meta(pod).get("namespace", "")) and ztunnel is not None and is_ready(ztunnel)

    def strict_mtls(self, pod: dict) -> bool:
        """PeerAuthentication mode for the pod: workload selector > namespace-wide > mesh-wide."""
        namespace = _meta(pod).get("namespace", "")
        labels = _labels(pod)
        by_scope: dict[str, str] = {}
        for pa in self.state.peer_authentications:
            pa_ns = _meta(pa).get("namespace", "")
            spec = pa.get("spec") or {}
            mode = ((spec.get("mtls") or {}).get("mode") or "UNSET").upper()
            if mode == "UNSET":
                continue
            selector = (spec.get("selector") or {}).get("matchLabels")
            if pa_ns == namespace and selector:
                if all(labels.get(k) == v for k, v in selector.items()):
                    by_scope["workload"] = mode
            elif pa_ns == namespace:
                by_scope.setdefault("namespace", mode)
            elif pa_ns == ROOT_NAMESPACE and not selector:
                by_scope.setdefault("mesh", mode)
        mode = by_scope.get("workload") or by_scope.get("namespace") or by_scope.get("mesh") or "PERMISSIVE"
        return mode == "STRICT"


# ---- edges -> increments ------------------------------------------------------------------------

class _Index:
    """Live pods by namespace and Services by (namespace, name): each edge costs its namespace only."""

    def __init__(self, state: TwinState):
        self.pods_by_namespace: dict[str, list[dict]] = {}
        for pod in state.pods:
            if is_live(pod):
                self.pods_by_namespace.setdefault(_meta(pod).get("namespace", ""), []).append(pod)
        for pods in self.pods_by_namespace.values():
            pods.sort(key=lambda p: _meta(p).get("name", ""))
        self.services = {(_meta(s).get("namespace", ""), _meta(s).get("name", "")): s for s in state.services}

    def endpoints(self, namespace: str, name: str) -> list[dict]:
        svc = self.services.get((namespace, name))
        selector = ((svc or {}).get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        return [p for p in self.pods_by_namespace.get(namespace, ())
                if all(_labels(p).get(k) == v for k, v in selector.items())]

    def waypoint(self, namespace: str, service: str, state: TwinState) -> dict | None:
        """The waypoint pod serving the Service (istio.io/use-waypoint on the Service, else on its
        namespace; "none" opts out), NO_WAYPOINT_POD when its Gateway exists without a live pod,
        or None (no Gateway by that name: istiod binds none): traffic goes straight to the endpoints."""
        svc = self.services.get((namespace, service)) or {}
        name = _labels(svc).get(USE_WAYPOINT_LABEL) or _labels(state.namespaces.get(namespace) or {}).get(USE_WAYPOINT_LABEL)
        if not name or name == "none":
            return None
        if not any(_meta(g).get("namespace") == namespace and _meta(g).get("name") == name for g in state.gateways):
            return None
        return next((p for p in self.pods_by_namespace.get(namespace, ())
                     if _labels(p).get("gateway.networking.k8s.io/gateway-name") == name), NO_WAYPOINT_POD)

    def sources(self, namespace: str, source: str) -> list[dict]:
        return [p for p in self.pods_by_namespace.get(namespace, ())
                if _labels(p).get("app") == source or workload_name(p) == source]


def _labels_for(reporter: str, src: dict, dst: dict, service: tuple[str, str], nodes: Mapping[str, dict],
                source_principal: str, policy: str, response_flags: str) -> tuple[str, ...]:
    svc_name, svc_ns = service
    src_region, src_zone = _locality(nodes.get(src["spec"].get("nodeName", "")))
    dst_region, dst_zone = _locality(nodes.get(dst["spec"].get("nodeName", "")))
    src_canonical, dst_canonical = canonical_service(src), canonical_service(dst)
    src_revision, dst_revision = canonical_revision(src), canonical_revision(dst)
    return (
        reporter, workload_name(src), src_canonical, src_revision, _meta(src).get("namespace", UNKNOWN),
        source_principal, src_canonical, src_revision, CLUSTER_ID,
        f"{svc_name}.{svc_ns}.svc.cluster.local", svc_ns, svc_name,
        workload_name(dst), dst_canonical, dst_revision, _meta(dst).get("namespace", UNKNOWN),
        pod_principal(dst), dst_canonical, dst_revision, CLUSTER_ID,
        "tcp", response_flags, policy,
        src_region, src_zone, dst_region, dst_zone,
    )


def _count(out: dict[str, dict[SeriesKey, int]], ztunnel: dict, labels: tuple[str, ...], opened: int,
           received: int, sent: int, close_flags: str = "-") -> None:
    """One reporter's growth per tick. Byte series exist from the open on (ztunnel creates them in
    ConnectionResult::new), so a refused connection shows them at zero; `opened=0` with bytes is a
    long-lived connection: its open series is present (the endpoint starts it at 1) but flat."""
    series = out.setdefault(_meta(ztunnel)["uid"], {})
    rows = [(OPENED, opened, labels), (RECEIVED, received, labels), (SENT, sent, labels)]
    if opened:  # each connection of the tick also ends in it
        rows.append((CLOSED, opened, _with_flags(labels, close_flags)))
    for family, value, key_labels in rows:
        key = (family, key_labels)
        series[key] = series.get(key, 0) + value


def _with_flags(labels: tuple[str, ...], flags: str) -> tuple[str, ...]:
    index = LABEL_NAMES.index("response_flags")
    return labels[:index] + (flags,) + labels[index + 1:]


def _split(connections: int, endpoints: int) -> list[int]:
    """Spread a source pod's connections over the service's endpoints, as a round-robin balancer would."""
    base, extra = divmod(connections, endpoints)
    return [base + (1 if i < extra else 0) for i in range(endpoints)]


def tick_increments(state: TwinState, edges: Iterable[Edge],
                    enrolment: Enrolment | None = None) -> dict[str, dict[SeriesKey, int]]:
    """For each ztunnel pod uid: how much each of its TCP series grows in one tick. `enrolment`
    (of the same state) lets a caller that needs it too build it once per refresh."""
    enrolment = enrolment or Enrolment(state)
    index = _Index(state)
    out: dict[str, dict[SeriesKey, int]] = {}
    for edge in _expand(edges, state.namespaces):
        endpoints = index.endpoints(edge.server_namespace, edge.destination)
        if not endpoints:
            continue  # no Service or no ready backend: the client never gets a connection
        service = (edge.destination, edge.server_namespace)
        waypoint = index.waypoint(edge.server_namespace, edge.destination, state)
        for src in index.sources(edge.namespace, edge.source):
            for dst, n in zip(endpoints, _split(edge.connections_per_second, len(endpoints))):
                if n:
                    _Pair(out, enrolment, state, src, dst, service, n, edge).count(waypoint)
    return out


@dataclass
class _Pair:
    """One client pod's connections to one endpoint in one tick, counted as the ztunnels would."""
    out: dict
    enrolment: Enrolment
    state: TwinState
    src: dict
    dst: dict
    service: tuple[str, str]
    n: int
    edge: Edge

    def labels(self, reporter: str, src: dict, dst: dict, principal: str, policy: str) -> tuple[str, ...]:
        return _labels_for(reporter, src, dst, self.service, self.state.nodes, principal, policy, "-")

    def delivered(self, ztunnel: dict, labels: tuple[str, ...]) -> None:
        """Connections that work: a long-lived edge's pool only moves bytes; others open and close."""
        request, response = self.edge.request_bytes * self.n, self.edge.response_bytes * self.n
        # Istio's convention: received = bytes the server received, for both reporters.
        _count(self.out, ztunnel, labels, 0 if self.edge.long_lived else self.n, request, response)

    def refused(self, ztunnel: dict, labels: tuple[str, ...], flags: str) -> None:
        """Every attempt opens and closes without a byte (a long-lived client keeps reconnecting)."""
        _count(self.out, ztunnel, labels, self.n, 0, 0, close_flags=flags)

    def count(self, waypoint: dict | None) -> None:
        enrolment, src, dst = self.enrolment, self.src, self.dst
        if waypoint is not None and enrolment.in_mesh(src):
            self.through_waypoint(waypoint)
        elif enrolment.in_mesh(src) and enrolment.in_mesh(dst):
            self.hbone(src, dst, pod_principal(src))
        else:
            self.plaintext()

    def hbone(self, client: dict, server: dict, principal: str) -> None:
        """HBONE from the client pod (its ztunnel reports `source`) or from the waypoint (Envoy: it
        reports for itself, no ztunnel counts that side)."""
        enrolment = self.enrolment
        from_pod = client is self.src
        source_ztunnel = enrolment.ztunnel_for(client) if from_pod else None
        if not enrolment.has_identity(server) or (from_pod and not enrolment.has_identity(client)):
            # No certificate on one end: the handshake never completes, no plaintext fallback.
            if source_ztunnel is not None:
                self.refused(source_ztunnel, self.labels("source", client, server, principal, "mutual_tls"), "-")
            return
        denied = denying_policy(self.state.authorization_policies, server, principal, _meta(client).get("namespace", ""))
        for reporter, ztunnel in (("source", source_ztunnel), ("destination", enrolment.ztunnel_for(server))):
            if ztunnel is None:
                continue
            labels = self.labels(reporter, client, server, principal, "mutual_tls")
            if denied:
                # inbound.rs: assert_rbac fails -> record_with_flag(AuthorizationPolicyDenied); the
                # client's ztunnel gets the 401 and records its error without a flag (1.28).
                self.refused(ztunnel, labels, "DENY" if reporter == "destination" else "-")
            else:
                self.delivered(ztunnel, labels)

    def through_waypoint(self, waypoint: dict) -> None:
        # The client's ztunnel sends HBONE to the waypoint (reported as destination_workload); the
        # server's ztunnel sees the waypoint as its mTLS peer. The waypoint (Envoy) reports for itself.
        if waypoint is NO_WAYPOINT_POD:
            return  # no waypoint endpoint: dropped before any counter (outbound log_early_deny)
        src_ztunnel = self.enrolment.ztunnel_for(self.src)
        labels = self.labels("source", self.src, waypoint, pod_principal(self.src), "mutual_tls")
        if not self.enrolment.has_identity(self.src):
            self.refused(src_ztunnel, labels, "-")
            return
        self.delivered(src_ztunnel, labels)
        if self.enrolment.in_mesh(self.dst):
            self.hbone(waypoint, self.dst, pod_principal(waypoint))

    def plaintext(self) -> None:
        enrolment, src, dst = self.enrolment, self.src, self.dst
        denied = enrolment.redirected(dst) and enrolment.strict_mtls(dst)
        # Counted at the destination before the authorization check (inbound_passthrough.rs), the
        # client named by its pod; STRICT then closes it with DENY, no bytes copied.
        for reporter, pod, flags in (("source", src, "-"), ("destination", dst, "DENY")):
            if not enrolment.redirected(pod):
                continue
            labels = self.labels(reporter, src, dst, UNKNOWN, UNKNOWN)
            if denied:
                self.refused(enrolment.ztunnel_for(pod), labels, flags)
            else:
                self.delivered(enrolment.ztunnel_for(pod), labels)


def redirected_pods_by_node(state: TwinState, enrolment: Enrolment | None = None) -> dict[str, int]:
    """workload_manager_active_proxy_count: the in-pod proxies each node's ztunnel runs."""
    enrolment = enrolment or Enrolment(state)
    counts: dict[str, int] = {}
    for pod in state.pods:
        if is_live(pod) and enrolment.redirected(pod):
            node = pod["spec"]["nodeName"]
            counts[node] = counts.get(node, 0) + 1
    return counts
