"""Helpers shared by the lab self-tests and tests/lab/conftest.py (a plain module: import it as
`from lab_helpers import ...`, never from a conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from lab.kubeapi import Api
from lab.paths import REPO

# deploy/rbac.yaml's ServiceAccount, and where each kind of that file is created (the lab's own
# kind table has no cluster RBAC kinds).
SA_NS = SA_NAME = "ossm-conformance"
RBAC_MANIFESTS = [d for d in yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()) if d]
RBAC_COLLECTIONS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
}


def run_cli(lab_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python -m lab ...` against the lab in `lab_dir`."""
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OSSM_LAB_DIR": str(lab_dir)})


def cond(obj: dict, ctype: str) -> dict:
    """The status condition of type `ctype`."""
    return next(c for c in obj["status"]["conditions"] if c["type"] == ctype)


def service_account_may(api: Api, sa_namespace: str, sa_name: str, *, verb: str, resource: str,
                        namespace: str = "", group: str = "", subresource: str = "") -> bool:
    """The API server's own authorizer, asked about a ServiceAccount (SubjectAccessReview)."""
    answer = api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": f"system:serviceaccount:{sa_namespace}:{sa_name}",
                 "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}", "system:authenticated"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource,
                                        "subresource": subresource}}})
    return bool(answer["status"].get("allowed"))
