"""The pre-upgrade gate's rules, notes and verdict on small snapshots (no cluster)."""

from __future__ import annotations

import json

import pytest
from field_access import tracked_snapshot
from objects import CSV, PROFILE

from ossm_conformance import exitcodes
from ossm_conformance.checks import upgrade
from ossm_conformance.gate import ConformanceOutcome, conformance_outcome, decide, malformed, not_checked, write
from ossm_conformance.kube.snapshot import Read, ReadResult, Snapshot

HEALTHY_RUN = ConformanceOutcome(passed=40)


def istio(strategy="InPlace", active="default", version="v1.28-latest", grace=30):
    return {"kind": "Istio", "metadata": {"name": "default"},
            "spec": {"version": version, "updateStrategy": {"type": strategy,
                                                            "inactiveRevisionDeletionGracePeriodSeconds": grace}},
            "status": {"activeRevisionName": active}}


def revision(name="default", version="v1.28.3", owner="default"):
    meta = {"name": name}
    if owner:
        meta["ownerReferences"] = [{"kind": "Istio", "name": owner, "apiVersion": "sailoperator.io/v1"}]
    return {"kind": "IstioRevision", "metadata": meta, "spec": {"version": version}}


def installplan(name, csvs, phase="RequiresApproval"):
    return {"kind": "InstallPlan", "metadata": {"name": name, "namespace": "openshift-operators"},
            "spec": {"clusterServiceVersionNames": csvs, "approval": "Manual", "approved": False},
            "status": {"phase": phase}}


def istio_crd(enum):
    return {"kind": "CustomResourceDefinition", "metadata": {"name": upgrade.ISTIO_CRD},
            "spec": {"versions": [{"name": "v1", "storage": True, "schema": {"openAPIV3Schema": {"properties": {
                "spec": {"properties": {"version": {"enum": enum}}}}}}}]}}


# The installed operator offers patches past the running v1.28.3 (a pinned spec.version would run it).
ENUM = ["v1.28-latest", "v1.28.10", "v1.28.4", "v1.28.3", "v1.28.2", "v1.28.1", "v1.28.0", "v1.27-latest", "v1.27.5"]
ENUM_1_28_3 = ["v1.28-latest", "v1.28.3", "v1.28.2", "v1.28.1", "v1.28.0", "v1.27-latest", "v1.27.5"]


def snapshot(istios=None, revisions=None, plans=(), enum=ENUM, csv=CSV, broken=()):
    sub = {"kind": "Subscription", "metadata": {"name": "servicemeshoperator3", "namespace": "openshift-operators"},
           "spec": {"name": "servicemeshoperator3"}, "status": {"installedCSV": csv, "currentCSV": csv}}
    reads = {
        Read("istios"): [istio()] if istios is None else istios,
        Read("istiorevisions"): [revision()] if revisions is None else revisions,
        Read("subscriptions", "openshift-operators"): [sub],
        Read("installplans", "openshift-operators"): list(plans),
        Read("customresourcedefinitions", name=upgrade.ISTIO_CRD): [istio_crd(enum)],
    }
    return tracked_snapshot([ReadResult(r, items, error=f"list {r.kind}: forbidden" if r.kind in broken else None)
                             for r, items in reads.items()])


def verdict(target, outcome=HEALTHY_RUN, **kw):
    return decide(snapshot(**kw), PROFILE, target, outcome)


# -- the version rule ---------------------------------------------------------------------------

def test_next_patch_is_go():
    v = verdict("v1.28.4")
    assert (v.verdict, v.running, v.reasons) == ("go", "v1.28.3", [])


def test_any_newer_patch_of_the_running_minor_is_go():
    assert verdict("v1.28.10").verdict == "go"


@pytest.mark.parametrize("target, says", [
    ("v1.29.0", "minor 1.29: a minor upgrade, not a patch bump"),
    ("v1.27.9", "minor 1.27: a minor upgrade, not a patch bump"),
    ("v1.28.2", "older than running v1.28.3 (a downgrade)"),
    ("v1.28.3", "the same version as running"),
    ("1.28.x", "malformed version '1.28.x'"),
    ("v1.28-latest", "malformed version 'v1.28-latest'"),
])
def test_not_a_newer_patch_is_no_go(target, says):
    v = verdict(target)
    assert v.verdict == "no-go"
    assert len(v.reasons) == 1 and says in v.reasons[0] and v.reasons[0].startswith(f"--target-version {target}:")


