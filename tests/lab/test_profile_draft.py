"""Issue 15, items 2-4 on the twin: the profile drafted from the healthy twin, with the reason a
person would add, equals profiles/spoke-dc-v6.yaml field by field; the suite passes with it; it is
never written over an existing file without --force; profile-diff names each enrolment fault.

Edges come from the lab's real Prometheus (LAB_PROMETHEUS_URL), as they would from Thanos.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml
from tenacity import retry_if_result

from lab import faults
from ossm_conformance import exitcodes
from ossm_conformance.profile import Profile, load_profile
from lab.suite_runner import REPO, run_suite
from lab.wait import polling

pytestmark = pytest.mark.lab
SHIPPED = REPO / "profiles" / "spoke-dc-v6.yaml"
WINDOW = "5"   # the lab's counters tick every second and Prometheus scrapes every second


def draft(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ossm_conformance.draft", "--kubeconfig", str(lab.kubeconfig), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def prometheus(lab) -> list[str]:
    return ["--prometheus-url", lab.env["LAB_PROMETHEUS_URL"], "--window", WINDOW]


def field_differences(a, b, where: str = "") -> list[str]:
    """Every field that differs, by path. Tenants and operators are matched by namespace / package
    (their order is the drafter's, not meaningful); edges are compared as sets."""
    if is_dataclass(a) and is_dataclass(b):
        return [line for f in fields(a) if f.name != "source"
                for line in field_differences(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}".lstrip("."))]
    if isinstance(a, tuple) and isinstance(b, tuple) and any(is_dataclass(x) for x in a + b):
        if _key(next(iter(a + b))) is None:  # edges
            return ([f"{where}: drafted only {e}" for e in set(a) - set(b)]
                    + [f"{where}: shipped only {e}" for e in set(b) - set(a)])
        mine, theirs = {_key(x): x for x in a}, {_key(x): x for x in b}
        out = [f"{where}[{k}]: drafted only" for k in sorted(mine.keys() - theirs.keys())]
        out += [f"{where}[{k}]: shipped only" for k in sorted(theirs.keys() - mine.keys())]
        for k in sorted(mine.keys() & theirs.keys()):
            out += field_differences(mine[k], theirs[k], f"{where}[{k}]")
        return out
    return [] if a == b else [f"{where}: drafted {a!r}, shipped {b!r}"]


def _edge_id(tenant: str, edge: dict) -> str:
    dest_ns = edge.get("destination_namespace") or tenant
    return f"{tenant}:{edge['source']}->{edge['destination']}" + (f".{dest_ns}" if dest_ns != tenant else "")


def _key(item) -> str | None:
    return next((getattr(item, k) for k in ("namespace", "package") if hasattr(item, k)), None)


# Encrypted traffic the twin carries (lab/twin_traffic.yaml) that the shipped profile does not promise:
# the draft proposes it (CONFIRM), a person decides. Anything else extra shows in the comparison.
NOT_PROMISED = {"ossm3-demo:demo-client->web.apps-team-x":
                "the demo's cross-namespace call through apps-team-x's waypoint: seen, not in the runbook"}


def with_reasons_a_person_adds(path: Path, shipped: Profile) -> None:
    """What the draft cannot know, written in as a person would: the excluded tenants with their
    reasons (the draft lists each as a commented suggestion), the knowingly ignored namespaces, and
    which of the observed edges the profile promises (NOT_PROMISED are struck out)."""
    text = path.read_text()
    doc = yaml.safe_load(text)
    for t in doc["tenants"]:
        kept = [e for e in t.get("edges") or [] if _edge_id(t["namespace"], e) not in NOT_PROMISED]
        if t.get("edges"):
            t["edges"] = kept
        if "edges" in t and not kept:
            del t["edges"]
    for t in shipped.tenants:
        if t.mode == "excluded":
            assert f"# - namespace: {t.namespace}" in text, f"{t.namespace} is not suggested in the draft"
            doc["tenants"].append({"namespace": t.namespace, "mode": "excluded", "reason": t.reason})
    if shipped.ignored_namespaces:
        doc["ignored_namespaces"] = list(shipped.ignored_namespaces)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def drafted(lab, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("draft") / "spoke-dc-v6.yaml"
    run = draft(lab, "-o", str(path), *prometheus(lab))
    assert run.returncode == exitcodes.CONFORMANT, run.stderr
    print(run.stderr)
    return path


def test_the_draft_of_the_healthy_twin_equals_the_shipped_profile(drafted, tmp_path):
    text = drafted.read_text()
    assert load_profile(drafted)  # the draft as written validates against the schema
    assert "the cluster cannot tell" in text and "CONFIRM" in text
    edited = tmp_path / "spoke-dc-v6.yaml"
    edited.write_text(text)
    shipped = load_profile(SHIPPED)
    with_reasons_a_person_adds(edited, shipped)
    assert field_differences(load_profile(edited), shipped) == []


def test_the_suite_passes_with_the_draft(lab, drafted, tmp_path):
    edited = tmp_path / "spoke-dc-v6.yaml"
    edited.write_text(drafted.read_text())
    with_reasons_a_person_adds(edited, load_profile(SHIPPED))
    run = run_suite(lab.kubeconfig, tmp_path, "--profile", str(edited), "--mtls-source", "prometheus",
                    "--prometheus-url", lab.env["LAB_PROMETHEUS_URL"], "--mtls-window", WINDOW, "--settle-timeout", "10")
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-3000:]
    assert not run.with_outcome("failed") and not run.with_outcome("error")
    assert any("test_edge_traffic_is_mutual_tls" in t for t in run.with_outcome("passed"))


def test_an_existing_file_is_never_overwritten_without_force(lab, drafted):
    before = drafted.read_text()
    run = draft(lab, "-o", str(drafted), "--no-edges")
    assert run.returncode == exitcodes.BAD_INVOCATION and "pass --force" in run.stderr
    assert drafted.read_text() == before


def test_on_the_healthy_twin_the_only_difference_is_the_traffic_the_profile_does_not_promise(lab):
    run = draft(lab, "--diff", str(SHIPPED), *prometheus(lab))
    assert [line.split(": ", 1)[0] for line in run.stdout.splitlines()] == [f"edge {e}" for e in NOT_PROMISED], run.stdout
    assert run.returncode == exitcodes.NON_CONFORMANT
    without_edges = draft(lab, "--diff", str(SHIPPED), "--no-edges")
    assert without_edges.returncode == exitcodes.CONFORMANT and without_edges.stdout == "", without_edges.stdout


# What profile-diff must say for each lab fault that changes enrolment, namespace- or pod-level
# (the lab has no fault that changes a version: the unit tests cover versions and operators).
FAULT_DIFFERENCES = {
    "namespace-unlabelled": ["tenant bank-employees-jboss-chat: profile ambient, cluster not enrolled"],
    "mixed-mode-namespace": ["tenant ossm3-demo: profile ambient, cluster ambient, also sidecar-labelled",
                             "tenant ossm3-demo: workload demo-legacy runs an istio-proxy sidecar in an ambient namespace"],
    "waypoint-missing-for-l7-policy": ["tenant apps-team-x: profile ambient+waypoint, cluster ambient"],
    "unknown-ambient-namespace": ["tenant team-sandbox-ambient: in the cluster (ambient), not in the profile"],
    "excluded-tenant-pod-enrolled": ["namespace bank-payment (profile excluded): workload payment-api enrolled by its "
                                     "pod label istio.io/dataplane-mode=ambient"],
    "pod-opted-out": ["tenant ossm3-demo: workload demo-client opts out (istio.io/dataplane-mode=none), "
                      "not in the profile's opt_outs"],
    "native-sidecar-in-ambient-tenant": ["tenant ossm3-demo: workload demo-batch runs an istio-proxy sidecar in an "
                                         "ambient namespace"],
}


@pytest.mark.parametrize("fault", FAULT_DIFFERENCES)
def test_profile_diff_names_the_change_of_each_enrolment_fault(lab, twin, fault):
    faults.apply(fault, lab.kubeconfig)
    run = draft(lab, "--diff", str(SHIPPED), "--no-edges")
    assert run.stdout.splitlines() == FAULT_DIFFERENCES[fault], run.stderr
    assert run.returncode == exitcodes.NON_CONFORMANT


def test_profile_diff_sees_edges_that_stopped(lab, twin):
    faults.apply("ztunnel-rbac-missing", lab.kubeconfig)
    stopped = "edge bank-employees-jboss-chat:bff->chat-backend: in the profile, not seen as mutual_tls"
    # Prometheus' increase() still covers traffic from before the fault until one window has passed.
    retrying = polling(4 * float(WINDOW), every=1, retry=retry_if_result(lambda r: stopped not in r.stdout))
    run = retrying(lambda: draft(lab, "--diff", str(SHIPPED), *prometheus(lab)))
    assert run.returncode == exitcodes.NON_CONFORMANT and stopped in run.stdout, run.stdout + run.stderr
