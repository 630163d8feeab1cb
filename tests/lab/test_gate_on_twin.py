"""`make preupgrade` end to end on the twin: go for the next patch when an operator update may bring it,
no-go with a named reason otherwise."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ossm_conformance import exitcodes
from ossm_conformance.facts import running_istio_version
from ossm_conformance.kube.client import Api, build_api_client
from ossm_conformance.kube.snapshot import Read, fetch
from ossm_conformance.profile import load_profile
from ossm_conformance.versions import parse_version

from lab import faults, seed
from lab.kubeapi import Api as Api_lab
from lab.suite_runner import REPO, run_suite

pytestmark = pytest.mark.lab
PROFILE = load_profile(REPO / "profiles" / "spoke-dc-v6.yaml")


@pytest.fixture(scope="module")
def running(lab):
    """The twin's running version, read the way the gate reads it (IstioRevision.spec.version)."""
    client, _ = build_api_client(str(lab.kubeconfig), None)
    view = fetch(Api(client), [Read("istios"), Read("istiorevisions")])
    version = parse_version(running_istio_version(view, PROFILE))
    assert version is not None, "the twin has no running Istio version"
    return version


def gate(kubeconfig: Path, tmp_path: Path, target: str, *selection: str):
    """The whole conformance set with the gate, as `make preupgrade` runs it (live mTLS included:
    a go vouches for all of it); `selection` narrows it the way a hurried person might."""
    report = tmp_path / "gate.json"
    run = run_suite(kubeconfig, tmp_path, "--target-version", target, "--settle-timeout", "2", "--mtls-window", "3",
                    "--gate-report", str(report), *selection)
    return run, (json.loads(report.read_text()) if report.exists() else None)


def test_next_patch_no_operator_offers_is_no_go_on_the_healthy_twin(lab, running, tmp_path):
    """The twin runs OSSM 3.3.7, whose newest 1.28 release is the running v1.28.10 (v1.28-latest):
    v1.28.11 is in no installed or pending operator, and the API server would refuse it."""
    target = f"v{running.major}.{running.minor}.{running.patch + 1}"
    run, verdict = gate(lab.kubeconfig, tmp_path, target)
    assert run.exit_code == exitcodes.GATE_NO_GO, run.output[-3000:]
    assert (verdict["target"], verdict["running"]) == (target, str(running))
    assert len(verdict["reasons"]) == 1, verdict["reasons"]
    assert f"not offered by servicemeshoperator3.v3.3.7 (newest 1.28 release it offers: {running})" in verdict["reasons"][0]
    assert run.with_outcome("failed") == {"test_upgrade_gate.py::test_target_is_offered_by_the_operator"}


def _mesh_operator_update_pending(kubeconfig) -> str:
    """What OLM shows once a newer servicemeshoperator3 of the same OSSM minor is in the catalog and
    the Subscription is pinned with Manual approval: a plan awaiting approval (phase
    RequiresApproval), the Subscription UpgradePending with InstallPlanPending=RequiresApproval
    (operator-framework/operator-lifecycle-manager pkg/controller/operators/catalog/subscription/)."""
    ns, sub_name, newer = "openshift-operators", "servicemeshoperator3", "servicemeshoperator3.v3.3.8"
    lab_api = Api_lab(kubeconfig)
    lab_api.patch(faults._KIND["Subscription"].path(sub_name, ns), {"spec": {"installPlanApproval": "Manual"}})
    plan = lab_api.create({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
                           "metadata": {"name": "install-sm3x8", "namespace": ns},
                           "spec": {"approval": "Manual", "approved": False, "clusterServiceVersionNames": [newer],
                                    "generation": 2}})
    plan["kind"], plan["apiVersion"] = "InstallPlan", "operators.coreos.com/v1alpha1"
    seed.write_status(lab_api, plan, {"phase": "RequiresApproval", "catalogSources": []})
    sub = faults._get(lab_api, "Subscription", sub_name, ns)
    status = copy.deepcopy(sub["status"])
    ref = {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "name": "install-sm3x8"}
    status.update(state="UpgradePending", currentCSV=newer, installPlanRef={**ref, "namespace": ns},
                  installplan={**ref, "uuid": plan["metadata"]["uid"]})
    faults._set_condition(status["conditions"], "InstallPlanPending", "True", "RequiresApproval")
    seed.write_status(lab_api, sub, status)
    return newer