def test_malformed_verdict_reads_nothing():
    v = malformed("banana")
    assert v.as_json() == {"verdict": "no-go", "target": "banana", "running": None, "reasons": v.reasons, "notes": []}
    assert "malformed version 'banana'" in v.reasons[0]


def test_unknown_running_version_is_no_go():
    v = verdict("v1.28.4", istios=[istio(active="")], revisions=[])
    assert v.verdict == "no-go" and v.running is None
    assert any("the active IstioRevision of Istio default" in r for r in v.reasons)


def test_running_off_the_profiles_minor_is_no_go():
    v = verdict("v1.28.4", revisions=[revision(version="v1.27.5")])
    assert any("IstioRevision default: expected the running version on the profile's minor 1.28" in r for r in v.reasons)


# -- revisions and InstallPlans -----------------------------------------------------------------

def test_inactive_revision_pending_deletion_is_no_go():
    v = verdict("v1.28.4", istios=[istio(strategy="RevisionBased", active="default-v1-28-3")],
                revisions=[revision("default-v1-28-2", "v1.28.2"), revision("default-v1-28-3", "v1.28.3")])
    assert v.verdict == "no-go"
    assert v.reasons == [r for r in v.reasons if r.startswith("IstioRevision default-v1-28-2:")]
    assert "pending deletion (grace period 30s)" in v.reasons[0]


def test_another_istios_revision_is_not_ours():
    """OpenShift's ingress operator adds Istio openshift-gateway with its own revision."""
    v = verdict("v1.28.4", revisions=[revision(), revision("openshift-gateway", "v1.28.3", owner="openshift-gateway")])
    assert v.verdict == "go"


def test_pending_installplan_to_another_minor_is_no_go():
    v = verdict("v1.28.4", plans=[installplan("install-next", ["servicemeshoperator3.v3.4.2"])])
    assert v.verdict == "no-go"
    assert len(v.reasons) == 1 and v.reasons[0].startswith("InstallPlan openshift-operators/install-next:")
    assert "phase RequiresApproval, approval Manual, installs servicemeshoperator3.v3.4.2" in v.reasons[0]


@pytest.mark.parametrize("plan", [
    installplan("done", ["servicemeshoperator3.v3.4.2"], phase="Complete"),
    installplan("gave-up", ["servicemeshoperator3.v3.4.2"], phase="Failed"),
    installplan("same-minor", ["servicemeshoperator3.v3.3.8"]),
    installplan("kiali", ["kiali-operator.v2.22.2"]),
])
def test_installplans_that_do_not_move_the_mesh_operator_minor_are_go(plan):
    assert verdict("v1.28.4", plans=[plan]).verdict == "go"


def test_unreadable_kind_is_no_go_not_a_pass():
    v = verdict("v1.28.4", broken=("installplans",))
    assert v.reasons == ["could not check target_is_offered_by_the_operator: list installplans: forbidden",
                         "could not check no_pending_installplan_to_another_minor: list installplans: forbidden"]


# -- the conformance set ------------------------------------------------------------------------

def test_failed_or_errored_conformance_tests_are_named():
    outcome = ConformanceOutcome(passed=30, failed=("test_data_plane.py::test_ztunnel[ztunnel]",),
                                 errors=("test_operator.py::test_csv_succeeded[servicemeshoperator3]",))
    v = verdict("v1.28.4", outcome=outcome)
    assert v.reasons == ["conformance test failed: test_data_plane.py::test_ztunnel[ztunnel]",
                         "conformance test could not check (error): test_operator.py::test_csv_succeeded[servicemeshoperator3]"]


def test_gate_alone_without_the_conformance_set_is_no_go():
    v = verdict("v1.28.4", outcome=ConformanceOutcome())
    assert v.verdict == "no-go" and "the conformance set did not run" in v.reasons[0]


def test_a_run_that_left_out_part_of_the_set_is_no_go():
    v = verdict("v1.28.4", outcome=ConformanceOutcome(passed=54, left_out=("test_mtls.py::test_edge[probe-a]",
                                                                            "test_istio_system.py (not collected)")))
    assert v.verdict == "no-go"
    assert v.reasons == ["the run left out 2 of the conformance set (e.g. test_mtls.py::test_edge[probe-a], "
                         "test_istio_system.py (not collected)): a go vouches for the whole set, live mTLS included; "
                         "run make preupgrade TARGET=... without -m, -k or file selection"]


