"""The lab for the lab self-tests: one per session.

If a lab already runs in $OSSM_LAB_DIR (or <repo>/.lab), it is reused and left running. Otherwise
one is started in a temporary OSSM_LAB_DIR with `python -m lab up` (the way a user starts it) and
stopped with `python -m lab down` at the end of the session.

`admin` and `sa_kubeconfig` (per module): deploy/rbac.yaml applied, and a kubeconfig holding a
TokenRequest token of its ServiceAccount.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from lab import control_plane, faults
from lab.kubeapi import Api
from lab.paths import LabPaths
from lab_helpers import RBAC_COLLECTIONS, RBAC_MANIFESTS, SA_NAME, SA_NS, run_cli


@dataclass
class Lab:
    dir: Path
    kubeconfig: Path
    api_url: str
    env: dict[str, str]     # the lab's env file, parsed
    started_here: bool

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Runs `python -m lab ...` against this lab."""
        return run_cli(self.dir, *args, timeout=timeout)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    existing = LabPaths()
    if "kube-apiserver" in control_plane.running(existing):
        paths, started = existing, False
    else:
        paths, started = LabPaths(tmp_path_factory.mktemp("lab")), True
        up = run_cli(paths.root, "up")
        if up.returncode != 0:
            run_cli(paths.root, "down")
            pytest.fail(f"`python -m lab up` failed ({up.returncode}): {up.stdout}{up.stderr}", pytrace=False)
    env = control_plane.read_env(paths)
    yield Lab(paths.root, paths.kubeconfig, env["LAB_API_URL"], env, started)
    if started:
        run_cli(paths.root, "down")


@pytest.fixture(scope="session")
def api(lab) -> Api:
    client = Api(lab.kubeconfig)
    yield client
    client.close()


@pytest.fixture
def twin(lab, api):
    """The healthy twin for one test, restored afterwards whatever the test did to it."""
    yield api
    faults.reset(lab.kubeconfig)


@pytest.fixture(scope="module")
def admin(lab):
    """The lab's admin, with deploy/rbac.yaml applied for the module; removed again afterwards."""
    api = Api(lab.kubeconfig)
    created = []
    for doc in RBAC_MANIFESTS:
        path = RBAC_COLLECTIONS[doc["kind"]].format(ns=doc["metadata"].get("namespace"))
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
