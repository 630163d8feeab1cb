"""kubectl's kubeconfig rules, as far as they decide which server, CA and credentials are used
(no server needed: the lab tests in tests/lab/test_kubeconfig_forms.py connect for real)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from ossm_conformance.kube.kubeconfig import CredentialsError, KubeconfigError, load


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def cluster(name: str, server: str, **extra) -> dict:
    return {"name": name, "cluster": {"server": server, **extra}}


def test_kubeconfig_env_merges_every_file_and_the_first_current_context_wins(tmp_path, monkeypatch):
    a = write(tmp_path / "a", {"current-context": "first", "clusters": [cluster("one", "https://one:6443")],
                               "users": [{"name": "u", "user": {"token": "t1"}}],
                               "contexts": [{"name": "first", "context": {"cluster": "one", "user": "u"}}]})
    b = write(tmp_path / "b", {"current-context": "second", "clusters": [cluster("two", "https://two:6443"),
                                                                          cluster("one", "https://shadowed:6443")],
                               "contexts": [{"name": "second", "context": {"cluster": "two", "user": "u"}}]})
    monkeypatch.setenv("KUBECONFIG", f"{a}:{tmp_path / 'missing'}:{b}")
    loaded = load(None, None)
    assert loaded.context == "first" and loaded.configuration.host == "https://one:6443"
    # A context of the second file, using the first file's user; the first file's `one` wins over b's.
    assert load(None, "second").configuration.host == "https://two:6443"
    assert loaded.source == f"{a}:{b}"


def test_kubeconfig_option_overrides_the_env(tmp_path, monkeypatch):
    a = write(tmp_path / "a", {"current-context": "x", "clusters": [cluster("c", "https://env:6443")],
                               "contexts": [{"name": "x", "context": {"cluster": "c"}}]})
    b = write(tmp_path / "b", {"current-context": "y", "clusters": [cluster("c", "https://option:6443")],
                               "contexts": [{"name": "y", "context": {"cluster": "c"}}]})
    monkeypatch.setenv("KUBECONFIG", str(a))
    assert load(str(b), None).configuration.host == "https://option:6443"
    with pytest.raises(KubeconfigError, match="context 'x' not found"):
        load(str(b), "x")  # --kubeconfig is one file: the env's files are not merged in


def test_unknown_context_lists_the_known_ones(tmp_path):
    a = write(tmp_path / "a", {"current-context": "x", "clusters": [cluster("c", "https://c:6443")],
                               "contexts": [{"name": "x", "context": {"cluster": "c"}},
                                            {"name": "admin@spoke", "context": {"cluster": "c"}}]})
    with pytest.raises(KubeconfigError, match=r"context 'nope' not found \(contexts: x, admin@spoke\)"):
        load(str(a), "nope")


def test_relative_files_resolve_against_the_file_that_names_them(tmp_path, monkeypatch):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_text("not read until a request is made")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "token").write_text("file-token\n")
    a = write(tmp_path / "a", {"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                               "clusters": [cluster("c", "https://c:6443", **{"certificate-authority": "certs/ca.crt"})]})
    b = write(tmp_path / "other" / "b", {"users": [{"name": "u", "user": {"tokenFile": "token"}}]})
    monkeypatch.setenv("KUBECONFIG", f"{a}:{b}")
    cfg = load(None, None).configuration
    assert cfg.ssl_ca_cert == str(tmp_path / "certs" / "ca.crt")
    assert cfg.api_key["authorization"] == "Bearer file-token"


def test_insecure_skip_tls_verify_and_proxy_url(tmp_path):
    a = write(tmp_path / "a", {"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c"}}],
                               "clusters": [cluster("c", "https://c:6443", **{"insecure-skip-tls-verify": True,
                                                                              "proxy-url": "http://proxy:3128"})]})
    cfg = load(str(a), None).configuration
    assert cfg.verify_ssl is False and cfg.proxy == "http://proxy:3128" and cfg.no_proxy is None


def test_insecure_with_a_ca_is_refused_as_kubectl_does(tmp_path):
    a = write(tmp_path / "a", {"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c"}}],
                               "clusters": [cluster("c", "https://c:6443", **{"insecure-skip-tls-verify": True,
                                                                              "certificate-authority-data": "Zm9v"})]})
    with pytest.raises(KubeconfigError, match="insecure-skip-tls-verify and a certificate authority"):
        load(str(a), None)


def test_socks_proxy_is_refused_in_one_line(tmp_path):
    a = write(tmp_path / "a", {"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c"}}],
                               "clusters": [cluster("c", "https://c:6443", **{"proxy-url": "socks5://p:1080"})]})
    with pytest.raises(KubeconfigError, match="proxy-url scheme 'socks5'"):
        load(str(a), None)


def plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "plugin.py"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    script.chmod(0o755)
    return script


def exec_kubeconfig(tmp_path: Path, script: Path, **exec_extra) -> Path:
    return write(tmp_path / "kubeconfig", {
        "current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c", "user": "sso"}}],
        "clusters": [cluster("c", "https://c:6443")],
        "users": [{"name": "sso", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
                                                    "interactiveMode": "Never", **exec_extra}}}]})


def test_exec_plugin_token_with_env_and_no_stdin(tmp_path):
    script = plugin(tmp_path, "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
                              "assert info['spec']['interactive'] is False\n"
                              "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
                              " 'status': {'token': os.environ['PLUGIN_TOKEN']}}))")
    path = exec_kubeconfig(tmp_path, script, env=[{"name": "PLUGIN_TOKEN", "value": "from-plugin"}])
    assert load(str(path), None).configuration.api_key["authorization"] == "Bearer from-plugin"


def test_exec_plugin_failure_is_a_credentials_error_with_its_message(tmp_path):
    script = plugin(tmp_path, "sys.stderr.write('error: token expired, run oc login\\n'); sys.exit(1)")
    with pytest.raises(CredentialsError, match="exit code 1: error: token expired, run oc login"):
        load(str(exec_kubeconfig(tmp_path, script)), None)


def test_exec_plugin_missing_shows_the_install_hint(tmp_path):
    path = exec_kubeconfig(tmp_path, tmp_path / "no-such-plugin", installHint="install it with: dnf install sso-helper")
    with pytest.raises(CredentialsError, match="not found: install it with: dnf install sso-helper"):
        load(str(path), None)


def test_exec_plugin_always_interactive_needs_a_terminal(tmp_path):
    script = plugin(tmp_path, "print('{}')")
    with pytest.raises(CredentialsError, match="needs a terminal"):
        load(str(exec_kubeconfig(tmp_path, script, interactiveMode="Always")), None)


def test_exec_plugin_v1_without_interactive_mode_is_refused(tmp_path):
    script = plugin(tmp_path, "print('{}')")
    path = exec_kubeconfig(tmp_path, script)
    doc = yaml.safe_load(path.read_text())
    del doc["users"][0]["user"]["exec"]["interactiveMode"]
    write(path, doc)
    with pytest.raises(CredentialsError, match="interactiveMode must be set"):
        load(str(path), None)


def test_kubeconfig_env_whose_files_are_all_missing_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(KubeconfigError, match="none of its files exist"):
        load(None, None)


def test_a_malformed_file_of_several_is_named(tmp_path, monkeypatch):
    good = write(tmp_path / "good", {"current-context": "x", "clusters": [cluster("c", "https://c:6443")],
                                     "contexts": [{"name": "x", "context": {"cluster": "c"}}]})
    bad = tmp_path / "bad"
    bad.write_text("clusters: [ {name: lab, cluster: {server: \n  - oops\n")
    monkeypatch.setenv("KUBECONFIG", f"{good}:{bad}")
    with pytest.raises(KubeconfigError, match=f"kubeconfig {bad}: cannot be read"):
        load(None, None)
