"""deploy/rbac.yaml grants reads on exactly what the snapshot plan reads, and writes only probe pods.

The live proof (the suite passing under this account, the authorizer refusing writes) is
tests/lab/test_deploy_rbac.py; this keeps the manifest and checks/plan.py from drifting apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ossm_conformance.kube.kinds import KINDS
from ossm_conformance.checks.plan import snapshot_plan
from ossm_conformance.mtls.options import DEFAULT_PROBE_NAMESPACE
from ossm_conformance.profile import load_profile

REPO = Path(__file__).resolve().parents[2]
DOCS = [d for d in yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()) if d]
PLAN = snapshot_plan(load_profile(REPO / "profiles" / "spoke-dc-v6.yaml"))
SA = {"kind": "ServiceAccount", "name": "ossm-conformance", "namespace": "ossm-conformance"}
READ = {"get", "list"}


def _roles() -> dict[tuple[str, str | None], list[dict]]:
    """(name, namespace of a Role / None for a ClusterRole) -> rules."""
    return {(d["metadata"]["name"], d["metadata"].get("namespace") if d["kind"] == "Role" else None): d["rules"]
            for d in DOCS if d["kind"] in ("ClusterRole", "Role")}


def grants() -> list[tuple[str | None, dict]]:
    """(namespace or None for cluster-wide, rule) for every rule bound to the ServiceAccount."""
    roles = _roles()
    out = []
    for b in DOCS:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding") or SA not in b["subjects"]:
            continue
        ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        role_ns = ns if b["roleRef"]["kind"] == "Role" else None
        out += [(ns, rule) for rule in roles[(b["roleRef"]["name"], role_ns)]]
    return out


def allowed(verb: str, group: str, resource: str, namespace: str | None = None, name: str | None = None) -> bool:
    return any((ns is None or ns == namespace) and group in r["apiGroups"] and resource in r["resources"]
               and verb in r["verbs"] and (not r.get("resourceNames") or name in r["resourceNames"])
               for ns, r in grants())


def test_every_read_of_the_plan_is_allowed():
    missing = [read for read in PLAN
               if not all(allowed(v, KINDS[read.kind].group, read.kind, read.namespace, read.name)
                          for v in (("get",) if read.name else READ))]
    assert not missing, f"deploy/rbac.yaml does not allow: {[r.describe() for r in missing]}"


def test_nothing_beyond_the_plan_is_readable():
    planned = {(KINDS[r.kind].group, r.kind) for r in PLAN}
    granted = {(g, res) for _, r in grants() if READ & set(r["verbs"]) for g in r["apiGroups"] for res in r["resources"]}
    probes = {("", "pods"), ("", "pods/log")}   # the probe pods' own reads, in their namespace
    assert granted - planned - probes == set()


def test_writes_are_probe_pods_and_access_reviews_only():
    writes = {(ns, g, res, v) for ns, r in grants() for v in set(r["verbs"]) - READ - {"watch"}
              for g in r["apiGroups"] for res in r["resources"]}
    probe_pods = {(DEFAULT_PROBE_NAMESPACE, "", "pods", v) for v in ("create", "delete", "deletecollection")}
    assert writes == probe_pods | {(None, "authorization.k8s.io", "subjectaccessreviews", "create")}


def test_the_probe_namespace_is_created_by_the_manifests_not_the_runner():
    assert any(d["kind"] == "Namespace" and d["metadata"]["name"] == DEFAULT_PROBE_NAMESPACE for d in DOCS)
    assert not allowed("create", "", "namespaces")


def test_cronjob_memory_covers_the_measured_peak_with_margin():
    """deploy/cronjob.yaml's resources are set from make bench's figure (docs/performance.md: the
    whole process tree, suite and snapshot reader, at 20,000 pods): the request must cover it,
    the limit must leave at least 2x. A bench that measures more fails this until they are raised."""
    docs = [d for d in yaml.safe_load_all((REPO / "deploy" / "cronjob.yaml").read_text()) if d and d.get("kind") == "CronJob"]
    container = docs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    mib = lambda q: int(q.removesuffix("Mi"))  # noqa: E731
    tree = re.search(r"(\d+) MB the whole process tree", (REPO / "docs" / "performance.md").read_text())
    assert tree, "docs/performance.md gives no whole-tree peak: run make bench"
    measured_peak_mib = int(tree.group(1)) * 1000 * 1000 // (1024 * 1024)
    assert mib(container["resources"]["requests"]["memory"]) >= measured_peak_mib
    assert mib(container["resources"]["limits"]["memory"]) >= 2 * measured_peak_mib
