"""Running a kubeconfig's exec credential plugin (`oc login` helpers, OIDC, cloud CLIs) as kubectl does.

Not left to the kubernetes client (34.x, `kubernetes/config/exec_provider.py`) because it differs
from kubectl where it matters to an SRE: it ignores `interactiveMode` (it hands the plugin stdin
whenever stdout is a terminal), never shows `installHint`, and its loader only *logs* a failing
plugin and carries on unauthenticated, so an expired login would surface as a puzzling 403.

kubectl's rules (kubernetes/kubernetes `staging/src/k8s.io/client-go/plugin/pkg/client/auth/exec/exec.go`,
read in source; `interactiveMode` from `tools/clientcmd/api/types.go`, recalled):
  - the plugin runs with our environment plus its `env` entries and KUBERNETES_EXEC_INFO, an
    ExecCredential whose `spec.interactive` says whether it may prompt;
  - interactive only when interactiveMode is not Never and stdin is a terminal; `Always` without
    a terminal is an error; only an interactive plugin gets stdin;
  - the answer must be an ExecCredential of the configured apiVersion with a token, or a client
    certificate *and* key; `expirationTimestamp` says when to run it again (cached until then);
  - a failing plugin is an error, never an anonymous request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
TIMEOUT = 60.0  # seconds: a plugin that waits for a browser login nobody completes must not hang a nightly run


class ExecCredentialError(Exception):
    """The plugin could not give credentials. str() is one line (the plugin's last stderr line included)."""


@dataclass(frozen=True)
class Credential:
    token: str = ""
    client_certificate_data: str = ""   # PEM
    client_key_data: str = ""           # PEM
    expires: datetime | None = None

    def expired(self) -> bool:
        return self.expires is not None and datetime.now(timezone.utc) >= self.expires


def run(exec_config: dict, cluster: dict | None = None, stdin_is_terminal: bool | None = None) -> Credential:
    command = exec_config.get("command")
    api_version = exec_config.get("apiVersion")
    if not command or not api_version:
        raise ExecCredentialError("exec plugin: `command` and `apiVersion` are required")
    interactive = _interactive(exec_config, api_version,
                               sys.stdin.isatty() if stdin_is_terminal is None else stdin_is_terminal)
    if shutil.which(command) is None:
        hint = exec_config.get("installHint")
        raise ExecCredentialError(f"exec plugin {command!r} not found" + (f": {' '.join(hint.split())}" if hint else ""))
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": interactive}}
    if exec_config.get("provideClusterInfo") and cluster:
        info["spec"]["cluster"] = _cluster_info(cluster)
    env = {**os.environ, **{e["name"]: str(e.get("value", "")) for e in exec_config.get("env") or []},
           "KUBERNETES_EXEC_INFO": json.dumps(info)}
    try:
        proc = subprocess.run([command, *(exec_config.get("args") or [])], env=env, timeout=TIMEOUT,
                              stdin=None if interactive else subprocess.DEVNULL, stdout=subprocess.PIPE,
                              # An interactive plugin prompts on stderr: the user must see it.
                              stderr=None if interactive else subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired:
        raise ExecCredentialError(f"exec plugin {command!r} did not answer within {TIMEOUT:g}s") from None
    except OSError as exc:
        raise ExecCredentialError(f"exec plugin {command!r} could not run: {exc}") from None
    if proc.returncode != 0:
        last = _last_line(proc.stderr or "")
        raise ExecCredentialError(f"exec plugin {command!r} failed with exit code {proc.returncode}"
                                  + (f": {last}" if last else ""))
    return _parse(command, api_version, proc.stdout)


def _interactive(exec_config: dict, api_version: str, stdin_is_terminal: bool) -> bool:
    mode = exec_config.get("interactiveMode")
    if mode is None:
        if api_version.endswith("/v1"):
            raise ExecCredentialError("exec plugin: interactiveMode must be set for client.authentication.k8s.io/v1 "
                                      "(Never for unattended runs)")
        mode = "IfAvailable"  # the v1beta1 default
    if mode not in INTERACTIVE_MODES:
        raise ExecCredentialError(f"exec plugin: interactiveMode {mode!r} is not one of {', '.join(INTERACTIVE_MODES)}")
    if mode == "Always" and not stdin_is_terminal:
        raise ExecCredentialError("exec plugin needs a terminal (interactiveMode Always) but standard input is not one: "
                                  "log in first, or run from a terminal")
    return mode != "Never" and stdin_is_terminal


def _parse(command: str, api_version: str, stdout: str) -> Credential:
    try:
        answer = json.loads(stdout)
    except ValueError as exc:
        raise ExecCredentialError(f"exec plugin {command!r} printed no ExecCredential JSON ({exc})") from None
    if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
        raise ExecCredentialError(f"exec plugin {command!r} printed something other than an ExecCredential")
    if answer.get("apiVersion") != api_version:
        raise ExecCredentialError(f"exec plugin {command!r} answered {answer.get('apiVersion')}, configured for {api_version}")
    status = answer.get("status") or {}
    token, cert, key = status.get("token") or "", status.get("clientCertificateData") or "", status.get("clientKeyData") or ""
    if not token and not (cert or key):
        raise ExecCredentialError(f"exec plugin {command!r} returned neither a token nor a client certificate")
    if bool(cert) != bool(key):
        raise ExecCredentialError(f"exec plugin {command!r} returned only a certificate or a key, not both")
    return Credential(token, cert, key, _timestamp(status.get("expirationTimestamp")))


def _timestamp(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ExecCredentialError(f"exec plugin: expirationTimestamp {value!r} is not an RFC 3339 time") from None


def _cluster_info(cluster: dict) -> dict:
    """What client-go passes with provideClusterInfo (ExecCredential spec.cluster)."""
    info = {k2: cluster[k1] for k1, k2 in (("server", "server"), ("tls-server-name", "tls-server-name"),
                                            ("insecure-skip-tls-verify", "insecure-skip-tls-verify"),
                                            ("certificate-authority-data", "certificate-authority-data"),
                                            ("proxy-url", "proxy-url")) if k1 in cluster}
    for ext in cluster.get("extensions") or []:
        if ext.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = ext.get("extension")
    return info


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last if len(last) < 300 else last[:297] + "..."
