"""Operator checks: Subscription, CSV (copies ignored), operator Deployment."""

import pytest
from objects import broken, CSV, PROFILE, cond, find, healthy, obj, remove, run, text

from ossm_conformance.checks import operator

SMO = PROFILE.operators[0]
KIALI = PROFILE.operators[1]


def _sub(c):
    return find(c, "subscriptions", "servicemeshoperator3", "openshift-operators")


def _csv(c):
    return find(c, "clusterserviceversions", CSV, "openshift-operators")


def _dep(c):
    return find(c, "deployments", "servicemesh-operator3", "openshift-operators")


@pytest.mark.parametrize("op", PROFILE.operators, ids=lambda o: o.package)
@pytest.mark.parametrize("check", [operator.subscription_at_latest_known, operator.csv_succeeded,
                                   operator.operator_deployment_available, operator.operator_version_pinned],
                         ids=lambda f: f.__name__)
def test_healthy_operators_pass(check, op):
    assert run(check, healthy(), op) == []


@pytest.mark.parametrize("mutate, fragment, settling", [
    (lambda c: remove(c, "subscriptions", "servicemeshoperator3", "openshift-operators"), "none found", False),
    (lambda c: _sub(c)["spec"].update(channel="stable-3.2"), "spec.channel stable-3.2", False),
    (lambda c: _sub(c)["status"].update(state="UpgradePending"), "status.state UpgradePending", False),
    (lambda c: _sub(c)["status"].update(state="UpgradeAvailable", currentCSV="servicemeshoperator3.v3.3.8"),
     "currentCSV=servicemeshoperator3.v3.3.8", True),
    (lambda c: _sub(c)["status"].update(installedCSV="sailoperator.v1.28.3", currentCSV="sailoperator.v1.28.3"),
     "servicemeshoperator3.vX.Y.Z", False),
    (lambda c: _sub(c)["status"]["conditions"].append(cond("ResolutionFailed", "True", "ConstraintsNotSatisfiable", "no operators found")),
     "ResolutionFailed=True (ConstraintsNotSatisfiable", False),
], ids=["missing", "channel", "upgrade-pending", "upgrade-available", "wrong-package-csv", "resolution-failed"])
def test_subscription_findings(mutate, fragment, settling):
    findings = broken(mutate, operator.subscription_at_latest_known, SMO)
    assert fragment in text(findings)
    assert all(f.settling == settling for f in findings)


@pytest.mark.parametrize("mutate, fragment, settling", [
    (lambda c: _csv(c)["status"].update(phase="Failed", reason="InstallCheckFailed", message="install timeout"),
     "phase Failed, reason InstallCheckFailed: install timeout", False),
    (lambda c: _csv(c)["status"].update(phase="Installing", reason="InstallWaiting"), "phase Installing", True),
    (lambda c: _csv(c)["status"].update(phase="Replacing", reason="BeingReplaced"), "phase Replacing", True),
    (lambda c: remove(c, "clusterserviceversions", CSV, "openshift-operators"), "not found (only copies", False),
    (lambda c: _sub(c)["status"].pop("installedCSV"), "no CSV installed yet", False),
], ids=["failed", "installing", "replacing", "only-a-copy", "nothing-installed"])
def test_csv_findings(mutate, fragment, settling):
    findings = broken(mutate, operator.csv_succeeded, SMO)
    assert fragment in text(findings)
    assert [f.settling for f in findings] == [settling]


def test_copied_csv_in_install_namespace_is_not_the_install():
    c = healthy()
    _csv(c)["metadata"]["labels"] = {"olm.copiedFrom": "openshift-operators"}
    assert "not found (only copies" in text(run(operator.csv_succeeded, c, SMO))


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: remove(c, "deployments", "servicemesh-operator3", "openshift-operators"), "not found"),
    (lambda c: _dep(c)["status"].update(readyReplicas=0, availableReplicas=0,
                                        conditions=[cond("Available", "False", "MinimumReplicasUnavailable")]),
     "Available=False (MinimumReplicasUnavailable)"),
    (lambda c: _dep(c)["status"].update(updatedReplicas=0), "updatedReplicas=0"),
    (lambda c: _dep(c)["spec"].update(replicas=0), "scaled to zero"),
], ids=["missing", "unavailable", "not-updated", "scaled-to-zero"])
def test_operator_deployment_findings(mutate, fragment):
    findings = broken(mutate, operator.operator_deployment_available, SMO)
    assert fragment in text(findings)
    assert findings[0].object == "Deployment openshift-operators/servicemesh-operator3"


def _kiali(c):
    return find(c, "subscriptions", "kiali-ossm", "openshift-operators")


def _awaiting_approval(c, newer="kiali-operator.v2.22.3"):
    """OLM with installPlanApproval Manual and a newer bundle in the channel."""
    sub = _kiali(c)
    sub["spec"]["installPlanApproval"] = "Manual"
    sub["status"].update(state="UpgradePending", currentCSV=newer)
    sub["status"]["conditions"].append(cond("InstallPlanPending", "True", "RequiresApproval"))


