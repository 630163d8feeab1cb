"""Which cluster and credentials to use: kubectl's kubeconfig rules, with the kubernetes client's loader.

kubectl's rules (kubernetes/kubernetes `staging/src/k8s.io/client-go/tools/clientcmd/loader.go`):
`--kubeconfig` names one file, which must exist; else every file in $KUBECONFIG is merged (missing
ones skipped), the first file to define a cluster, user or context by name wins, and so does the
first file that sets current-context; else ~/.kube/config. Relative paths in a file are relative
to that file. A context may use a cluster and user defined in other files.

The kubernetes client (34.x, `kubernetes/config/kube_config.py`) does most of this and is used for
it: `KubeConfigMerger` merges the files (first name wins), `KubeConfigLoader` turns the chosen
context into a Configuration (token / tokenFile, client certificate data or file, CA data or file,
insecure-skip-tls-verify, tls-server-name). Where it is not kubectl, this module fills the gap:
  - current-context: the client lets the *last* file that sets it win; kubectl the first;
  - relative paths: the client resolves a user's certificate files against the *cluster's* file;
  - tokenFile: the client sends the file as is (newline included) and reads it once; client-go trims
    it and re-reads it every minute (rotated projected tokens);
  - proxy-url: the client ignores it (and of the proxy variables prefers HTTP_PROXY even for https);
  - insecure-skip-tls-verify together with a CA: kubectl refuses it, the client silently ignores the CA;
  - exec plugins: see exec_credential.py (the client swallows a failing plugin);
  - an unknown context: the client names the list, not the contexts that exist;
  - $KUBECONFIG is read when this runs, not when the client module was imported
    (`KUBE_CONFIG_DEFAULT_LOCATION` is fixed at import).
Nothing is ever written back to a kubeconfig.
"""

from __future__ import annotations

import base64
import copy
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import kubernetes.client
import urllib3
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from ..redact import redact_text
from . import exec_credential

# Keys holding a file path, per stanza (client-go clientcmd `ResolvePaths`).
_FILE_KEYS = {"clusters": ("certificate-authority",), "users": ("client-certificate", "client-key", "tokenFile")}
TOKEN_FILE_PERIOD = 60.0  # seconds
PROXY_SCHEMES = ("http", "https")  # urllib3's ProxyManager; kubectl also takes socks5


class KubeconfigError(Exception):
    """The kubeconfig or context cannot be used. str() is one line for the user (exit 4)."""


class CredentialsError(KubeconfigError):
    """The credential plugin could not give credentials (e.g. an expired login): could not check (exit 12)."""


@dataclass(frozen=True)
class Loaded:
    configuration: kubernetes.client.Configuration
    context: str
    user: str
    source: str   # the kubeconfig file(s), for the report header


def kubeconfig_paths(option: str | None) -> tuple[list[str], str]:
    """The files to read and where that list came from (for messages)."""
    if option:
        return [os.path.expanduser(option)], "--kubeconfig"
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p], "KUBECONFIG"
    return [str(Path.home() / ".kube" / "config")], "default"


