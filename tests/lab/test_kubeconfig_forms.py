"""Kubeconfigs as SREs really have them, against the lab's real API server (issue 15, item 1).

Each form is built from the lab's own kubeconfig (client certificate of `admin`) or from a
TokenRequest token of the suite's ServiceAccount (`sa_kubeconfig`), and proven by asking the API
server who we are (SelfSubjectReview): the right credential reached the server, not just any.
The forms users hit first (a two-file KUBECONFIG, an exec plugin, an expired login) run the suite
itself as a user does; the others build the client in-process, which is the same code path.
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from ossm_conformance import exitcodes
from ossm_conformance.kube.client import Api, build_api_client
from lab.suite_runner import assert_one_clear_line, run_suite

pytestmark = pytest.mark.lab
# The CRD checks: a real suite run that reads the cluster, in a couple of seconds.
QUICK = ["--settle-timeout", "0", "-m", "crds"]
SA_USER = "system:serviceaccount:ossm-conformance:ossm-conformance"


def who_am_i(kubeconfig: str | None, context: str | None = None) -> str:
    client, _ = build_api_client(kubeconfig, context)
    answer = Api(client).post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return answer["status"]["userInfo"]["username"]


def lab_parts(lab) -> tuple[dict, dict]:
    """(cluster, admin user) stanzas of the lab's kubeconfig."""
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    return doc["clusters"][0]["cluster"], doc["users"][0]["user"]


def sa_token(sa_kubeconfig: Path) -> str:
    return yaml.safe_load(sa_kubeconfig.read_text())["users"][0]["user"]["token"]


def kubeconfig(path: Path, cluster: dict, user: dict, context: str = "spoke") -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "spoke", "cluster": cluster}], "users": [{"name": "sre", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "spoke", "user": "sre"}}]}))
    return path


def exec_plugin(tmp_path: Path, status: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A credential plugin as `oc`-style helpers are: prints an ExecCredential (or fails)."""
    script = tmp_path / "credential-plugin"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      f"sys.stderr.write({stderr!r})\n"
                      f"if {exit_code}: sys.exit({exit_code})\n"
                      "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
                      f"'status': {status}}}))\n")
    script.chmod(0o755)
    return script


def exec_user(script: Path, **env: str) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "interactiveMode": "Never",
                     "env": [{"name": k, "value": v} for k, v in env.items()]}}


def test_two_file_kubeconfig_env_with_a_context_from_the_second_file(lab, tmp_path):
    """The issue's first symptom: KUBECONFIG=a:b and --context defined in b (cluster and user in a)."""
    cluster, user = lab_parts(lab)
    a, b = tmp_path / "clusters.yaml", tmp_path / "contexts.yaml"
    a.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "",
                                 "clusters": [{"name": "spoke", "cluster": cluster}],
                                 "users": [{"name": "sre", "user": user}]}))
    b.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                 "contexts": [{"name": "sre@spoke", "context": {"cluster": "spoke", "user": "sre"}}]}))
    run = run_suite(None, tmp_path, "--context", "sre@spoke", *QUICK, env={"KUBECONFIG": f"{a}:{b}"})
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-3000:]
    assert run.with_outcome("passed") and not run.with_outcome("failed") and not run.with_outcome("error")


def test_exec_plugin_run(lab, tmp_path, sa_kubeconfig):
    """A plugin with `env` and interactiveMode Never, printing an ExecCredential with a token."""
    cluster, _ = lab_parts(lab)
    token_file = tmp_path / "sso-token"
    token_file.write_text(sa_token(sa_kubeconfig))
    script = exec_plugin(tmp_path, "{'token': open(os.environ['SSO_TOKEN_FILE']).read(), "
                                   "'expirationTimestamp': '2999-01-01T00:00:00Z'}")
    path = kubeconfig(tmp_path / "kubeconfig", cluster, exec_user(script, SSO_TOKEN_FILE=str(token_file)))
    assert who_am_i(str(path)) == SA_USER
    run = run_suite(path, tmp_path, *QUICK)
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-3000:]
    assert run.with_outcome("passed") and not run.with_outcome("error")


