"""CRDs the shared folder does not carry, taken from their project's tagged Go module through the
Go module proxy (the way the lab gets kube-apiserver), cached under the ignored .lab/ folder.

Only the Cluster Network Operator's `networks.operator.openshift.io` today: the twin carries
network.operator.openshift.io/cluster (OVN-Kubernetes local gateway mode, a prerequisite of
ambient mode on OpenShift). The CRD is read from github.com/openshift/api at a pinned
pseudo-version, never copied into the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from lab.paths import REPO

CACHE = REPO / ".lab" / "crds-go"
# (module, pinned version, path of the CRD inside the module). openshift/api has no tags for its
# Go module: a pseudo-version of its master branch, as operators' go.mod files pin it.
MODULE_CRDS = (
    ("github.com/openshift/api", "v0.0.0-20251015095338-264e80a2b6e7",
     "operator/v1/zz_generated.crd-manifests/0000_70_network_01_networks.crd.yaml"),
)
DOWNLOAD_TIMEOUT_S = 300


class ModuleCrdUnavailable(RuntimeError):
    pass


def _cached(module: str, version: str, path: str) -> Path:
    return CACHE / module.replace("/", "_") / version / Path(path).name


def _download(module: str, version: str, path: str) -> Path:
    go = shutil.which("go")
    if go is None:
        raise ModuleCrdUnavailable(f"the go command is required to fetch {module}@{version} from the Go module proxy")
    try:
        proc = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"], capture_output=True, text=True,
                              timeout=DOWNLOAD_TIMEOUT_S, cwd=CACHE)
    except subprocess.TimeoutExpired as exc:
        raise ModuleCrdUnavailable(f"go mod download {module}@{version}: no answer in {DOWNLOAD_TIMEOUT_S} s") from exc
    info = json.loads(proc.stdout or "{}") if proc.stdout.strip().startswith("{") else {}
    if proc.returncode != 0 or not info.get("Dir"):
        reason = info.get("Error") or proc.stderr.strip().splitlines()[-1:] or ["no module directory"]
        raise ModuleCrdUnavailable(f"go mod download {module}@{version}: {reason if isinstance(reason, str) else reason[0]}")
    source = Path(info["Dir"]) / path
    if not source.is_file():
        raise ModuleCrdUnavailable(f"{module}@{version} has no {path}")
    return source


def load() -> list[dict]:
    """The module CRDs, downloaded once and then read from the cache."""
    crds = []
    for module, version, path in MODULE_CRDS:
        cached = _cached(module, version, path)
        if not cached.is_file():
            CACHE.mkdir(parents=True, exist_ok=True)
            source = _download(module, version, path)
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, cached)
        crds += [d for d in yaml.safe_load_all(cached.read_text()) if d and d.get("kind") == "CustomResourceDefinition"]
    return crds
