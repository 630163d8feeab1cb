"""Tenant namespaces: enrolment, workload-identity RBAC, PeerAuthentication, NetworkPolicies, pods."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.tenants


def test_ambient_namespace_enrolled(conform, ambient_tenant):
    """The namespace exists, is labelled ambient and carries no sidecar-mode label"""
    conform(checks.tenants.ambient_namespace_enrolled, ambient_tenant)


def test_workload_identity_rbac_present(conform, profile, ambient_tenant):
    """The ztunnel-workload-identity Role grants exactly the runbook's rules, bound to ztunnel/ztunnel only"""
    conform(checks.rbac.workload_identity_rbac_present, profile.ztunnel, ambient_tenant)


def test_no_ztunnel_identity_grant_outside_tenants(conform, profile):
    """No ClusterRoleBinding, nor a RoleBinding outside the ambient tenants, lets ztunnel mint identities"""
    conform(checks.rbac.no_ztunnel_identity_grant_outside_tenants, profile)


def test_ztunnel_may_mint_workload_identities(conform, profile, ambient_tenant, subject_access_review):
    """ztunnel may create ServiceAccount tokens and impersonate ServiceAccounts in the namespace"""
    zt = profile.ztunnel
    user, groups = checks.rbac.service_account_user(zt.namespace, zt.service_account), checks.rbac.service_account_groups(zt.namespace)

    def allowed_by_server(p) -> bool:  # asked only about a gap the snapshot's RBAC finds
        return subject_access_review(ambient_tenant.namespace, p.verb, p.resource, p.subresource, user, groups)

    conform(checks.rbac.ztunnel_may_mint_workload_identities, zt, ambient_tenant, allowed_by_server)


def test_peer_authentication_strict(conform, profile, ambient_tenant):
    """A namespace-level PeerAuthentication is STRICT with no PERMISSIVE/DISABLE override"""
    conform(checks.tenants.peer_authentication_strict, ambient_tenant, profile.istio.namespace)


def test_network_policies_admit_hbone(conform, ambient_tenant):
    """NetworkPolicies admit HBONE (TCP 15008) for each profiled edge and to and from the waypoint"""
    conform(checks.tenants.network_policies_admit_hbone, ambient_tenant)


def test_pods_redirected_and_ready(conform, ambient_tenant):
    """Every workload pod is enrolled and redirected by istio-cni, captures inbound, has no sidecar, and is Ready"""
    conform(checks.tenants.pods_redirected_and_ready, ambient_tenant)


def test_excluded_tenant_not_enrolled(conform, excluded_tenant):
    """An excluded tenant is out of the mesh: no ambient label, no self-enrolled pod, no sidecar (the profile says why)"""
    conform(checks.tenants.excluded_tenant_not_enrolled, excluded_tenant)


def test_sidecar_tenant_injected(conform, sidecar_tenant):
    """A sidecar-mode tenant is labelled istio-injection=enabled and not ambient"""
    conform(checks.tenants.sidecar_tenant_injected, sidecar_tenant)


def test_unknown_ambient_namespaces(conform, profile):
    """Every namespace labelled ambient, or with pods enrolled by their own label, is profiled or ignored"""
    conform(checks.tenants.unknown_ambient_namespaces, profile)
