"""NetworkPolicy evaluation (networking.k8s.io/v1), written once for the tenant and istio-system checks.

Semantics followed: a pod is isolated for a direction only when some policy of that type selects it;
then a connection is admitted when ANY rule of ANY selecting policy admits both the peer and the port.
Absent `from`/`to` or `ports` means all. A peer with podSelector only means pods in the policy's
namespace; namespaceSelector only, all pods of the matching namespaces; both, the intersection.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ._k8s import dig, labels, name, namespace, selector_matches


@dataclass(frozen=True)
class Peer:
    """One end of a connection: where it lives, its labels, its IP (when known), its named ports."""
    namespace: str                    # "" for what is not a pod (the API server's endpoints)
    labels: dict
    ip: str | None = None
    named_ports: dict = field(default_factory=dict)   # container port name -> number (destination side)
    title: str = ""
    networks: tuple[str, ...] = ()    # CIDRs an unknown IP lies within (the cluster's pod network)


def pod_peer(pod: dict) -> Peer:
    ports = {p["name"]: p.get("containerPort") for c in dig(pod, "spec.containers", []) or []
             for p in c.get("ports") or [] if p.get("name")}
    return Peer(namespace(pod), dict(labels(pod)), dig(pod, "status.podIP"), ports, name(pod))


def policy_types(policy: dict) -> set[str]:
    declared = dig(policy, "spec.policyTypes")
    if declared:
        return set(declared)
    # Defaulting by the API server: Ingress always, Egress when egress rules are present.
    return {"Ingress"} | ({"Egress"} if dig(policy, "spec.egress") else set())


def selecting(policies: list[dict], subject: Peer, direction: str) -> list[dict]:
    """The policies of `direction` ('Ingress'/'Egress') that isolate the subject."""
    return [p for p in policies
            if namespace(p) == subject.namespace and direction in policy_types(p)
            and selector_matches(dig(p, "spec.podSelector") or {}, subject.labels)]


def admits(isolating: list[dict], direction: str, subject: Peer, other: Peer, port: int,
           namespace_labels: dict[str, dict], protocol: str = "TCP") -> bool:
    """Is a connection between subject (the selected pod) and other admitted in `direction`?

    `isolating` is selecting(policies, subject, direction), taken once by the caller for all the
    peers it asks about. Ingress: other -> subject:port. Egress: subject -> other:port.
    Unisolated subjects admit all.
    """
    if not isolating:
        return True
    destination = subject if direction == "Ingress" else other
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in isolating:
        for rule in dig(policy, f"spec.{rules_key}", []) or []:
            peers = rule.get(peers_key) or []
            ports = rule.get("ports") or []
            if peers and not any(_peer_matches(p, namespace(policy), other, namespace_labels) for p in peers):
                continue
            if ports and not any(_port_matches(p, port, protocol, destination.named_ports) for p in ports):
                continue
            return True
    return False


def port_admitted_from_anyone(isolating: list[dict], subject: Peer, port: int, protocol: str = "TCP") -> bool:
    """Ingress to subject:port admitted by some rule of the Ingress policies isolating the subject,
    whatever its peers (for callers that are not pods, such as the API server calling a webhook,
    whose address no pod selector can describe)."""
    return not isolating or any(
        not rule.get("ports") or any(_port_matches(p, port, protocol, subject.named_ports) for p in rule["ports"])
        for policy in isolating for rule in dig(policy, "spec.ingress", []) or [])


def _peer_matches(peer_spec: dict, policy_namespace: str, other: Peer, namespace_labels: dict[str, dict]) -> bool:
    if "ipBlock" in peer_spec:
        return _ip_in_block(peer_spec["ipBlock"], other.ip, other.networks)
    if not other.namespace:
        return False  # not a pod (the API server, a node): no pod or namespace selector describes it
    pod_sel, ns_sel = peer_spec.get("podSelector"), peer_spec.get("namespaceSelector")
    if ns_sel is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = selector_matches(ns_sel, namespace_labels.get(other.namespace, {}))
    return in_namespace and (pod_sel is None or selector_matches(pod_sel, other.labels))


def _ip_in_block(block: dict, ip: str | None, networks: tuple[str, ...] = ()) -> bool:
    try:
        cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
        if ip is None:
            # The peer's address is unknown: a block surely admits it only when it holds every network
            # the address may be in (a catch-all, or the whole pod network) and excepts none of it.
            nets = [ipaddress.ip_network(n, strict=False) for n in networks] or [ipaddress.ip_network("0.0.0.0/0")]
            excepted = [ipaddress.ip_network(e, strict=False) for e in block.get("except") or []]
            return all(n.version == cidr.version and n.subnet_of(cidr) and not any(n.overlaps(e) for e in excepted)
                       for n in nets)
        addr = ipaddress.ip_address(ip)
        return addr in cidr and not any(addr in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    except ValueError:
        return False


def _port_matches(port_spec: dict, port: int, protocol: str, named_ports: dict) -> bool:
    if (port_spec.get("protocol") or "TCP") != protocol:
        return False
    wanted = port_spec.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        return named_ports.get(wanted) == port
    low = int(wanted)
    return low <= port <= int(port_spec.get("endPort") or low)


def policy_names(policies: list[dict]) -> list[str]:
    return [name(p) for p in policies]