class _Report:
    def __init__(self, nodeid, when="call", gate=False):
        self.nodeid, self.when = nodeid, when
        self.keywords = {"preupgrade": 1} if gate else {"data_plane": 1}


def test_outcome_excludes_the_gates_own_tests_and_counts_tests_once():
    stats = {"passed": [_Report("a", "setup"), _Report("a"), _Report("a", "teardown"), _Report("g", gate=True)],
             "failed": [_Report("b"), _Report("g2", gate=True)], "error": [_Report("c", "setup"), _Report("c", "teardown")]}
    assert conformance_outcome(stats) == ConformanceOutcome(passed=1, failed=("b",), errors=("c",))


# -- notes ---------------------------------------------------------------------------------------

def test_target_no_installed_or_pending_operator_offers_is_no_go():
    # OSSM 3.3.7 tops at v1.28.10: v1.28.11 would be refused by the API server (422).
    v = verdict("v1.28.4", enum=ENUM_1_28_3)
    assert v.verdict == "no-go" and len(v.reasons) == 1
    assert f"not offered by {CSV} (newest 1.28 release it offers: v1.28.3), and no InstallPlan" in v.reasons[0]
    assert "HTTP 422" in v.reasons[0]
    assert v.notes[0] == f"v1.28.4 cannot arrive: neither {CSV} nor any pending InstallPlan offers it."


def test_target_a_pending_same_minor_operator_update_may_bring_is_go_with_what_to_confirm():
    newer = CSV.rpartition(".v")[0] + ".v3.3.99"
    v = verdict("v1.28.4", enum=ENUM_1_28_3, plans=[installplan("install-next", [newer])])
    assert v.verdict == "go", v.reasons
    note = v.notes[0]
    assert note.startswith(f"v1.28.4 is not offered by the installed {CSV} (newest 1.28 release: v1.28.3); it can arrive "
                           f"only with InstallPlan openshift-operators/install-next ({newer}, approval Manual)")
    assert "follows v1.28-latest, so approving it rolls the mesh" in note
    assert f"confirm v1.28.4 in {newer}'s release notes" in note


@pytest.mark.parametrize("plan", [
    installplan("older", ["servicemeshoperator3.v3.0.0"]),            # not newer
    installplan("kiali", ["kiali-operator.v9.0.0"]),                   # another operator
    installplan("done", [CSV.rpartition(".v")[0] + ".v3.3.99"], phase="Complete"),   # settled
], ids=["older", "other-operator", "complete"])
def test_plans_that_cannot_bring_the_target_do_not_count(plan):
    assert verdict("v1.28.4", enum=ENUM_1_28_3, plans=[plan]).verdict == "no-go"


def test_target_in_the_enum_with_the_alias_keeps_the_alias():
    note = verdict("v1.28.4").notes[0]
    assert note.startswith(f"v1.28.4 is offered by the installed operator {CSV}. Istio default follows v1.28-latest")
    assert "resolves it to its newest 1.28 release v1.28.10 by itself; keep the alias" in note
    assert "pin" not in note


def test_target_in_the_enum_with_a_pinned_version_says_to_move_pin_and_profile_together():
    note = verdict("v1.28.4", istios=[istio(version="v1.28.3")]).notes[0]
    assert "set Istio default spec.version: v1.28.4 and the profile's istio.version in the same change" in note


def test_unreadable_crd_is_no_go_and_the_note_says_so():
    v = verdict("v1.28.4", broken=("customresourcedefinitions",))
    assert v.reasons == ["could not check target_is_offered_by_the_operator: list customresourcedefinitions: forbidden"]
    assert "could not tell" in v.notes[0]


def test_inplace_note_says_everything_restarts():
    note = verdict("v1.28.4").notes[1]
    assert note.startswith("updateStrategy InPlace: the upgrade restarts every control-plane and data-plane component")
    assert "Service Mesh upgrade rolls everything" in note


def test_revision_based_note_says_side_by_side():
    note = verdict("v1.28.4", istios=[istio(strategy="RevisionBased", grace=120)]).notes[1]
    assert "side by side" in note and "relabelled" in note and "(120s)" in note


