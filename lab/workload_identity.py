"""Does the live RBAC let ztunnel mint workload identities in a namespace?

istiod answers this with a SubjectAccessReview for the ztunnel ServiceAccount before it signs a
workload certificate (the runbook's "request impersonation authentication failure" when it is
denied). The lab evaluates the same two questions from listed RBAC objects instead, so the
ztunnel endpoints can follow RBAC for hundreds of namespaces per tick without one SAR per
namespace; tests/lab cross-checks this evaluator against real SubjectAccessReviews.

Pure functions on plain dicts (the JSON of the RBAC objects), following the matching rules of
Kubernetes' RBAC authorizer (rbac/v1 `RuleAllows`, `appliesTo`).
"""
from __future__ import annotations

from dataclasses import dataclass

ZTUNNEL_NAMESPACE = "ztunnel"
ZTUNNEL_SERVICE_ACCOUNT = "ztunnel"

# (apiGroup, resource, subresource, verb): what istiod checks for ztunnel in the workload's namespace.
REQUIRED_ACCESS = (
    ("", "serviceaccounts", "token", "create"),
    ("", "serviceaccounts", "", "impersonate"),
)


@dataclass(frozen=True)
class ServiceAccountUser:
    namespace: str
    name: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated")


ZTUNNEL = ServiceAccountUser(ZTUNNEL_NAMESPACE, ZTUNNEL_SERVICE_ACCOUNT)


def _subject_applies(subject: dict, user: ServiceAccountUser, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        # An empty namespace on a RoleBinding subject means the binding's own namespace.
        sa_namespace = subject.get("namespace") or binding_namespace
        return sa_namespace == user.namespace and subject.get("name") == user.name
    if kind == "User":
        return subject.get("name") == user.username
    if kind == "Group":
        return subject.get("name") in user.groups
    return False


def _binding_applies(binding: dict, user: ServiceAccountUser) -> bool:
    namespace = binding.get("metadata", {}).get("namespace", "")
    return any(_subject_applies(s, user, namespace) for s in binding.get("subjects") or ())


def _resource_matches(rule_resources: list[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule_resources:
        if candidate in ("*", combined):
            return True
        if subresource and candidate == f"*/{subresource}":
            return True
    return False


def rule_allows(rule: dict, group: str, resource: str, subresource: str, verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    groups = rule.get("apiGroups") or ()
    if "*" not in verbs and verb not in verbs:
        return False
    if "*" not in groups and group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], resource, subresource):
        return False
    # The review names no object, so a rule restricted to resourceNames never applies.
    return not rule.get("resourceNames")


@dataclass
class RbacIndex:
    """The RBAC objects of one tick, indexed once so each namespace costs a few dict lookups."""

    roles: dict[tuple[str, str], dict]
    cluster_roles: dict[str, dict]
    role_bindings_by_namespace: dict[str, list[dict]]
    cluster_role_bindings: list[dict]

    @classmethod
    def build(cls, roles, role_bindings, cluster_roles, cluster_role_bindings) -> "RbacIndex":
        by_ns: dict[str, list[dict]] = {}
        for binding in role_bindings:
            by_ns.setdefault(binding["metadata"].get("namespace", ""), []).append(binding)
        return cls(
            roles={(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in roles},
            cluster_roles={r["metadata"]["name"]: r for r in cluster_roles},
            role_bindings_by_namespace=by_ns,
            cluster_role_bindings=list(cluster_role_bindings),
        )

    def _rules_for(self, user: ServiceAccountUser, namespace: str):
        for binding in self.cluster_role_bindings:
            if binding.get("roleRef", {}).get("kind") == "ClusterRole" and _binding_applies(binding, user):
                yield from (self.cluster_roles.get(binding["roleRef"]["name"]) or {}).get("rules") or ()
        for binding in self.role_bindings_by_namespace.get(namespace, ()):
            if not _binding_applies(binding, user):
                continue
            ref = binding.get("roleRef", {})
            if ref.get("kind") == "Role":
                role = self.roles.get((namespace, ref.get("name")))
            elif ref.get("kind") == "ClusterRole":
                role = self.cluster_roles.get(ref.get("name"))
            else:
                role = None
            yield from (role or {}).get("rules") or ()

    def allows(self, user: ServiceAccountUser, namespace: str, group: str, resource: str,
               subresource: str, verb: str) -> bool:
        return any(rule_allows(rule, group, resource, subresource, verb)
                   for rule in self._rules_for(user, namespace))

    def ztunnel_may_mint(self, namespace: str) -> bool:
        """True when ztunnel may create tokens for and impersonate the namespace's ServiceAccounts."""
        return all(self.allows(ZTUNNEL, namespace, *access) for access in REQUIRED_ACCESS)
