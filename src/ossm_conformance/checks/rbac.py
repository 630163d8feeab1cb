"""ztunnel's workload-identity RBAC in each ambient tenant (the bank-payment rollback).

Evaluated from the snapshot's Roles/Bindings as the RBAC authorizer does (pkg/apis/rbac/v1
helpers: VerbMatches, APIGroupMatches, ResourceMatches incl. '*/subresource', ResourceNameMatches),
so a healthy cluster costs no per-tenant request. The suite confirms a denial found here with a
SubjectAccessReview before reporting it (OpenShift adds authorizers the snapshot cannot see).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import runbook
from ..findings import Finding
from ..profile import Tenant, ZTunnelSpec
from ._k8s import dig, name, namespace, reads

WORKLOAD_IDENTITY = "ztunnel-workload-identity"


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    subresource: str = ""
    group: str = ""

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}" + (f"/{self.subresource}" if self.subresource else "")


# What ztunnel needs in a tenant namespace to mint SPIFFE certificates for its ServiceAccounts.
WORKLOAD_IDENTITY_PERMISSIONS = (Permission("create", "serviceaccounts", "token"),
                                 Permission("impersonate", "serviceaccounts"))


def service_account_user(sa_namespace: str, sa_name: str) -> str:
    return f"system:serviceaccount:{sa_namespace}:{sa_name}"


def service_account_groups(sa_namespace: str) -> tuple[str, ...]:
    """The groups the API server puts a ServiceAccount's token in."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}", "system:authenticated")


def _subject_is(subject: dict, binding_namespace: str, sa_namespace: str, sa_name: str) -> bool:
    kind, subject_name = subject.get("kind"), subject.get("name")
    if kind == "ServiceAccount":
        return subject_name == sa_name and (subject.get("namespace") or binding_namespace) == sa_namespace
    if kind == "User":
        return subject_name == service_account_user(sa_namespace, sa_name)
    if kind == "Group":
        return subject_name in service_account_groups(sa_namespace)
    return False


def _rule_allows(rule: dict, perm: Permission) -> bool:
    verbs, groups, resources = rule.get("verbs") or [], rule.get("apiGroups") or [], rule.get("resources") or []
    combined = f"{perm.resource}/{perm.subresource}" if perm.subresource else perm.resource
    resource_ok = any(r in ("*", combined) or (perm.subresource and r == f"*/{perm.subresource}") for r in resources)
    # A rule limited to resourceNames never matches a request that names no object: ztunnel acts on any SA.
    return ("*" in verbs or perm.verb in verbs) and ("*" in groups or perm.group in groups) \
        and resource_ok and not rule.get("resourceNames")


def _granted_rules(view, tenant_namespace: str, sa_namespace: str, sa_name: str) -> list[dict]:
    """The rules of every Role/ClusterRole bound to the ServiceAccount for this namespace."""
    rules = []
    bindings = [(b, tenant_namespace) for b in view.list("rolebindings", tenant_namespace)] \
        + [(b, "") for b in view.list("clusterrolebindings")]
    for binding, binding_ns in bindings:
        if not any(_subject_is(s, binding_ns, sa_namespace, sa_name) for s in binding.get("subjects") or []):
            continue
        role_ref = binding.get("roleRef") or {}
        if role_ref.get("kind") == "Role" and binding_ns:
            role = view.get("roles", role_ref.get("name", ""), binding_ns)
        else:
            role = view.get("clusterroles", role_ref.get("name", ""))
        rules.extend((role or {}).get("rules") or [])
    return rules


@reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def ztunnel_identity_permission_gaps(view, ztunnel: ZTunnelSpec, tenant_namespace: str) -> list[Permission]:
    """The workload-identity permissions no binding grants ztunnel in the namespace (pure evaluation)."""
    rules = _granted_rules(view, tenant_namespace, ztunnel.namespace, ztunnel.service_account)
    return [p for p in WORKLOAD_IDENTITY_PERMISSIONS if not any(_rule_allows(r, p) for r in rules)]


@reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def ztunnel_may_mint_identities(view, ztunnel: ZTunnelSpec, tenant: Tenant,
                                allowed_by_server: frozenset = frozenset()) -> list[Finding]:
    """ztunnel is allowed to mint identities for the tenant's ServiceAccounts. `allowed_by_server`
    holds gaps a SubjectAccessReview found allowed after all (those are not findings)."""
    gaps = [p for p in ztunnel_identity_permission_gaps(view, ztunnel, tenant.namespace) if p not in allowed_by_server]
    if not gaps:
        return []
    user = service_account_user(ztunnel.namespace, ztunnel.service_account)
    return [Finding(f"ServiceAccount {ztunnel.namespace}/{ztunnel.service_account} in Namespace {tenant.namespace}",
                    "allowed: " + ", ".join(str(p) for p in WORKLOAD_IDENTITY_PERMISSIONS),
                    f"denied for {user}: " + ", ".join(str(p) for p in gaps), runbook.WORKLOAD_IDENTITY_RBAC)]


@reads("roles", "rolebindings")
def workload_identity_pattern_present(view, ztunnel: ZTunnelSpec, tenant: Tenant) -> list[Finding]:
    """The runbook's namespace-scoped pattern: Role and RoleBinding ztunnel-workload-identity to ztunnel/ztunnel."""
    findings, ns = [], tenant.namespace
    if view.get("roles", WORKLOAD_IDENTITY, ns) is None:
        findings.append(Finding(f"Role {ns}/{WORKLOAD_IDENTITY}", "exists", "not found", runbook.WORKLOAD_IDENTITY_RBAC))
    bound = [b for b in view.list("rolebindings", ns)
             if dig(b, "roleRef.kind") == "Role" and dig(b, "roleRef.name") == WORKLOAD_IDENTITY
             and any(s.get("kind") == "ServiceAccount" and _subject_is(s, namespace(b), ztunnel.namespace, ztunnel.service_account)
                     for s in b.get("subjects") or [])]
    if not bound:
        others = [name(b) for b in view.list("rolebindings", ns) if dig(b, "roleRef.name") == WORKLOAD_IDENTITY]
        findings.append(Finding(
            f"RoleBinding {ns}/{WORKLOAD_IDENTITY}",
            f"a RoleBinding of Role {WORKLOAD_IDENTITY} to ServiceAccount {ztunnel.namespace}/{ztunnel.service_account}",
            f"bindings of that Role without that subject: {', '.join(sorted(others))}" if others else "not found",
            runbook.WORKLOAD_IDENTITY_RBAC))
    return findings