def test_exec_plugin_with_a_client_certificate(lab, tmp_path):
    """Plugins may answer with a certificate and key instead of a token (ExecCredential status)."""
    cluster, admin = lab_parts(lab)
    cert, key = (base64.b64decode(admin[k]).decode() for k in ("client-certificate-data", "client-key-data"))
    script = exec_plugin(tmp_path, f"{{'clientCertificateData': {cert!r}, 'clientKeyData': {key!r}}}")
    assert who_am_i(str(kubeconfig(tmp_path / "kubeconfig", cluster, exec_user(script)))) == "admin"


def test_expired_exec_token_is_one_line_exit_12(lab, tmp_path):
    """The plugin still hands out the token of a login that has expired: the server answers 401."""
    cluster, _ = lab_parts(lab)
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    script = exec_plugin(tmp_path, f"{{'token': 'sha256~expired-login-token-abcdefghijkl', 'expirationTimestamp': {past!r}}}")
    run = run_suite(kubeconfig(tmp_path / "kubeconfig", cluster, exec_user(script)), tmp_path, *QUICK)
    line = assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, "401 Unauthorized")
    assert "expired-login-token" not in run.output and "sha256~" not in line


def test_failing_exec_plugin_is_one_line_exit_12(lab, tmp_path):
    """`oc`-style helper whose login expired: it exits 1 and says so on stderr."""
    cluster, _ = lab_parts(lab)
    script = exec_plugin(tmp_path, "{}", exit_code=1, stderr="error: You must be logged in to the server (oc login)\n")
    run = run_suite(kubeconfig(tmp_path / "kubeconfig", cluster, exec_user(script)), tmp_path, *QUICK)
    assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, "credential-plugin' failed with exit code 1",
                          r"You must be logged in to the server \(oc login\)")


def test_token_file_with_a_trailing_newline(lab, tmp_path, sa_kubeconfig):
    cluster, _ = lab_parts(lab)
    (tmp_path / "token").write_text(sa_token(sa_kubeconfig) + "\n")  # as `echo $TOKEN > token` writes it
    path = kubeconfig(tmp_path / "kubeconfig", cluster, {"tokenFile": "token"})  # relative to the kubeconfig
    assert who_am_i(str(path)) == SA_USER


def test_ca_file_instead_of_ca_data_and_client_certificate_files(lab, tmp_path):
    cluster, user = lab_parts(lab)
    (tmp_path / "pki").mkdir()
    for name, data in (("ca.crt", cluster.pop("certificate-authority-data")),
                       ("admin.crt", user.pop("client-certificate-data")), ("admin.key", user.pop("client-key-data"))):
        (tmp_path / "pki" / name).write_bytes(base64.b64decode(data))
    cluster["certificate-authority"] = "pki/ca.crt"
    user.update({"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"})
    assert who_am_i(str(kubeconfig(tmp_path / "kubeconfig", cluster, user))) == "admin"


def test_insecure_skip_tls_verify(lab, tmp_path):
    cluster, user = lab_parts(lab)
    cluster.pop("certificate-authority-data")
    cluster["insecure-skip-tls-verify"] = True
    assert who_am_i(str(kubeconfig(tmp_path / "kubeconfig", cluster, user))) == "admin"


class _ConnectProxy(socketserver.ThreadingTCPServer):
    """The smallest HTTP CONNECT proxy (what a corporate proxy does for https): counts its tunnels."""
    daemon_threads = True
    allow_reuse_address = True
    tunnels = 0


class _Tunnel(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b" ", 2)[:2]
        if method != b"CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, port = target.decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.server.tunnels += 1
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            while True:
                ready, _, _ = select.select([self.request, upstream], [], [], 10)
                if not ready:
                    return
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (upstream if src is self.request else self.request).sendall(data)


@pytest.fixture
def connect_proxy():
    server = _ConnectProxy(("127.0.0.1", 0), _Tunnel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_proxy_url_is_used(lab, tmp_path, connect_proxy):
    cluster, user = lab_parts(lab)
    cluster["proxy-url"] = f"http://127.0.0.1:{connect_proxy.server_address[1]}"
    assert who_am_i(str(kubeconfig(tmp_path / "kubeconfig", cluster, user))) == "admin"
    assert connect_proxy.tunnels >= 1, "the request did not go through proxy-url"
