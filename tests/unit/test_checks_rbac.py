"""ztunnel workload-identity RBAC: pure evaluation of bindings and rules, and the runbook's pattern."""

import dataclasses

import pytest

from objects import PROFILE, TENANTS, find, healthy, obj, remove, run, text

from ossm_conformance.checks import rbac

ZT = PROFILE.ztunnel
CHAT = PROFILE.tenant("bank-employees-jboss-chat")
ROLE = "ztunnel-workload-identity"
TOKEN, IMPERSONATE = rbac.WORKLOAD_IDENTITY_PERMISSIONS


def _strip_pattern(c, ns=CHAT.namespace):
    remove(c, "roles", ROLE, ns)
    remove(c, "rolebindings", ROLE, ns)


def _bind(c, kind, name, role_kind, role_name, subjects, ns=None, rules=None):
    if rules is not None:
        role_key = "roles" if role_kind == "Role" else "clusterroles"
        c[role_key].append(obj(role_key, role_name, ns if role_kind == "Role" else None, rules=rules))
    key = "rolebindings" if kind == "RoleBinding" else "clusterrolebindings"
    c[key].append(obj(key, name, ns, roleRef={"kind": role_kind, "name": role_name}, subjects=subjects))


ZT_SA = [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "ztunnel"}]
BOTH = [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]


@pytest.mark.parametrize("ns", TENANTS)
def test_healthy_tenants_pass(ns):
    c = healthy()
    assert run(rbac.ztunnel_may_mint_workload_identities, c, ZT, PROFILE.tenant(ns)) == []
    assert run(rbac.workload_identity_rbac_present, c, ZT, PROFILE.tenant(ns)) == []


def test_missing_rbac_quotes_the_bank_payment_cause():
    c = healthy()
    _strip_pattern(c)
    findings = run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT)
    assert findings[0].object == "ServiceAccount ztunnel/ztunnel in Namespace bank-employees-jboss-chat"
    assert "create serviceaccounts/token, impersonate serviceaccounts" in findings[0].actual
    assert "istiod returns request impersonation authentication failure on the CSR" in findings[0].fix
    assert not findings[0].settling
    pattern = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in pattern] == [f"Role {CHAT.namespace}/{ROLE}", f"RoleBinding {CHAT.namespace}/{ROLE}"]


def test_gaps_confirmed_allowed_by_the_server_are_not_findings():
    c = healthy()
    _strip_pattern(c)
    assert run(rbac._permission_gaps, c, ZT, CHAT.namespace) == [TOKEN, IMPERSONATE]
    assert run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT, {TOKEN, IMPERSONATE}.__contains__) == []
    assert "impersonate serviceaccounts" in text(run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT, {TOKEN}.__contains__))


def test_binding_to_another_service_account_does_not_count():
    c = healthy()
    find(c, "rolebindings", ROLE, CHAT.namespace)["subjects"] = [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "other"}]
    assert len(run(rbac._permission_gaps, c, ZT, CHAT.namespace)) == 2
    assert "bindings of that Role without that subject: ztunnel-workload-identity" in text(
        run(rbac.workload_identity_rbac_present, c, ZT, CHAT))


@pytest.mark.parametrize("grant", [
    # A ClusterRole bound in the namespace by a RoleBinding.
    lambda c: _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, CHAT.namespace, BOTH),
    # Cluster-wide, to the ServiceAccounts group of the ztunnel namespace.
    lambda c: _bind(c, "ClusterRoleBinding", "zt", "ClusterRole", "zt-identity",
                    [{"kind": "Group", "name": "system:serviceaccounts:ztunnel"}], rules=BOTH),
    # As a User string, with wildcards.
    lambda c: _bind(c, "RoleBinding", "zt", "Role", "all", [{"kind": "User", "name": "system:serviceaccount:ztunnel:ztunnel"}],
                    CHAT.namespace, [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    # '*/token' matches the token subresource of any resource; a subject namespace defaults to the binding's.
    lambda c: _bind(c, "RoleBinding", "zt", "Role", "sub", [{"kind": "Group", "name": "system:authenticated"}], CHAT.namespace,
                    [{"apiGroups": [""], "resources": ["*/token"], "verbs": ["create"]},
                     {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate", "get"]}]),
], ids=["clusterrole-in-namespace", "group-cluster-wide", "user-wildcards", "subresource-wildcard"])
def test_equivalent_grants_pass(grant):
    c = healthy()
    _strip_pattern(c)
    grant(c)
    assert run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT) == []


@pytest.mark.parametrize("rules, missing", [
    ([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create", "impersonate"]}], "create serviceaccounts/token"),
    ([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}], "impersonate serviceaccounts"),
    ([{"apiGroups": [""], "resources": ["serviceaccounts", "serviceaccounts/token"], "verbs": ["create", "impersonate"],
       "resourceNames": ["bff"]}], "create serviceaccounts/token, impersonate serviceaccounts"),
], ids=["token-subresource-missing", "wrong-api-group", "resource-names-only"])
def test_insufficient_rules_fail(rules, missing):
    c = healthy()
    find(c, "roles", ROLE, CHAT.namespace)["rules"] = rules
    assert missing in text(run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT))


def test_role_binding_in_another_namespace_does_not_grant():
    c = healthy()
    _strip_pattern(c)
    _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, "ossm3-demo", BOTH)
    assert len(run(rbac._permission_gaps, c, ZT, CHAT.namespace)) == 2


# -- the pattern, exactly as the runbook ships it -------------------------------------------------
@pytest.mark.parametrize("rules, fragment", [
    (BOTH + [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}], "also grants get secrets, list secrets"),
    ([{"apiGroups": [""], "resources": ["serviceaccounts", "serviceaccounts/token"], "verbs": ["*"]}],
     "also grants * serviceaccounts, * serviceaccounts/token"),
    ([{"apiGroups": ["*"], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, BOTH[1]], "create */serviceaccounts/token"),
], ids=["extra-resource", "wildcard-verbs", "wildcard-group"])
def test_over_broad_role_fails_though_ztunnel_may_mint(rules, fragment):
    c = healthy()
    find(c, "roles", ROLE, CHAT.namespace)["rules"] = rules
    assert run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT) == []
    findings = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in findings] == [f"Role {CHAT.namespace}/{ROLE}"]
    assert fragment in findings[0].actual