# -- gate.json ------------------------------------------------------------------------------------

def test_gate_json_has_the_documented_shape(tmp_path):
    path = tmp_path / "reports" / "gate.json"
    write(path, verdict("v1.29.0"))
    data = json.loads(path.read_text())
    assert list(data) == ["verdict", "target", "running", "reasons", "notes"]
    assert (data["verdict"], data["target"], data["running"]) == ("no-go", "v1.29.0", "v1.28.3")


def test_run_that_never_read_the_cluster_is_no_go():
    v = not_checked("v1.28.4", exitcodes.COULD_NOT_CHECK)
    assert v.verdict == "no-go" and "exit 12: could not check" in v.reasons[0]


def test_pending_operator_update_is_shown_with_the_version_it_installs():
    snap = snapshot(csv=CSV)
    sub = snap.get("subscriptions", "servicemeshoperator3", "openshift-operators")
    sub["spec"]["installPlanApproval"] = "Manual"
    sub["status"].update(state="UpgradePending", currentCSV="servicemeshoperator3.v3.3.8",
                         installPlanRef={"name": "install-x8"},
                         conditions=[{"type": "InstallPlanPending", "status": "True", "reason": "RequiresApproval"}])
    note = decide(snap, PROFILE, "v1.28.10", HEALTHY_RUN).notes[-1]
    assert f"{CSV} runs, servicemeshoperator3.v3.3.8 awaits approval (InstallPlan install-x8)" in note
    assert decide(snapshot(), PROFILE, "v1.28.10", HEALTHY_RUN).notes[-1] == "No operator update awaits approval."


def _pending_mesh_update(plan_phase="RequiresApproval", approved=False, newer="servicemeshoperator3.v3.3.8"):
    plan = installplan("install-x8", [newer], phase=plan_phase)
    plan["spec"]["approved"] = approved
    snap = snapshot(csv=CSV, enum=ENUM_1_28_3, plans=[plan])
    sub = snap.get("subscriptions", "servicemeshoperator3", "openshift-operators")
    sub["spec"]["installPlanApproval"] = "Manual"
    sub["status"].update(state="UpgradePending", currentCSV=newer, installPlanRef={"name": "install-x8"},
                         conditions=[{"type": "InstallPlanPending", "status": "True", "reason": "RequiresApproval"}])
    return snap


def test_the_mesh_operators_pending_update_is_the_bump_itself_not_a_change_of_its_own():
    note = decide(_pending_mesh_update(), PROFILE, "v1.28.4", HEALTHY_RUN).notes[-1]
    assert "servicemeshoperator3.v3.3.8 awaits approval (InstallPlan install-x8): the vehicle of this patch bump" in note
    assert "its own change" not in note


@pytest.mark.parametrize("phase, approved", [("Installing", True), ("Failed", False)], ids=["approved", "failed"])
def test_a_plan_approved_or_ended_no_longer_awaits_approval(phase, approved):
    v = decide(_pending_mesh_update(phase, approved), PROFILE, "v1.28.4", HEALTHY_RUN)
    assert v.notes[-1] == "No operator update awaits approval."
    if phase == "Failed":
        assert v.verdict == "no-go"   # nothing that awaits can bring the target any more


def test_a_plan_to_another_minor_is_withdrawn_not_pinned_to_another_channel():
    v = verdict("v1.28.4", plans=[installplan("install-34", ["servicemeshoperator3.v3.4.0"])])
    assert v.verdict == "no-go" and "stable-3.3" not in v.reasons[0]
    assert "on channel stable (as profiled) OLM offers it again after a delete" in v.reasons[0]


def test_a_pending_plan_to_another_minor_is_noted_as_the_blocker_not_as_its_own_change():
    v = decide(_pending_mesh_update(newer="servicemeshoperator3.v3.4.0"), PROFILE, "v1.28.4", HEALTHY_RUN)
    assert v.verdict == "no-go"
    assert "servicemeshoperator3.v3.4.0 awaits approval (InstallPlan install-x8): another OSSM minor: it blocks" in v.notes[-1]
    assert any("no InstallPlan to a newer servicemeshoperator3 of OSSM 3.3 awaits" in r for r in v.reasons)
