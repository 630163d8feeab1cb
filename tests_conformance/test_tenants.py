"""Tenant namespaces: enrolment, workload-identity RBAC, PeerAuthentication, NetworkPolicies, pods."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.tenants


@pytest.mark.reads("namespaces")
def test_ambient_namespace_enrolled(conform, ambient_tenant):
    """The namespace exists, is labelled ambient and carries no sidecar-mode label"""
    conform(checks.tenants.namespace_enrolled, ambient_tenant)


@pytest.mark.reads("roles", "rolebindings", "clusterroles")
def test_workload_identity_rbac_present(conform, profile, ambient_tenant):
    """The ztunnel-workload-identity Role grants exactly the runbook's rules, bound to ztunnel/ztunnel only"""
    conform(checks.rbac.workload_identity_pattern_present, profile.ztunnel, ambient_tenant)


@pytest.mark.reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def test_no_ztunnel_identity_grant_outside_tenants(conform, profile):
    """No ClusterRoleBinding, nor a RoleBinding outside the ambient tenants, lets ztunnel mint identities"""
    conform(checks.rbac.no_identity_grant_outside_tenants, profile)


@pytest.mark.reads("roles", "rolebindings", "clusterroles", "clusterrolebindings")
def test_ztunnel_may_mint_workload_identities(conform, view, profile, ambient_tenant, subject_access_review):
    """ztunnel may create ServiceAccount tokens and impersonate ServiceAccounts in the namespace"""
    # The pure evaluation decides; the API server is asked only about the gaps it finds, since
    # OpenShift may grant through authorizers the snapshot cannot see.
    zt = profile.ztunnel
    user, groups = checks.rbac.service_account_user(zt.namespace, zt.service_account), checks.rbac.service_account_groups(zt.namespace)
    gaps = checks.rbac.ztunnel_identity_permission_gaps(view, zt, ambient_tenant.namespace)
    allowed = frozenset(g for g in gaps if subject_access_review(ambient_tenant.namespace, g.verb, g.resource,
                                                                 g.subresource, user, groups))
    conform(checks.rbac.ztunnel_may_mint_identities, zt, ambient_tenant, allowed)


@pytest.mark.reads("peerauthentications")
def test_peer_authentication_strict(conform, profile, ambient_tenant):
    """A namespace-level PeerAuthentication is STRICT with no PERMISSIVE/DISABLE override"""
    conform(checks.tenants.peer_authentication_strict, ambient_tenant, profile.istio.namespace)


@pytest.mark.reads("pods", "networkpolicies", "namespaces", "services", "deployments")
def test_network_policies_admit_hbone(conform, ambient_tenant):
    """NetworkPolicies admit HBONE (TCP 15008) for each profiled edge and to and from the waypoint"""
    conform(checks.tenants.network_policies_admit_hbone, ambient_tenant)


@pytest.mark.reads("pods", "namespaces", "events")
def test_pods_redirected_and_ready(conform, ambient_tenant):
    """Every workload pod is enrolled and redirected by istio-cni, captures inbound, has no sidecar, and is Ready"""
    conform(checks.tenants.pods_enrolled, ambient_tenant)


@pytest.mark.reads("namespaces", "pods")
def test_excluded_tenant_not_enrolled(conform, excluded_tenant):
    """An excluded tenant is out of the mesh: no ambient label, no self-enrolled pod, no sidecar (the profile says why)"""
    conform(checks.tenants.excluded_tenant_not_enrolled, excluded_tenant)


@pytest.mark.reads("namespaces")
def test_sidecar_tenant_injected(conform, sidecar_tenant):
    """A sidecar-mode tenant is labelled istio-injection=enabled and not ambient"""
    conform(checks.tenants.sidecar_tenant_injected, sidecar_tenant)


@pytest.mark.reads("namespaces", "pods")
def test_unknown_ambient_namespaces(conform, profile):
    """Every namespace labelled ambient, or with pods enrolled by their own label, is profiled or ignored"""
    conform(checks.tenants.no_unknown_ambient_namespaces, profile)
