"""deploy/rbac.yaml on the twin (applied by conftest's `admin`): the authorizer refuses the
ServiceAccount every write outside the probe namespace, and a kind it may not list is an error.
That the suite passes as the ServiceAccount, with its real RBAC (a TokenRequest token, no
impersonation), is checked by test_no_secrets_in_artifacts.py in the same run that looks for leaks."""

from __future__ import annotations

import pytest

from lab.kubeapi import Api
from lab_helpers import SA_NAME, SA_NS, service_account_may
from ossm_conformance import exitcodes
from ossm_conformance.kube.kinds import KINDS
from lab.suite_runner import run_suite

pytestmark = pytest.mark.lab
TENANT = "bank-employees-jboss-chat"


def allowed(admin: Api, verb: str, resource: str, namespace: str = "", subresource: str = "") -> bool:
    """The API server's own authorizer, asked about the ServiceAccount (SubjectAccessReview)."""
    group = next((k.group for k in KINDS.values() if k.key == resource), "")
    return service_account_may(admin, SA_NS, SA_NAME, verb=verb, resource=resource, namespace=namespace,
                               group=group, subresource=subresource)


@pytest.mark.parametrize("verb, resource, namespace, subresource", [
    ("patch", "namespaces", "", ""),
    ("create", "namespaces", "", ""),
    ("delete", "pods", TENANT, ""),
    ("create", "pods", TENANT, ""),
    ("create", "rolebindings", TENANT, ""),
    ("create", "rolebindings", SA_NS, ""),
    ("update", "istios", "", ""),
    ("delete", "deployments", "istio-system", ""),
    ("patch", "daemonsets", "ztunnel", ""),
    ("delete", "subscriptions", "openshift-operators", ""),
    ("create", "pods", SA_NS, "exec"),
    ("get", "secrets", TENANT, ""),
], ids=lambda v: v or "-")
def test_service_account_cannot_write_outside_the_probe_namespace(admin, verb, resource, namespace, subresource):
    assert not allowed(admin, verb, resource, namespace, subresource)


@pytest.mark.parametrize("verb, resource, subresource", [
    ("create", "pods", ""), ("delete", "pods", ""), ("get", "pods", "log"),
])
def test_service_account_runs_probe_pods_in_its_namespace(admin, verb, resource, subresource):
    assert allowed(admin, verb, resource, SA_NS, subresource)


def test_a_forbidden_kind_is_an_error_never_a_pass(admin, sa_kubeconfig, tmp_path):
    """Take `list peerauthentications` away from the account: the PeerAuthentication checks must end
    as *errors* naming the permission (exit 12, could not check), and every other check still passes."""
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/ossm-conformance-reader"
    role = admin.get(path)
    trimmed = dict(role, rules=[dict(r, resources=[x for x in r["resources"] if x != "peerauthentications"])
                                for r in role["rules"]])
    admin.request("PUT", path, trimmed)
    try:
        run = run_suite(sa_kubeconfig, tmp_path, "--settle-timeout", "2", "-m", "not mtls")
    finally:
        admin.request("PUT", path, {**role, "metadata": {**role["metadata"], "resourceVersion": None}})
    errored = run.with_outcome("error")
    assert run.exit_code == exitcodes.COULD_NOT_CHECK, run.output[-3000:]
    assert errored and all("peer_authentication" in t for t in errored), sorted(errored)
    assert not run.with_outcome("failed") and not run.with_outcome("skipped")
    assert all("403 Forbidden" in run.messages[t] and "security.istio.io/peerauthentications" in run.messages[t]
               for t in errored)