def test_the_runbook_rules_split_differently_are_still_the_pattern():
    c = healthy()
    find(c, "roles", ROLE, CHAT.namespace)["rules"] = [
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]
    assert run(rbac.workload_identity_rbac_present, c, ZT, CHAT) == []


def test_binding_with_another_subject_fails():
    c = healthy()
    find(c, "rolebindings", ROLE, CHAT.namespace)["subjects"].append({"kind": "Group", "name": "system:authenticated"})
    findings = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in findings] == [f"RoleBinding {CHAT.namespace}/{ROLE}"]
    assert findings[0].actual == "also binds Group system:authenticated"


# -- no grant outside the ambient tenants ----------------------------------------------------------
def test_healthy_grants_are_all_in_tenants():
    assert run(rbac.no_ztunnel_identity_grant_outside_tenants, healthy(), PROFILE) == []


def test_cluster_wide_grant_fails_once_naming_the_binding():
    c = healthy()
    _bind(c, "ClusterRoleBinding", "ztunnel-workload-identity", "ClusterRole", "ztunnel-workload-identity", ZT_SA, rules=BOTH)
    findings = run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE)
    assert [f.object for f in findings] == ["ClusterRoleBinding ztunnel-workload-identity"]
    assert "in every namespace (cluster-wide) via ClusterRole ztunnel-workload-identity" in findings[0].actual
    assert "namespace-scoped — not cluster-wide" in findings[0].fix


def test_grant_in_the_excluded_tenant_fails_with_its_reason():
    c = healthy()
    _bind(c, "RoleBinding", ROLE, "Role", ROLE, ZT_SA, "bank-payment", BOTH)
    findings = run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE)
    assert [f.object for f in findings] == [f"RoleBinding bank-payment/{ROLE}"]
    assert "an excluded tenant (rolled back" in findings[0].actual


def test_a_tenant_rolebinding_to_a_clusterrole_is_namespace_scoped():
    c = healthy()
    _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, CHAT.namespace, BOTH)
    assert run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE) == []
    # The same ClusterRole bound in a namespace the profile does not know is a grant outside.
    _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, "default")
    assert [f.object for f in run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE)] == ["RoleBinding default/zt"]


def test_grant_in_an_ignored_namespace_is_left_alone():
    # ignored_namespaces: ambient namespaces the profile knowingly does not manage (e.g. a nightly
    # that profiles some tenants of many); their own pattern is theirs, as every other check says.
    c = healthy()
    _bind(c, "RoleBinding", ROLE, "Role", ROLE, ZT_SA, "team-unmanaged", BOTH)
    assert len(run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE)) == 1
    ignoring = dataclasses.replace(PROFILE, ignored_namespaces=("team-unmanaged",))
    assert run(rbac.no_ztunnel_identity_grant_outside_tenants, c, ignoring) == []


