"""Bad input ends with one clear line and a documented exit code (exitcodes.py), never a traceback:
each case runs the suite as a user does (a subprocess) against the lab or a deliberately broken
copy of its kubeconfig / profile."""

from __future__ import annotations

import base64
import re
import socket
from pathlib import Path

import pytest
import yaml

from lab.certs import Authority
from ossm_conformance import exitcodes
from lab.suite_runner import REPO, assert_one_clear_line, run_suite

pytestmark = pytest.mark.lab
PROFILE = REPO / "profiles" / "spoke-dc-v6.yaml"
MISSING_TENANT = "team-ghost-ambient"
# No probe pods or Prometheus unless a case needs them: bad input must be caught before either.
FAST = ["--settle-timeout", "0", "-m", "not mtls"]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig_with(lab, tmp_path: Path, *, server: str | None = None, user: dict | None = None,
                    ca_pem: bytes | None = None) -> Path:
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    if server:
        cluster["server"] = server
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if user is not None:
        doc["users"][0]["user"] = user
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def profile_with(tmp_path: Path, edit) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(edit(PROFILE.read_text()))
    return path


def test_missing_kubeconfig_file(tmp_path):
    run = run_suite(tmp_path / "absent.kubeconfig", tmp_path, *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, r"absent\.kubeconfig: no such file")


def test_malformed_kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [ {name: lab, cluster: {server: \n  - oops\n")
    run = run_suite(path, tmp_path, *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, r"kubeconfig .*kubeconfig")


def test_unknown_context(lab, tmp_path):
    run = run_suite(lab.kubeconfig, tmp_path, "--context", "no-such-context", *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, "no-such-context", r"contexts: spoke-dc-v6-lab\)")


def test_invalid_token_is_401(lab, tmp_path):
    path = kubeconfig_with(lab, tmp_path, user={"token": "bogus-expired-token"})
    run = run_suite(path, tmp_path, *FAST)
    line = assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, "401 Unauthorized")
    assert "bogus-expired-token" not in run.output and "bogus" not in line


def test_server_unreachable(lab, tmp_path):
    path = kubeconfig_with(lab, tmp_path, server=f"https://127.0.0.1:{closed_port()}")
    run = run_suite(path, tmp_path, *FAST, timeout=120)
    assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, "could not reach the cluster", "(?i)refused")


def test_tls_verification_failure(lab, tmp_path):
    from cryptography.hazmat.primitives import serialization

    other_ca = Authority.create("some-other-ca").cert.public_bytes(serialization.Encoding.PEM)
    path = kubeconfig_with(lab, tmp_path, ca_pem=other_ca)
    run = run_suite(path, tmp_path, *FAST)
    assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, "TLS verification failed", "CERTIFICATE_VERIFY_FAILED")


def test_profile_yaml_syntax_error_names_the_line(lab, tmp_path):
    profile = profile_with(tmp_path, lambda text: text.replace("tenants:", "tenants: [unclosed", 1))
    run = run_suite(lab.kubeconfig, tmp_path, "--profile", str(profile), *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, r"line \d+", "YAML syntax error")


def test_profile_schema_error_names_the_field(lab, tmp_path):
    profile = profile_with(tmp_path, lambda text: text.replace("mode: ambient\n", "mode: ambiant\n", 1))
    run = run_suite(lab.kubeconfig, tmp_path, "--profile", str(profile), *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, r"field 'tenants\[0\]\.mode'|field '.*mode'", "ambiant")


def test_profiled_namespace_that_does_not_exist_fails_naming_it(lab, tmp_path):
    extra = f"tenants:\n  - namespace: {MISSING_TENANT}\n    mode: ambient\n"
    profile = profile_with(tmp_path, lambda text: text.replace("tenants:\n", extra, 1))
    run = run_suite(lab.kubeconfig, tmp_path, "--profile", str(profile), *FAST)
    assert run.exit_code == exitcodes.NON_CONFORMANT, run.output[-3000:]
    failed = run.with_outcome("failed")
    assert failed and all(MISSING_TENANT in t for t in failed), failed
    assert all(MISSING_TENANT in run.messages[t] for t in failed)
    assert not run.with_outcome("error") and "Traceback" not in run.output


def test_unreachable_prometheus_url(lab, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    run = run_suite(lab.kubeconfig, tmp_path, "--mtls-source", "prometheus", "--prometheus-url", url, "--settle-timeout", "0")
    assert_one_clear_line(run, exitcodes.COULD_NOT_CHECK, f"could not query --prometheus-url {re.escape(url)}")
    assert "test_edge_traffic_is_mutual_tls" not in run.output  # no per-edge errors


def test_target_version_that_is_not_a_version(lab, tmp_path):
    run = run_suite(lab.kubeconfig, tmp_path, "--target-version", "latest-please",
                    "--gate-report", str(tmp_path / "gate.json"), *FAST)
    assert_one_clear_line(run, exitcodes.BAD_INVOCATION, "--target-version 'latest-please' is not a version")