def test_manual_approval_with_a_newer_plan_pending_passes_while_the_pin_runs():
    c = healthy()
    _awaiting_approval(c)
    assert run(operator.subscription_at_latest_known, c, KIALI) == []
    assert run(operator.operator_version_pinned, c, KIALI) == []
    assert operator.awaiting_approval(_kiali(c), KIALI) == "kiali-operator.v2.22.3"


def test_automatic_upgrade_pending_is_still_a_finding():
    c = healthy()
    _awaiting_approval(c)
    _kiali(c)["spec"]["installPlanApproval"] = "Automatic"
    assert "status.state UpgradePending" in text(run(operator.subscription_at_latest_known, c, KIALI))


def test_version_drift_from_the_pin_fails():
    c = healthy()
    _kiali(c)["status"].update(installedCSV="kiali-operator.v2.23.0", currentCSV="kiali-operator.v2.23.0")
    findings = run(operator.operator_version_pinned, c, KIALI)
    assert "installedCSV kiali-operator.v2.22.2 (the runbook's pin)" in text(findings)
    assert "actual:   installedCSV kiali-operator.v2.23.0" in text(findings)
    assert "pinned by version" in findings[0].fix
    assert "installed by" not in findings[0].actual   # no plan left that lists it (OLM keeps 5)


def test_version_drift_names_the_plan_someone_approved():
    c = healthy()
    _kiali(c)["spec"]["installPlanApproval"] = "Manual"
    _kiali(c)["status"].update(installedCSV="kiali-operator.v2.22.3", currentCSV="kiali-operator.v2.22.3",
                               installPlanRef={"name": "install-kx4m2", "namespace": "openshift-operators"})
    c.setdefault("installplans", []).append(obj("installplans", "install-kx4m2", "openshift-operators",
                                                spec={"approval": "Manual", "approved": True,
                                                      "clusterServiceVersionNames": ["kiali-operator.v2.22.3"]},
                                                status={"phase": "Complete"}))
    findings = run(operator.operator_version_pinned, c, KIALI)
    assert ("installed by InstallPlan openshift-operators/install-kx4m2 (approval Manual, approved true, phase Complete)"
            in findings[0].actual)
    assert "grep -i kiali" in run(operator.subscription_at_latest_known, _missing_kiali(c), KIALI)[0].fix


def _missing_kiali(c):
    c["subscriptions"] = [s for s in c["subscriptions"] if s["spec"].get("name") != "kiali-ossm"]
    return c


def test_version_drift_from_the_pin_fails_even_with_a_plan_pending():
    c = healthy()
    _kiali(c)["status"].update(installedCSV="kiali-operator.v2.23.0", currentCSV="kiali-operator.v2.23.0")
    # a plan awaiting approval does not excuse a drifted install
    _awaiting_approval(c, "kiali-operator.v2.23.1")
    assert operator.awaiting_approval(_kiali(c), KIALI) is None


def test_unrelated_unhealthy_catalog_passes_own_catalog_unhealthy_fails():
    c = healthy()
    assert find(c, "subscriptions", "servicemeshoperator3", "openshift-operators")["status"]["conditions"][0]["status"] == "True"
    assert run(operator.subscription_at_latest_known, c, SMO) == []
    _sub(c)["status"]["catalogHealth"][0]["healthy"] = False
    assert "catalogHealth: openshift-marketplace/app-catalog healthy=false" in text(run(operator.subscription_at_latest_known, c, SMO))
    _sub(c)["status"]["catalogHealth"] = _sub(c)["status"]["catalogHealth"][1:]
    assert "targeted catalogsource missing" in text(run(operator.subscription_at_latest_known, c, SMO))


def test_garbage_collected_install_plan_is_not_a_failure():
    c = healthy()
    _sub(c)["status"]["conditions"].append(cond("InstallPlanMissing", "True", "ReferencedInstallPlanNotFound"))
    assert run(operator.subscription_at_latest_known, c, SMO) == []


def test_an_approved_plan_off_the_pin_fails_while_it_installs():
    c = healthy()
    _awaiting_approval(c)
    _kiali(c)["status"]["installPlanRef"] = {"name": "install-kx4m2", "namespace": "openshift-operators"}
    plan = obj("installplans", "install-kx4m2", "openshift-operators",
               spec={"approval": "Manual", "approved": False, "clusterServiceVersionNames": ["kiali-operator.v2.22.3"]},
               status={"phase": "RequiresApproval"})
    c.setdefault("installplans", []).append(plan)
    assert run(operator.operator_version_pinned, c, KIALI) == []          # awaiting approval: the pin holds
    plan["spec"]["approved"], plan["status"]["phase"] = True, "Installing"
    findings = run(operator.operator_version_pinned, c, KIALI)
    assert [f.object for f in findings] == ["InstallPlan openshift-operators/install-kx4m2"]
    assert findings[0].actual == "approved, phase Installing: installs kiali-operator.v2.22.3"
    assert "an approval cannot be taken back" in findings[0].fix


def test_a_channel_per_minor_is_set_back_to_the_profiles_channel():
    c = healthy()
    _sub(c)["spec"]["channel"] = "stable-3.3"
    findings = run(operator.subscription_at_latest_known, c, SMO)
    assert findings[0].actual == "spec.channel stable-3.3"
    assert findings[0].fix.startswith("Set the Subscription's spec.channel back to stable")
