"""The identity the suite runs as under faults: a client-certificate user bound to cluster-admin.

Why not the lab's admin kubeconfig: its user is in system:masters, which API Priority and Fairness
always exempts, so the APF fault could never throttle it. A plain user with the same rights is
throttled like any SRE's or CI's identity, and every fault kind uses it (baseline runs too) so the
runs differ only by the fault.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kubernetes.client.exceptions import ApiException

from lab.certs import Authority
from lab.kubeapi import Api
from lab.paths import LabPaths

USER = "ossm-reliability"
BINDING = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


def _authority(paths: LabPaths) -> Authority:
    key = serialization.load_pem_private_key((paths.pki / "ca.key").read_bytes(), password=None)
    return Authority(key, x509.load_pem_x509_certificate((paths.pki / "ca.crt").read_bytes()))


def grant(admin: Api) -> None:
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{USER}-cluster-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]}
    try:
        admin.request("POST", BINDING, body)
    except ApiException as exc:
        if exc.status != 409:
            raise


def revoke(admin: Api) -> None:
    try:
        admin.request("DELETE", f"{BINDING}/{USER}-cluster-admin")
    except ApiException as exc:
        if exc.status != 404:
            raise


def write_kubeconfig(paths: LabPaths, server: str, path: Path) -> Path:
    """A kubeconfig for USER (key and certificate issued by the lab's CA) pointing at `server`."""
    key, cert = _authority(paths).issue(USER, client=True)

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": USER,
        "clusters": [{"name": "lab", "cluster": {
            "server": server, "certificate-authority-data": b64((paths.pki / "ca.crt").read_bytes())}}],
        "users": [{"name": USER, "user": {"client-certificate-data": b64(cert.public_bytes(serialization.Encoding.PEM)),
                                          "client-key-data": b64(key_pem)}}],
        "contexts": [{"name": USER, "context": {"cluster": "lab", "user": USER}}],
    }, sort_keys=False))
    path.chmod(0o600)
    return path


def pointed_at(kubeconfig: Path, server: str, path: Path) -> Path:
    """The same identity through another address (e.g. Toxiproxy's listener)."""
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = server
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path
