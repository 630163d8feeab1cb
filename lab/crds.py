"""Installs the real CRDs (../shared/crds) so that the twin is validated by the real schemas.

They are created, not client-side applied: the CSV and Istio CRDs are 700-800 KB and
last-applied-configuration annotations are capped at 256 KiB.
"""

from __future__ import annotations

from pathlib import Path

import json

import yaml

from lab import go_module_crds, ossm_versions
from lab.kubeapi import Api, ApiException
from lab.paths import crds_dir
from lab.wait import polling

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Names and metadata only: the full list is megabytes (the CSV and Istio CRDs are 700-800 KB each).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
ESTABLISH_WAIT_S = 60

WHERE_TO_GET = (
    "the CRDs are not at {dir}: set OSSM_CRDS_DIR, or fetch the same files from the pinned projects "
    "(sail-operator tag 1.28.3 chart/crds, operator-framework/api v0.45.0 crds, gateway-api v1.3.0 "
    "config/crd/standard, prometheus-operator v0.93.0 example/prometheus-operator-crd, openshift/api "
    "config/v1 zz_generated.crd-manifests) as ../shared/crds/README.md describes"
)


class CrdsMissing(RuntimeError):
    pass


def load(directory: Path | None = None) -> list[dict]:
    """The shared CRDs (the sail-operator's with OSSM 3.3's version enum) and the Go module ones."""
    directory = directory or crds_dir()
    files = sorted(directory.glob("*/*.yaml")) if directory.is_dir() else []
    crds = [doc for f in files for doc in yaml.safe_load_all(f.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"]
    if not crds:
        raise CrdsMissing(WHERE_TO_GET.format(dir=directory))
    try:
        crds += go_module_crds.load()
    except go_module_crds.ModuleCrdUnavailable as exc:
        raise CrdsMissing(f"{exc} (needed for the twin's network.operator.openshift.io/cluster)") from None
    return ossm_versions.as_ossm_ships(crds)


def install(api: Api, crds: list[dict] | None = None) -> list[str]:
    """Creates every CRD (an existing one is left alone) and waits until all are Established."""
    crds = crds if crds is not None else load()
    for crd in crds:
        try:
            api.request("POST", CRD_PATH, crd)
        except ApiException as e:
            if e.status != 409:
                raise
    names = {c["metadata"]["name"] for c in crds}
    for attempt in polling(ESTABLISH_WAIT_S):
        with attempt:
            pending = names - established(api)
            if pending:
                raise TimeoutError(f"CRDs not Established after {ESTABLISH_WAIT_S} s: {sorted(pending)}")
    return sorted(names)


def established(api: Api) -> set[str]:
    return {c["metadata"]["name"] for c in api.get(CRD_PATH).get("items", [])
            if any(cond["type"] == "Established" and cond["status"] == "True"
                   for cond in c.get("status", {}).get("conditions", []))}


def save_names(path: Path, names: list[str]) -> None:
    path.write_text(json.dumps(sorted(names)) + "\n")


def restore_missing(api: Api, names_file: Path) -> list[str]:
    """Recreates the twin's CRDs a person or a fault deleted (their objects went with them; reset
    recreates those next). A CRD still being deleted is waited for: the API server's
    customresourcecleanup finalizer removes its objects first, then the CRD."""
    try:
        wanted = set(json.loads(names_file.read_text()))
    except (OSError, ValueError):
        return []  # a lab from before this file existed: nothing recorded to restore
    live = {m["metadata"]["name"]: m for m in api.request("GET", CRD_PATH, accept=METADATA_ONLY).get("items", [])}
    missing = {n for n in wanted if n not in live or live[n]["metadata"].get("deletionTimestamp")}
    if not missing:
        return []
    for attempt in polling(ESTABLISH_WAIT_S):
        with attempt:
            going = [n for n in missing if api.get_or_none(f"{CRD_PATH}/{n}") is not None]
            if going:
                raise TimeoutError(f"CRDs still being deleted after {ESTABLISH_WAIT_S} s: {sorted(going)}")
    return install(api, [c for c in load() if c["metadata"]["name"] in missing])