def test_unrelated_cluster_grants_to_ztunnel_are_not_identity_grants():
    c = healthy()
    _bind(c, "ClusterRoleBinding", "ztunnel-scc", "ClusterRole", "use-privileged-scc", ZT_SA,
          rules=[{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"], "verbs": ["use"]}])
    assert run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE) == []


# -- every other grant to ztunnel (its ServiceAccount, its User name, a group it is in) -------------
SECRETS_AND_TOKENS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]


def _everyday_bindings(c, ns=CHAT.namespace):
    """What every OpenShift cluster carries: the default image-puller binding per namespace, a
    person's edit binding, the bootstrap ClusterRoleBindings to system:authenticated and
    system:serviceaccounts (kube-apiserver's bootstrap policy, as the lab's API server creates it)."""
    _bind(c, "RoleBinding", "system:image-pullers", "ClusterRole", "system:image-puller",
          [{"kind": "Group", "name": f"system:serviceaccounts:{ns}"}], ns,
          [{"apiGroups": ["", "image.openshift.io"], "resources": ["imagestreams/layers"], "verbs": ["get"]}])
    _bind(c, "RoleBinding", "team-edit", "ClusterRole", "edit", [{"kind": "User", "name": "alice"}], ns,
          [{"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["*"]}])
    _bind(c, "ClusterRoleBinding", "system:basic-user", "ClusterRole", "system:basic-user",
          [{"kind": "Group", "name": "system:authenticated"}],
          rules=[{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                  "verbs": ["create"]}])
    _bind(c, "ClusterRoleBinding", "system:service-account-issuer-discovery", "ClusterRole",
          "system:service-account-issuer-discovery", [{"kind": "Group", "name": "system:serviceaccounts"}],
          rules=[{"nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"], "verbs": ["get"]}])


def test_everyday_bindings_stay_green():
    c = healthy()
    _everyday_bindings(c)
    assert run(rbac.workload_identity_rbac_present, c, ZT, CHAT) == []
    assert run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE) == []


@pytest.mark.parametrize("subject", [ZT_SA[0], {"kind": "User", "name": "system:serviceaccount:ztunnel:ztunnel"},
                                     {"kind": "Group", "name": "system:serviceaccounts:ztunnel"},
                                     {"kind": "Group", "name": "system:authenticated"}],
                         ids=["service-account", "user", "its-namespace-group", "authenticated"])
def test_extra_role_bound_to_ztunnel_in_a_tenant_fails(subject):
    c = healthy()
    _everyday_bindings(c)
    _bind(c, "RoleBinding", "ztunnel-extras", "Role", "ztunnel-extras", [subject], CHAT.namespace, SECRETS_AND_TOKENS)
    findings = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in findings] == [f"RoleBinding {CHAT.namespace}/ztunnel-extras"]
    assert findings[0].actual.startswith("binds Role ztunnel-extras to ")
    assert "so ztunnel may also get secrets, list secrets, watch secrets" in findings[0].actual
    assert "create serviceaccounts/token" not in findings[0].actual   # one of the two rules: not an extra
    assert "nothing more" in findings[0].fix


def test_a_tenant_rolebinding_to_a_clusterrole_with_the_two_rules_is_no_extra():
    c = healthy()
    _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, CHAT.namespace, BOTH)
    assert run(rbac.workload_identity_rbac_present, c, ZT, CHAT) == []


def test_cluster_wide_secret_reads_for_ztunnel_fail():
    c = healthy()
    _everyday_bindings(c)
    _bind(c, "ClusterRoleBinding", "ztunnel-secrets", "ClusterRole", "secret-reader", ZT_SA,
          rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])
    findings = run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE)
    assert [f.object for f in findings] == ["ClusterRoleBinding ztunnel-secrets"]
    assert "grants get secrets, list secrets in every namespace (cluster-wide) via ClusterRole secret-reader" \
        in findings[0].actual


def test_cluster_admin_for_authenticated_users_is_a_wildcard_grant_to_ztunnel():
    c = healthy()
    _bind(c, "ClusterRoleBinding", "oops", "ClusterRole", "cluster-admin", [{"kind": "Group", "name": "system:authenticated"}],
          rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    assert "* */*" in text(run(rbac.no_ztunnel_identity_grant_outside_tenants, c, PROFILE))


# -- resourceNames: a narrowed rule is not the pattern, and ztunnel is denied ------------------------
def test_role_narrowed_with_resource_names_is_not_the_pattern():
    c = healthy()
    find(c, "roles", ROLE, CHAT.namespace)["rules"] = [
        {**BOTH[0], "resourceNames": ["bff"]}, {**BOTH[1], "resourceNames": ["bff", "chat-backend"]}]
    pattern = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in pattern] == [f"Role {CHAT.namespace}/{ROLE}"]
    assert "create serviceaccounts/token only for resourceNames bff" in pattern[0].actual
    denied = run(rbac.ztunnel_may_mint_workload_identities, c, ZT, CHAT)
    assert "denied for system:serviceaccount:ztunnel:ztunnel: create serviceaccounts/token, impersonate serviceaccounts" \
        in denied[0].actual
    assert "impersonate serviceaccounts only for resourceNames bff, chat-backend" in denied[0].actual
    assert "name no object" in denied[0].actual


# -- the binding's subject is ztunnel of another namespace ------------------------------------------
def test_binding_to_ztunnel_of_another_namespace_shows_its_subjects():
    c = healthy()
    find(c, "rolebindings", ROLE, CHAT.namespace)["subjects"] = [
        {"kind": "ServiceAccount", "name": "ztunnel", "namespace": "istio-system"}]
    findings = run(rbac.workload_identity_rbac_present, c, ZT, CHAT)
    assert [f.object for f in findings] == [f"RoleBinding {CHAT.namespace}/{ROLE}"]
    assert findings[0].actual == f"bindings of that Role without that subject: {ROLE} binds ServiceAccount istio-system/ztunnel"
