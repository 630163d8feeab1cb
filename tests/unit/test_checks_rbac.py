"""ztunnel workload-identity RBAC: pure evaluation of bindings and rules, and the runbook's pattern."""

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
    assert run(rbac.ztunnel_may_mint_identities, c, ZT, PROFILE.tenant(ns)) == []
    assert run(rbac.workload_identity_pattern_present, c, ZT, PROFILE.tenant(ns)) == []


def test_missing_rbac_quotes_the_bank_payment_cause():
    c = healthy()
    _strip_pattern(c)
    findings = run(rbac.ztunnel_may_mint_identities, c, ZT, CHAT)
    assert findings[0].object == "ServiceAccount ztunnel/ztunnel in Namespace bank-employees-jboss-chat"
    assert "create serviceaccounts/token, impersonate serviceaccounts" in findings[0].actual
    assert "istiod returns request impersonation authentication failure on the CSR" in findings[0].fix
    assert not findings[0].settling
    pattern = run(rbac.workload_identity_pattern_present, c, ZT, CHAT)
    assert [f.object for f in pattern] == [f"Role {CHAT.namespace}/{ROLE}", f"RoleBinding {CHAT.namespace}/{ROLE}"]


def test_gaps_confirmed_allowed_by_the_server_are_not_findings():
    c = healthy()
    _strip_pattern(c)
    assert run(rbac.ztunnel_identity_permission_gaps, c, ZT, CHAT.namespace) == [TOKEN, IMPERSONATE]
    assert run(rbac.ztunnel_may_mint_identities, c, ZT, CHAT, frozenset({TOKEN, IMPERSONATE})) == []
    assert "impersonate serviceaccounts" in text(run(rbac.ztunnel_may_mint_identities, c, ZT, CHAT, frozenset({TOKEN})))


def test_binding_to_another_service_account_does_not_count():
    c = healthy()
    find(c, "rolebindings", ROLE, CHAT.namespace)["subjects"] = [{"kind": "ServiceAccount", "name": "ztunnel", "namespace": "other"}]
    assert len(run(rbac.ztunnel_identity_permission_gaps, c, ZT, CHAT.namespace)) == 2
    assert "bindings of that Role without that subject: ztunnel-workload-identity" in text(
        run(rbac.workload_identity_pattern_present, c, ZT, CHAT))


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
    assert run(rbac.ztunnel_may_mint_identities, c, ZT, CHAT) == []


@pytest.mark.parametrize("rules, missing", [
    ([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create", "impersonate"]}], "create serviceaccounts/token"),
    ([{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}], "impersonate serviceaccounts"),
    ([{"apiGroups": [""], "resources": ["serviceaccounts", "serviceaccounts/token"], "verbs": ["create", "impersonate"],
       "resourceNames": ["bff"]}], "create serviceaccounts/token, impersonate serviceaccounts"),
], ids=["token-subresource-missing", "wrong-api-group", "resource-names-only"])
def test_insufficient_rules_fail(rules, missing):
    c = healthy()
    find(c, "roles", ROLE, CHAT.namespace)["rules"] = rules
    assert missing in text(run(rbac.ztunnel_may_mint_identities, c, ZT, CHAT))


def test_role_binding_in_another_namespace_does_not_grant():
    c = healthy()
    _strip_pattern(c)
    _bind(c, "RoleBinding", "zt", "ClusterRole", "zt-identity", ZT_SA, "ossm3-demo", BOTH)
    assert len(run(rbac.ztunnel_identity_permission_gaps, c, ZT, CHAT.namespace)) == 2