def test_a_go_needs_the_whole_set(twin, lab, running, tmp_path):
    """The red team's false green: with a fault live in istio-system, a run that deselects that area
    (or the live mTLS part) must not vouch for the upgrade."""
    _mesh_operator_update_pending(lab.kubeconfig)  # `twin` restores the healthy twin afterwards
    faults.apply("istiod-networkpolicy-blocks-xds", lab.kubeconfig)
    run, verdict = gate(lab.kubeconfig, tmp_path, f"v{running.major}.{running.minor}.{running.patch + 1}",
                        "-m", "not mtls and not istio_system")
    assert run.exit_code == exitcodes.GATE_NO_GO, run.output[-3000:]
    assert verdict["verdict"] == "no-go" and len(verdict["reasons"]) == 1, verdict["reasons"]
    assert verdict["reasons"][0].startswith("the run left out ") and "test_istiod_xds_not_blocked" in verdict["reasons"][0]


def test_next_patch_a_pending_operator_update_may_bring_is_go(twin, lab, running, tmp_path):
    newer = _mesh_operator_update_pending(lab.kubeconfig)  # `twin` restores the healthy twin afterwards
    target = f"v{running.major}.{running.minor}.{running.patch + 1}"
    run, verdict = gate(lab.kubeconfig, tmp_path, target)
    assert run.exit_code == exitcodes.CONFORMANT, run.output[-3000:]
    assert verdict["verdict"] == "go" and verdict["reasons"] == []
    assert any(n.startswith(f"{target} is not offered by the installed servicemeshoperator3.v3.3.7") and
               f"InstallPlan openshift-operators/install-sm3x8 ({newer}, approval Manual)" in n and
               f"confirm {target} in {newer}'s release notes" in n for n in verdict["notes"]), verdict["notes"]
    assert not any("pin spec.version" in n for n in verdict["notes"])
    assert any("updateStrategy InPlace" in n for n in verdict["notes"])
    assert "pre-upgrade gate: GO" in run.output
    assert run.with_outcome("passed") >= {
        "test_upgrade_gate.py::test_target_is_a_newer_patch_of_the_running_minor",
        "test_upgrade_gate.py::test_target_is_offered_by_the_operator",
        "test_upgrade_gate.py::test_no_inactive_revision_pending_deletion",
        "test_upgrade_gate.py::test_no_pending_installplan_to_another_minor"}


@pytest.mark.parametrize("target, reason", [
    (lambda r: f"v{r.major}.{r.minor + 1}.0", "a minor upgrade, not a patch bump"),
    (lambda r: f"v{r.major}.{r.minor}.{r.patch - 1}", "(a downgrade)"),
    (lambda r: str(r), "the same version as running"),
], ids=["minor-jump", "older", "same"])
def test_not_a_newer_patch_is_no_go(lab, running, tmp_path, target, reason):
    run, verdict = gate(lab.kubeconfig, tmp_path, target(running))
    assert run.exit_code == exitcodes.GATE_NO_GO, run.output[-3000:]
    assert verdict["verdict"] == "no-go"
    assert len(verdict["reasons"]) == 1 and reason in verdict["reasons"][0]
    assert "pre-upgrade gate: NO-GO" in run.output


def test_malformed_version_is_no_go_and_a_bad_invocation(lab, tmp_path):
    run, verdict = gate(lab.kubeconfig, tmp_path, "v1.28")
    assert run.exit_code == exitcodes.BAD_INVOCATION, run.output[-3000:]
    assert "is not a version" in run.output
    assert verdict["verdict"] == "no-go" and "malformed version 'v1.28'" in verdict["reasons"][0]


def test_degraded_ztunnel_is_no_go_naming_the_failed_tests(twin, lab, running, tmp_path):
    _mesh_operator_update_pending(lab.kubeconfig)  # so that the target itself is no reason: only the fault is
    faults.apply("ztunnel-daemonset-degraded", lab.kubeconfig)  # `twin` restores the healthy twin afterwards
    run, verdict = gate(lab.kubeconfig, tmp_path, f"v{running.major}.{running.minor}.{running.patch + 1}")
    assert run.exit_code == exitcodes.GATE_NO_GO, run.output[-3000:]
    failed = sorted(run.with_outcome("failed"))
    assert failed and verdict["verdict"] == "no-go"
    named = [r for r in verdict["reasons"] if r.startswith("conformance test failed: ")]
    assert len(named) == len(failed) and any("ztunnel" in r for r in named), verdict["reasons"]
