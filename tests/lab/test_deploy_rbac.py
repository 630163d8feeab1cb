"""deploy/rbac.yaml on the twin: the suite passes as the ServiceAccount, with its real RBAC (a
TokenRequest token, no impersonation), and the authorizer refuses it every write outside the
probe namespace."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from lab import faults
from lab.kubeapi import Api
from ossm_conformance import exitcodes
from ossm_conformance.kube.kinds import KINDS
from suite_runner import REPO, run_suite

pytestmark = pytest.mark.lab
SA_NS = SA_NAME = "ossm-conformance"
USER = f"system:serviceaccount:{SA_NS}:{SA_NAME}"
GROUPS = ["system:serviceaccounts", f"system:serviceaccounts:{SA_NS}", "system:authenticated"]
TENANT = "bank-employees-jboss-chat"
MANIFESTS = [d for d in yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()) if d]
# Where each kind of deploy/rbac.yaml is created (the lab's own kind table has no cluster RBAC kinds).
COLLECTIONS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
}


@pytest.fixture(scope="module")
def admin(lab):
    api = Api(lab.kubeconfig)
    created = []
    for doc in MANIFESTS:
        path = COLLECTIONS[doc["kind"]].format(ns=doc["metadata"].get("namespace"))
        try:
            api.request("POST", path, doc)
            created.append(f"{path}/{doc['metadata']['name']}")
        except ApiException as exc:
            if exc.status != 409:
                raise
            api.request("PUT", f"{path}/{doc['metadata']['name']}", doc)
    yield api
    # Cluster-wide grants by hand (the lab's reset knows no cluster RBAC kinds); the reset then removes
    # the namespace and everything namespaced that the twin does not have.
    for path in reversed(created):
        if "/namespaces/" not in path and not path.startswith("/api/v1/namespaces"):
            api.delete(path)
    api.close()
    faults.reset(lab.kubeconfig)


@pytest.fixture(scope="module")
def sa_kubeconfig(admin, lab, tmp_path_factory) -> Path:
    """A kubeconfig holding a short-lived TokenRequest token of the ServiceAccount (never in a report)."""
    answer = admin.request("POST", f"/api/v1/namespaces/{SA_NS}/serviceaccounts/{SA_NAME}/token",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 3600}})
    cluster = dict(yaml.safe_load(lab.kubeconfig.read_text())["clusters"][0]["cluster"])
    if "certificate-authority" in cluster:  # inline the CA so the file stands alone
        cluster["certificate-authority-data"] = base64.b64encode(
            Path(cluster.pop("certificate-authority")).read_bytes()).decode()
    path = tmp_path_factory.mktemp("sa") / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ossm-conformance",
        "clusters": [{"name": "twin", "cluster": cluster}],
        "users": [{"name": SA_NAME, "user": {"token": answer["status"]["token"]}}],
        "contexts": [{"name": "ossm-conformance", "context": {"cluster": "twin", "user": SA_NAME}}],
    }))
    path.chmod(0o600)
    return path


def allowed(admin: Api, verb: str, resource: str, namespace: str = "", subresource: str = "") -> bool:
    """The API server's own authorizer, asked about the ServiceAccount (SubjectAccessReview)."""
    group = next((k.group for k in KINDS.values() if k.key == resource), "")
    answer = admin.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": USER, "groups": GROUPS, "resourceAttributes": {
            "namespace": namespace, "verb": verb, "group": group, "resource": resource, "subresource": subresource}}})
    return bool(answer["status"].get("allowed"))


def test_suite_passes_as_the_service_account(sa_kubeconfig, tmp_path):
    mtls_ready = (REPO / "tests_conformance" / "test_mtls.py").exists()
    selection = ["--mtls-window", "5"] if mtls_ready else ["-m", "not mtls and not probes"]
    run = run_suite(sa_kubeconfig, tmp_path, "--settle-timeout", "2", *selection)
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-4000:]
    assert run.with_outcome("passed") and not run.with_outcome("failed") | run.with_outcome("error")
    token = yaml.safe_load(sa_kubeconfig.read_text())["users"][0]["user"]["token"]
    assert token not in run.output and not any(token in p.read_text() for p in tmp_path.rglob("*") if p.is_file())


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
