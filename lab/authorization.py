"""Pure: would ztunnel's L4 authorization refuse a connection? (the AuthorizationPolicies it enforces)

Follows istio/ztunnel `src/state.rs` `assert_rbac` (1.28): a matching DENY policy refuses; with no
ALLOW policy for the workload the connection is allowed; otherwise one ALLOW policy must match.
ztunnel receives a policy that is selector-bound or namespace-wide in the workload's namespace, or
mesh-wide (no selector) in the root namespace; a policy bound with targetRefs is a waypoint's and
never reaches ztunnel (istio/istio `pilot/pkg/model/policyattachment.go`).

Modelled rule fields: `from[].source.principals / notPrincipals / namespaces / notNamespaces`
(exact values, `*` and prefix/suffix `*` wildcards). A rule using any other field (L7 methods and
paths, ports, when, ipBlocks) never matches in an ALLOW policy (ztunnel drops the HTTP rules of an
ALLOW policy it receives) and is ignored in a DENY one: the twin's faults use only the modelled fields.
"""
from __future__ import annotations

import fnmatch
from typing import Iterable

ROOT_NAMESPACE = "istio-system"
SOURCE_FIELDS = {"principals", "notPrincipals", "namespaces", "notNamespaces"}


def _values_match(patterns: Iterable[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _source_matches(source: dict, principal: str, namespace: str) -> bool:
    # Principals without the spiffe:// prefix, as Istio writes them in policies.
    name = principal.removeprefix("spiffe://")
    checks = (("principals", name, True), ("notPrincipals", name, False),
              ("namespaces", namespace, True), ("notNamespaces", namespace, False))
    return all(_values_match(source[key], value) is wanted for key, value, wanted in checks if key in source)


def _modelled(rule: dict) -> bool:
    return set(rule) <= {"from"} and all(set(f) <= {"source"} and set(f.get("source") or {}) <= SOURCE_FIELDS
                                         for f in rule.get("from") or ())


def _rule_matches(rule: dict, principal: str, namespace: str) -> bool:
    froms = rule.get("from") or ()
    return not froms or any(_source_matches(f.get("source") or {}, principal, namespace) for f in froms)


def _policy_matches(policy: dict, principal: str, namespace: str, allow: bool) -> bool:
    for rule in (policy.get("spec") or {}).get("rules") or ():
        if not _modelled(rule):
            if allow:
                continue          # dropped by ztunnel
            rule = {"from": rule.get("from") or []}
        if _rule_matches(rule, principal, namespace):
            return True
    return False


def _applies(policy: dict, pod_namespace: str, pod_labels: dict) -> bool:
    meta, spec = policy.get("metadata") or {}, policy.get("spec") or {}
    if spec.get("targetRefs") or spec.get("targetRef"):
        return False
    selector = (spec.get("selector") or {}).get("matchLabels")
    if meta.get("namespace") == pod_namespace:
        return not selector or all(pod_labels.get(k) == v for k, v in selector.items())
    return meta.get("namespace") == ROOT_NAMESPACE and not selector


def denying_policy(policies: Iterable[dict], pod: dict, source_principal: str, source_namespace: str) -> str | None:
    """'ns/name' of the policy that refuses the connection to `pod`, or None when it is allowed."""
    meta = pod.get("metadata") or {}
    applicable = [p for p in policies if _applies(p, meta.get("namespace", ""), meta.get("labels") or {})]
    allows = [p for p in applicable if (p.get("spec") or {}).get("action", "ALLOW") == "ALLOW"]
    for policy in applicable:
        if (policy.get("spec") or {}).get("action") == "DENY" and _policy_matches(policy, source_principal,
                                                                                   source_namespace, allow=False):
            return _name(policy)
    if not allows or any(_policy_matches(p, source_principal, source_namespace, allow=True) for p in allows):
        return None
    return _name(allows[0])


def _name(policy: dict) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
