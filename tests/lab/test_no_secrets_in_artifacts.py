"""No credential of the lab ever reaches a report, a log or the terminal: every artefact of a run
with all reports on (Allure, JUnit, the run history, -v, a DEBUG log file), once as the admin under a lab fault (so
failure messages and attached objects exist) and once as the ServiceAccount token user, is searched
for the admin's client key and certificate, the CA key, the ServiceAccount signing key and the token,
in every form they take (base64 as in a kubeconfig, PEM, PEM body, each PEM line)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from lab import faults
from ossm_conformance import exitcodes
from lab.suite_runner import SuiteRun, run_suite

pytestmark = pytest.mark.lab
FAULT = "ztunnel-rbac-missing"
MIN_LINE = 40   # PEM lines shorter than this (the last one) could match by chance


def forms_of_pem(pem: bytes) -> set[str]:
    text = pem.decode()
    body_lines = [l for l in text.splitlines() if l and not l.startswith("-----")]
    return ({text.strip(), base64.b64encode(pem).decode(), "".join(body_lines)}
            | {l for l in body_lines if len(l) >= MIN_LINE})


def lab_secrets(lab) -> dict[str, set[str]]:
    pki = lab.dir / "pki"
    user = yaml.safe_load(lab.kubeconfig.read_text())["users"][0]["user"]
    return {
        "admin client key": forms_of_pem((pki / "admin.key").read_bytes()) | {user["client-key-data"]},
        "admin client certificate": forms_of_pem((pki / "admin.crt").read_bytes()) | {user["client-certificate-data"]},
        "CA key": forms_of_pem((pki / "ca.key").read_bytes()),
        "ServiceAccount signing key": forms_of_pem((pki / "sa.key").read_bytes()),
    }


def token_forms(kubeconfig: Path) -> set[str]:
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    return {token, token.split(".")[-1], base64.b64encode(token.encode()).decode()}


def run_with_every_report(kubeconfig: Path, out: Path, *extra: str) -> tuple[SuiteRun, list[Path]]:
    out.mkdir(parents=True, exist_ok=True)
    run = run_suite(kubeconfig, out, "-v", "--alluredir", str(out / "allure"), "--clean-alluredir",
                    "--history", str(out / "history.jsonl"), "--log-file", str(out / "suite.log"), "--log-file-level", "DEBUG",
                    "--mtls-window", "3", "--settle-timeout", "2", *extra)
    artefacts = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".xml" for p in artefacts) and (out / "suite.log").exists() and (out / "history.jsonl").exists()
    assert any(p.name.endswith("-attachment.txt") or "attachment" in p.name for p in artefacts), "no Allure attachment written"
    return run, artefacts


def leaks(secrets: dict[str, set[str]], run: SuiteRun, artefacts: list[Path]) -> list[str]:
    texts = {"captured output": run.output} | {str(p): p.read_bytes().decode("utf-8", "replace") for p in artefacts}
    return [f"{what} in {where}" for what, forms in secrets.items() for form in forms
            for where, text in texts.items() if form in text]


def test_admin_run_with_failures_leaks_nothing(lab, twin, tmp_path):
    faults.apply(FAULT, lab.kubeconfig)
    run, artefacts = run_with_every_report(lab.kubeconfig, tmp_path / "admin")
    assert run.exit_code == 1 and run.with_outcome("failed"), run.output[-3000:]
    assert leaks(lab_secrets(lab), run, artefacts) == []


def test_service_account_run_passes_and_leaks_nothing(lab, sa_kubeconfig, tmp_path):
    """deploy/rbac.yaml's ServiceAccount (conftest's `sa_kubeconfig`, a TokenRequest token, no
    impersonation) is all the suite needs: it passes, and the token appears nowhere."""
    run, artefacts = run_with_every_report(sa_kubeconfig, tmp_path / "sa")
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-3000:]
    assert run.with_outcome("passed") and not run.with_outcome("failed") | run.with_outcome("error")
    secrets = lab_secrets(lab) | {"ServiceAccount token": token_forms(sa_kubeconfig)}
    assert leaks(secrets, run, artefacts) == []


def test_the_search_finds_a_planted_secret(lab, tmp_path):
    """The search itself can fail: a key written into an artefact in kubeconfig form is found."""
    secrets = lab_secrets(lab)
    planted = tmp_path / "report.txt"
    planted.write_text("client-key-data: " + yaml.safe_load(lab.kubeconfig.read_text())["users"][0]["user"]["client-key-data"])
    assert leaks(secrets, SuiteRun(0, output=""), [planted]) == [f"admin client key in {planted}"]