def load(option: str | None, context: str | None) -> Loaded | None:
    """The chosen context as a client Configuration; None when there is no kubeconfig at all
    (the caller may then use the in-cluster ServiceAccount)."""
    paths, origin = kubeconfig_paths(option)
    if origin == "--kubeconfig" and not Path(paths[0]).is_file():
        raise KubeconfigError(f"kubeconfig {paths[0]}: no such file")
    existing = [p for p in paths if Path(p).is_file()]
    if not existing:
        if origin == "KUBECONFIG":
            raise KubeconfigError(f"KUBECONFIG={os.environ['KUBECONFIG']}: none of its files exist")
        return None
    merged = _merge(existing)
    source = os.pathsep.join(existing)
    config = _plain_config(merged)
    names = [c.get("name") for c in config["contexts"]]
    chosen = context or _first_current_context(merged, existing)
    if not chosen:
        raise KubeconfigError(f"kubeconfig {source}: no current-context; pass --context "
                              f"(contexts: {', '.join(names) or 'none'})")
    if chosen not in names:
        raise KubeconfigError(f"kubeconfig {source}: context {chosen!r} not found (contexts: {', '.join(names) or 'none'})")
    ctx = next(c for c in config["contexts"] if c["name"] == chosen).get("context") or {}
    cluster = _named(config["clusters"], ctx.get("cluster"), "cluster", chosen, source)
    user_name = ctx.get("user") or ""
    user = _named(config["users"], user_name, "user", chosen, source) if user_name else {}
    refresh = _credentials_client_go_way(config, user, cluster, user_name, source)
    cfg = kubernetes.client.Configuration()
    try:
        KubeConfigLoader(config_dict=config, active_context=chosen, config_base_path="").load_and_set(cfg)
    except ConfigException as exc:
        raise KubeconfigError(f"kubeconfig {source}: {_first_line(exc)}") from None
    except Exception as exc:  # wrong types, undecodable base64: still one line for the user
        raise KubeconfigError(f"kubeconfig {source}: cannot be read ({type(exc).__name__}: {_first_line(exc)})") from None
    if not cfg.verify_ssl and (cluster.get("certificate-authority") or cluster.get("certificate-authority-data")):
        # kubectl refuses the contradiction instead of silently ignoring the CA.
        raise KubeconfigError(f"kubeconfig {source}: cluster {ctx.get('cluster')!r} sets insecure-skip-tls-verify "
                              "and a certificate authority: kubectl refuses this, remove one")
    if not cfg.verify_ssl:
        # The kubeconfig asked for it, as with kubectl (which says nothing): not a warning per request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    _set_proxy(cfg, cluster, source)
    if refresh is not None:
        cfg.refresh_api_key_hook = refresh
    return Loaded(cfg, chosen, user_name, source)


# -- merging ------------------------------------------------------------------------------------

def _merge(paths: list[str]) -> KubeConfigMerger:
    merger = KubeConfigMerger("")  # no path: files are added one by one so an error names its file
    for path in paths:
        try:
            merger.load_config(path)
        except ConfigException as exc:
            raise KubeconfigError(f"kubeconfig {path}: {_first_line(exc)}") from None
        except Exception as exc:  # malformed YAML, a list where a mapping belongs
            raise KubeconfigError(f"kubeconfig {path}: cannot be read ({type(exc).__name__}: {_first_line(exc)})") from None
    return merger


def _first_current_context(merger: KubeConfigMerger, paths: list[str]) -> str:
    for path in paths:
        value = (merger.config_files.get(path) or {}).get("current-context")
        if value:
            return value
    return ""


def _plain_config(merger: KubeConfigMerger) -> dict:
    """The merged config as plain dicts, each file path made absolute against the file that set it."""
    merged = merger.config.value
    out = {"clusters": [], "contexts": [], "users": []}
    for section in out:
        for node in merged.get(section) or []:
            item = copy.deepcopy(node.value)
            if not isinstance(item, dict) or "name" not in item:
                raise KubeconfigError(f"kubeconfig {node.path}: every entry of {section} needs a name")
            body = item.get(section[:-1]) or {}
            base = Path(node.path).parent
            for key in _FILE_KEYS.get(section, ()):
                if body.get(key) and not os.path.isabs(os.path.expanduser(body[key])):
                    body[key] = str(base / body[key])
            exec_cmd = (body.get("exec") or {}).get("command") if section == "users" else None
            if exec_cmd and os.sep in exec_cmd and not os.path.isabs(exec_cmd):
                body["exec"]["command"] = str(base / exec_cmd)  # client-go: relative to the kubeconfig
            out[section].append(item)
    return out


def _named(items: list[dict], name: str | None, what: str, context: str, source: str) -> dict:
    for item in items:
        if item.get("name") == name:
            return item.get(what) or {}
    raise KubeconfigError(f"kubeconfig {source}: context {context!r} uses {what} {name!r}, which no file defines")


