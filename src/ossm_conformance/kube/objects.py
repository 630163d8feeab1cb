"""Kubernetes object semantics, written once: metadata access, conditions, label selectors,
node selection and taint toleration, readiness.

Pure functions of API objects as the API server returns them (dicts), no I/O. Each helper
mirrors the upstream rule it names, so no check, probe or profile draft re-implements it inline.
"""

from __future__ import annotations

from typing import Iterable


# -- metadata ---------------------------------------------------------------------------------
def meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def name(obj: dict) -> str:
    return meta(obj).get("name", "")


def namespace(obj: dict) -> str:
    return meta(obj).get("namespace", "")


def labels(obj: dict) -> dict:
    return meta(obj).get("labels") or {}


def annotations(obj: dict) -> dict:
    return meta(obj).get("annotations") or {}


def ref(obj: dict) -> str:
    """How a finding names an object: 'Kind namespace/name' or 'Kind name'."""
    ns = namespace(obj)
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name(obj)}"


def dig(obj: dict, path: str, default=None):
    """obj['a']['b'] for path 'a.b', or default when any step is absent."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def namespace_labels(ns_obj: dict | None) -> dict:
    """A Namespace's labels as selectors see them (the API server sets metadata.name's label)."""
    if ns_obj is None:
        return {}
    return {"kubernetes.io/metadata.name": name(ns_obj), **labels(ns_obj)}


def listing(values: Iterable[str], limit: int = 8) -> str:
    """A short, stable list for a message: 'a, b, c (+4 more)'."""
    values = sorted(values)
    head = ", ".join(values[:limit])
    return head + (f" (+{len(values) - limit} more)" if len(values) > limit else "") if values else "none"


# -- generation -------------------------------------------------------------------------------
def generation_current(obj: dict) -> bool:
    """The controller has seen the latest spec (status.observedGeneration == metadata.generation)."""
    return dig(obj, "status.observedGeneration") == meta(obj).get("generation")


# -- conditions -------------------------------------------------------------------------------
def condition(obj: dict, kind: str) -> dict | None:
    for cond in dig(obj, "status.conditions", []) or []:
        if cond.get("type") == kind:
            return cond
    return None


def condition_status(obj: dict, kind: str) -> str:
    """'True', 'False', 'Unknown', or 'absent'."""
    cond = condition(obj, kind)
    return cond.get("status", "Unknown") if cond else "absent"


def describe_condition(obj: dict, kind: str) -> str:
    """'Ready=False (DaemonSetNotReady: not all ztunnel pods are ready)'; reason is empty when True."""
    cond = condition(obj, kind)
    if cond is None:
        return f"{kind} condition absent"
    detail = ": ".join(p for p in (cond.get("reason"), cond.get("message")) if p)
    return f"{kind}={cond.get('status', 'Unknown')}" + (f" ({detail})" if detail else "")


# -- label selectors (metav1.LabelSelector) and node selector terms ---------------------------
def _requirement_matches(operator: str, key: str, values: list, labels_: dict) -> bool:
    present = key in labels_
    value = labels_.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:  # node selector only: integer compare
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def selector_matches(selector: dict | None, labels_: dict) -> bool:
    """metav1.LabelSelector: matchLabels AND matchExpressions; an empty selector matches everything.
    A null selector is the caller's decision (NetworkPolicy treats an absent podSelector as {})."""
    selector = selector or {}
    if any(labels_.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return _requirements_match(selector.get("matchExpressions"), labels_)


def _requirements_match(requirements: list[dict] | None, labels_: dict) -> bool:
    """Every {key, operator, values} requirement holds (the form of matchExpressions and matchFields)."""
    return all(_requirement_matches(r.get("operator", ""), r.get("key", ""), r.get("values") or [], labels_)
               for r in requirements or [])


def node_selected(pod_spec: dict, node: dict) -> bool:
    """A pod template's nodeSelector and required node affinity against one Node."""
    node_labels = labels(node)
    if any(node_labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    terms = dig(pod_spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    if not terms:
        return True
    fields = {"metadata.name": name(node)}
    # Terms are ORed; the requirements inside one term are ANDed.
    return any(_requirements_match(term.get("matchExpressions"), node_labels)
               and _requirements_match(term.get("matchFields"), fields) for term in terms)


# -- taints and tolerations -------------------------------------------------------------------
# The DaemonSet controller adds these to every daemon pod (pkg/controller/daemon/util), so a
# cordoned or pressured node is still covered; a NotReady node is covered but not counted Ready.
DAEMONSET_DEFAULT_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)


def tolerates(toleration: dict, taint: dict) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True  # an empty key with Exists tolerates every taint
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(tolerations: list[dict], node: dict) -> list[dict]:
    """The node's NoSchedule/NoExecute taints no toleration covers (PreferNoSchedule never blocks)."""
    return [t for t in dig(node, "spec.taints", []) or []
            if t.get("effect") in ("NoSchedule", "NoExecute") and not any(tolerates(tol, t) for tol in tolerations)]


def node_ready(node: dict) -> bool:
    return condition_status(node, "Ready") == "True"


def pod_ready(pod: dict) -> bool:
    return condition_status(pod, "Ready") == "True"
