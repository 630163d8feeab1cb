"""ztunnel's workload-identity RBAC in each ambient tenant (the bank-payment rollback).

Evaluated from the snapshot's Roles/Bindings as the RBAC authorizer does (pkg/apis/rbac/v1
helpers: VerbMatches, APIGroupMatches, ResourceMatches incl. '*/subresource', ResourceNameMatches),
so a healthy cluster costs no per-tenant request. The suite confirms a denial found here with a
SubjectAccessReview before reporting it (OpenShift adds authorizers the snapshot cannot see).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import runbook
from ..findings import Finding
from ..profile import Profile, Tenant, ZTunnelSpec
from ._k8s import dig, listing, name, namespace, reads, ref

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


def _rule_allows(rule: dict, perm: Permission, any_name: bool = False) -> bool:
    """Does the rule allow the request ztunnel makes? `any_name` ignores resourceNames, to tell a
    rule narrowed to some ServiceAccounts from one that does not match at all."""
    verbs, groups, resources = rule.get("verbs") or [], rule.get("apiGroups") or [], rule.get("resources") or []
    combined = f"{perm.resource}/{perm.subresource}" if perm.subresource else perm.resource
    resource_ok = any(r in ("*", combined) or (perm.subresource and r == f"*/{perm.subresource}") for r in resources)
    # A rule limited to resourceNames never matches a request that names no object: ztunnel acts on any SA.
    return ("*" in verbs or perm.verb in verbs) and ("*" in groups or perm.group in groups) \
        and resource_ok and (any_name or not rule.get("resourceNames"))


def _grants(view, sa_namespace: str, sa_name: str, only_in: str | None = None, cluster_wide: bool = True):
    """(binding, the namespace it grants in or "" for cluster-wide, rules) for every RoleBinding
    (in namespace `only_in`, or everywhere) and (unless not `cluster_wide`) ClusterRoleBinding
    naming the ServiceAccount or a group it is in."""
    bindings = [(b, namespace(b)) for b in view.list("rolebindings", only_in)] \
        + ([(b, "") for b in view.list("clusterrolebindings")] if cluster_wide else [])
    for binding, binding_ns in bindings:
        if not any(_subject_is(s, binding_ns, sa_namespace, sa_name) for s in binding.get("subjects") or []):
            continue
        role_ref = binding.get("roleRef") or {}
        if role_ref.get("kind") == "Role" and binding_ns:
            role = view.get("roles", role_ref.get("name", ""), binding_ns)
        else:
            role = view.get("clusterroles", role_ref.get("name", ""))
        yield binding, binding_ns, (role or {}).get("rules") or []


def _granted_rules(view, tenant_namespace: str, sa_namespace: str, sa_name: str) -> list[dict]:
    """The rules of every Role/ClusterRole bound to the ServiceAccount for this namespace."""
    return [r for _, _, rules in _grants(view, sa_namespace, sa_name, tenant_namespace) for r in rules]


@reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def _permission_gaps(view, ztunnel: ZTunnelSpec, tenant_namespace: str) -> list[Permission]:
    """The workload-identity permissions no binding grants ztunnel in the namespace (pure evaluation)."""
    rules = _granted_rules(view, tenant_namespace, ztunnel.namespace, ztunnel.service_account)
    return [p for p in WORKLOAD_IDENTITY_PERMISSIONS if not any(_rule_allows(r, p) for r in rules)]


@reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def ztunnel_may_mint_workload_identities(view, ztunnel: ZTunnelSpec, tenant: Tenant,
                                         allowed_by_server: Callable[[Permission], bool] | None = None) -> list[Finding]:
    """ztunnel is allowed to mint identities for the tenant's ServiceAccounts. The snapshot's RBAC
    decides; `allowed_by_server(permission)` is asked only about a gap it finds (the test passes a
    SubjectAccessReview, since OpenShift may grant through authorizers the snapshot cannot see):
    a gap the API server allows after all is not a finding."""
    gaps = [p for p in _permission_gaps(view, ztunnel, tenant.namespace)
            if not (allowed_by_server and allowed_by_server(p))]
    if not gaps:
        return []
    user = service_account_user(ztunnel.namespace, ztunnel.service_account)
    rules = _granted_rules(view, tenant.namespace, ztunnel.namespace, ztunnel.service_account)
    narrowed = [f"{p} only for resourceNames {listing(sorted({n for r in rules if _rule_allows(r, p, any_name=True) for n in r.get('resourceNames') or []}))}"
                for p in gaps if any(_rule_allows(r, p, any_name=True) for r in rules)]
    why = f" (granted {'; '.join(narrowed)}: ztunnel's requests name no object, so they are denied)" if narrowed else ""
    return [Finding(f"ServiceAccount {ztunnel.namespace}/{ztunnel.service_account} in Namespace {tenant.namespace}",
                    "allowed: " + ", ".join(str(p) for p in WORKLOAD_IDENTITY_PERMISSIONS),
                    f"denied for {user}: " + ", ".join(str(p) for p in gaps) + why, runbook.WORKLOAD_IDENTITY_RBAC)]


# The runbook's Role, rule for rule, as (apiGroup, resource, verb).
_PATTERN_RULES = frozenset((p.group, f"{p.resource}/{p.subresource}" if p.subresource else p.resource, p.verb)
                           for p in WORKLOAD_IDENTITY_PERMISSIONS)


def _rule_texts(rule: dict):
    """(apiGroup, resource, verb, how `oc describe` would say it) for each grant of a rule."""
    for group in rule.get("apiGroups") or [""]:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                yield group, resource, verb, f"{verb} {group + '/' if group else ''}{resource}"


def _beyond_pattern(rules: list[dict]) -> list[str]:
    """What rules grant beyond the runbook's two: other verbs, resources or groups, wildcards,
    non-resource URLs, and the two rules narrowed with resourceNames (not "exactly" the pattern)."""
    extra = set()
    for rule in rules:
        extra.update(f"{verb} {url}" for url in rule.get("nonResourceURLs") or [] for verb in rule.get("verbs") or [])
        for group, resource, verb, said in _rule_texts(rule):
            if (group, resource, verb) not in _PATTERN_RULES:
                extra.add(said)
            elif rule.get("resourceNames"):
                extra.add(f"{said} only for resourceNames {listing(sorted(rule['resourceNames']))}")
    return sorted(extra)


_SECRET_READS = ("get", "list", "watch", "*")


def _sensitive(rules: list[dict]) -> list[str]:
    """Grants no identity of the mesh should hold anywhere: reading Secrets (ServiceAccount tokens,
    TLS keys) and wildcards (every verb or every resource)."""
    return sorted({said for rule in rules for group, resource, verb, said in _rule_texts(rule)
                   if verb == "*" or resource == "*"
                   or (group in ("", "*") and resource == "secrets" and verb in _SECRET_READS)})


def _subjects_text(binding: dict) -> str:
    return listing([f"{s.get('kind')} {s['namespace'] + '/' if s.get('namespace') else ''}{s.get('name')}"
                    for s in binding.get("subjects") or []]) or "no subjects"


@reads("roles", "rolebindings", "clusterroles")
def workload_identity_rbac_present(view, ztunnel: ZTunnelSpec, tenant: Tenant) -> list[Finding]:
    """The runbook's namespace-scoped pattern, exactly: Role ztunnel-workload-identity granting
    create serviceaccounts/token and impersonate serviceaccounts and nothing more, and RoleBinding
    ztunnel-workload-identity binding it to ServiceAccount ztunnel/ztunnel and nobody else.

    Nor does any other RoleBinding of the namespace grant ztunnel more (its ServiceAccount, its
    User name, or a group it is in: system:serviceaccounts, system:serviceaccounts:<its namespace>,
    system:authenticated).

    Healthy: the two objects as the runbook ships them; OpenShift's default bindings
    (system:image-pullers to system:serviceaccounts:<tenant>, which ztunnel is not in) and people's
    view/edit bindings. Broken: either missing, a wildcard, any other verb/resource or a resourceNames
    restriction in the Role (ztunnel's identity could then do more than mint certificates, or fail
    to), another subject on the binding (someone else could impersonate the tenant's ServiceAccounts),
    another Role or ClusterRole bound to ztunnel in the namespace granting anything beyond the two rules.
    """
    findings, ns = [], tenant.namespace
    zt = f"{ztunnel.namespace}/{ztunnel.service_account}"
    role = view.get("roles", WORKLOAD_IDENTITY, ns)
    if role is None:
        findings.append(Finding(f"Role {ns}/{WORKLOAD_IDENTITY}", "exists", "not found", runbook.WORKLOAD_IDENTITY_RBAC))
    elif extra := _beyond_pattern(role.get("rules") or []):
        findings.append(Finding(f"Role {ns}/{WORKLOAD_IDENTITY}",
                                "exactly the runbook's rules: create serviceaccounts/token, impersonate serviceaccounts",
                                f"also grants {listing(extra)}", runbook.WORKLOAD_IDENTITY_LEAST_PRIVILEGE))
    of_role = [b for b in view.list("rolebindings", ns)
               if dig(b, "roleRef.kind") == "Role" and dig(b, "roleRef.name") == WORKLOAD_IDENTITY]
    bound = [b for b in of_role if any(s.get("kind") == "ServiceAccount"
                                       and _subject_is(s, namespace(b), ztunnel.namespace, ztunnel.service_account)
                                       for s in b.get("subjects") or [])]
    if not bound:
        others = [f"{name(b)} binds {_subjects_text(b)}" for b in sorted(view.list("rolebindings", ns), key=name)
                  if dig(b, "roleRef.name") == WORKLOAD_IDENTITY]
        findings.append(Finding(
            f"RoleBinding {ns}/{WORKLOAD_IDENTITY}",
            f"a RoleBinding of Role {WORKLOAD_IDENTITY} to ServiceAccount {zt}",
            f"bindings of that Role without that subject: {'; '.join(others)}" if others else "not found",
            runbook.WORKLOAD_IDENTITY_RBAC))
    for binding in of_role:
        strangers = [f"{s.get('kind')} {s['namespace'] + '/' if s.get('namespace') else ''}{s.get('name')}"
                     for s in binding.get("subjects") or []
                     if not (s.get("kind") == "ServiceAccount"
                             and _subject_is(s, namespace(binding), ztunnel.namespace, ztunnel.service_account))]
        if strangers and binding in bound:
            findings.append(Finding(ref(binding), f"subjects: only ServiceAccount {zt}",
                                    f"also binds {listing(strangers)}", runbook.WORKLOAD_IDENTITY_LEAST_PRIVILEGE))
    # ClusterRoleBindings are judged once, by no_ztunnel_identity_grant_outside_tenants.
    for binding, _, rules in _grants(view, ztunnel.namespace, ztunnel.service_account, ns, cluster_wide=False):
        if binding in of_role or not (extra := _beyond_pattern(rules)):
            continue   # the pattern's own binding: its Role is judged above
        role = f"{dig(binding, 'roleRef.kind')} {dig(binding, 'roleRef.name')}"
        findings.append(Finding(
            ref(binding), f"ServiceAccount {zt} granted nothing in {ns} beyond the runbook's two rules",
            f"binds {role} to {_subjects_text(binding)}, so ztunnel may also {listing(extra)}",
            runbook.ZTUNNEL_EXTRA_GRANTS))
    return findings


@reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def no_ztunnel_identity_grant_outside_tenants(view, profile: Profile) -> list[Finding]:
    """ztunnel may mint identities only in the ambient tenants: "This is namespace-scoped — not
    cluster-wide" (runbook). Healthy: the tenants' RoleBindings only (a tenant RoleBinding to a
    ClusterRole is namespace-scoped too), and the cluster's default ClusterRoleBindings to groups
    ztunnel is in (system:basic-user, system:discovery, ... to system:authenticated or
    system:serviceaccounts: self-reviews and discovery URLs). Broken: a ClusterRoleBinding granting
    ztunnel create serviceaccounts/token, impersonate serviceaccounts, Secret reads or a wildcard
    (one finding, naming it), or a RoleBinding doing so in a namespace that is not an ambient tenant
    (an excluded one says why). Namespaces under ignored_namespaces are left alone like everywhere
    else: the profile knowingly does not manage them (their own tenants' grants are theirs).
    """
    zt = profile.ztunnel
    ambient = {t.namespace for t in profile.ambient_tenants} | set(profile.ignored_namespaces)
    excluded = {t.namespace: t.reason for t in profile.tenants if t.mode == "excluded"}
    findings = []
    for binding, binding_ns, rules in _grants(view, zt.namespace, zt.service_account):
        granted = [str(p) for p in WORKLOAD_IDENTITY_PERMISSIONS if any(_rule_allows(r, p) for r in rules)] \
            + _sensitive(rules)
        if not granted or binding_ns in ambient:
            continue
        via = f"{dig(binding, 'roleRef.kind')} {dig(binding, 'roleRef.name')}"
        if not binding_ns:
            where = "in every namespace (cluster-wide)"
        elif binding_ns in excluded:
            where = f"in {binding_ns}, an excluded tenant ({excluded[binding_ns]})"
        else:
            where = f"in {binding_ns}, not an ambient tenant of the profile"
        findings.append(Finding(
            f"{'RoleBinding' if binding_ns else 'ClusterRoleBinding'} {binding_ns + '/' if binding_ns else ''}{name(binding)}",
            f"ServiceAccount {zt.namespace}/{zt.service_account} granted workload-identity permissions only in the "
            "ambient tenants (namespace-scoped, not cluster-wide), and no Secret reads or wildcards anywhere",
            f"grants {', '.join(granted)} {where} via {via}", runbook.WORKLOAD_IDENTITY_SCOPE))
    return sorted(findings, key=lambda f: f.object)