# -- credentials --------------------------------------------------------------------------------

def _credentials_client_go_way(config: dict, user: dict, cluster: dict, user_name: str, source: str):
    """Exec plugins and tokenFile, where the client differs from client-go: the credential is put in
    `config` inline for the client's loader; returns the hook that renews it (or None)."""
    if "exec" in user:
        credential = _run_exec(user, cluster, user_name)
        _use_credential(config, user_name, credential)
        return _exec_refresher(user, cluster, user_name, credential) if credential.expires is not None else None
    if user.get("tokenFile") and not user.get("token"):
        _use_credential(config, user_name, exec_credential.Credential(token=_read_token_file(user["tokenFile"], source)))
        return _token_file_refresher(user["tokenFile"], source)
    return None


def _run_exec(user: dict, cluster: dict, user_name: str) -> exec_credential.Credential:
    try:
        return exec_credential.run(user["exec"], cluster)
    except exec_credential.ExecCredentialError as exc:
        raise CredentialsError(redact_text(f"kubeconfig user {user_name!r}: {exc}")) from None


def _use_credential(config: dict, user_name: str, credential: exec_credential.Credential) -> None:
    """Hand the plugin's answer to the client's loader as if the kubeconfig held it inline."""
    for item in config["users"]:
        if item["name"] == user_name:
            body = {k: v for k, v in (item.get("user") or {}).items() if k != "exec"}
            if credential.token:
                body.pop("tokenFile", None)
                body["token"] = credential.token
            if credential.client_certificate_data:
                body["client-certificate-data"] = base64.b64encode(credential.client_certificate_data.encode()).decode()
                body["client-key-data"] = base64.b64encode(credential.client_key_data.encode()).decode()
            item["user"] = body


def _exec_refresher(user: dict, cluster: dict, user_name: str, credential: exec_credential.Credential):
    """client-go caches the plugin's token until its expirationTimestamp, then runs the plugin again."""
    current = [credential]

    def refresh(configuration: kubernetes.client.Configuration) -> None:
        if current[0].expired():
            current[0] = _run_exec(user, cluster, user_name)
            if current[0].token:
                configuration.api_key["authorization"] = f"Bearer {current[0].token}"

    return refresh


def _read_token_file(path: str, source: str) -> str:
    # client-go trims the file (a token written with `echo` ends in a newline); the client sends it as is.
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise KubeconfigError(f"kubeconfig {source}: tokenFile {path}: {exc.strerror or exc}") from None
    if not token:
        raise KubeconfigError(f"kubeconfig {source}: tokenFile {path} is empty")
    return token


def _token_file_refresher(path: str, source: str):
    """client-go re-reads a tokenFile every minute, so a rotated (projected) token is picked up."""
    read_at = [time.monotonic()]

    def refresh(configuration: kubernetes.client.Configuration) -> None:
        if time.monotonic() - read_at[0] >= TOKEN_FILE_PERIOD:
            configuration.api_key["authorization"] = f"Bearer {_read_token_file(path, source)}"
            read_at[0] = time.monotonic()

    return refresh


# -- proxy --------------------------------------------------------------------------------------

def _set_proxy(cfg: kubernetes.client.Configuration, cluster: dict, source: str) -> None:
    """proxy-url wins (and, as in client-go, no NO_PROXY applies to it); else the proxy variables for
    the server's scheme, as Go's ProxyFromEnvironment picks them."""
    url = cluster.get("proxy-url")
    if url:
        scheme = urlparse(url).scheme
        if scheme not in PROXY_SCHEMES:
            raise KubeconfigError(f"kubeconfig {source}: proxy-url scheme {scheme!r} is not supported here "
                                  f"(use {' or '.join(PROXY_SCHEMES)})")
        cfg.proxy, cfg.no_proxy = url, None
        return
    proxies = urllib.request.getproxies()
    cfg.proxy = proxies.get(urlparse(cfg.host).scheme or "https")
    cfg.no_proxy = proxies.get("no")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
