"""Control-plane checks: the sail-operator CRs by name, their spec, the active revision's version."""

import pytest
from objects import broken, cond, find, healthy, param, remove, run, text

from ossm_conformance.checks import control_plane

CR_IDS = ("Istio/default", "IstioCNI/default", "ZTunnel/default")


def _istio(c, name="default"):
    return find(c, "istios", name)


@pytest.mark.parametrize("cr_id", CR_IDS)
def test_healthy_crs_pass(cr_id):
    cr = param("sail_cr", cr_id)
    assert run(control_plane.sail_cr_healthy, healthy(), cr) == []
    assert run(control_plane.sail_cr_spec_as_profiled, healthy(), cr) == []


def test_healthy_active_revision_passes():
    c = healthy()
    assert _istio(c)["status"]["revisions"]["inUse"] == 0  # ambient: no sidecar uses the revision, and that is fine
    assert run(control_plane.active_revision_on_profiled_minor, c, "default", "1.28") == []


def test_istio_is_selected_by_name_not_as_the_only_one():
    c = healthy()
    remove(c, "istios", "default")  # only OCP's openshift-gateway Istio is left
    findings = run(control_plane.sail_cr_healthy, c, param("sail_cr", "Istio/default"))
    assert "not found (present: openshift-gateway)" in text(findings)


def test_unhealthy_openshift_gateway_istio_does_not_fail_ours():
    c = healthy()
    _istio(c, "openshift-gateway")["status"].update(state="ReconcileError", conditions=[cond("Ready", "False", "ReconcileError")])
    assert run(control_plane.sail_cr_healthy, c, param("sail_cr", "Istio/default")) == []


@pytest.mark.parametrize("mutate, fragment, settling", [
    (lambda c: _istio(c)["status"].update(state="IstiodNotReady", conditions=[
        cond("Reconciled"), cond("Ready", "False", "IstiodNotReady", "not all istiod pods are ready"), cond("DependenciesHealthy")]),
     "Ready=False (IstiodNotReady: not all istiod pods are ready)", True),
    (lambda c: _istio(c)["status"].update(state="ReconcileError", conditions=[
        cond("Reconciled", "False", "ReconcileError", "boom"),
        cond("Ready", "Unknown", "ReconcileError", "cannot determine readiness due to reconciliation error"), cond("DependenciesHealthy")]),
     "Reconciled=False (ReconcileError: boom)", False),
    (lambda c: _istio(c)["status"].update(state="ZTunnelNotFound", conditions=[
        cond("Reconciled"), cond("Ready"), cond("DependenciesHealthy", "False", "ZTunnelNotFound", "ZTunnel resource does not exist")]),
     "DependenciesHealthy=False (ZTunnelNotFound", False),
    (lambda c: _istio(c)["metadata"].update(generation=2), "observedGeneration=1, generation=2", True),
], ids=["istiod-not-ready", "reconcile-error", "ztunnel-not-found", "generation-not-observed"])
def test_istio_health_findings(mutate, fragment, settling):
    findings = broken(mutate, control_plane.sail_cr_healthy, param("sail_cr", "Istio/default"))
    hit = [f for f in findings if fragment in f.render()]
    assert hit, text(findings)
    assert hit[0].settling == settling


def test_ztunnel_not_ready_names_the_daemonset_reason():
    c = healthy()
    find(c, "ztunnels", "default")["status"].update(
        state="DaemonSetNotReady", conditions=[cond("Reconciled"), cond("Ready", "False", "DaemonSetNotReady", "not all ztunnel pods are ready")])
    findings = run(control_plane.sail_cr_healthy, c, param("sail_cr", "ZTunnel/default"))
    assert "status.state DaemonSetNotReady" in text(findings)
    assert all(f.settling for f in findings)


def test_cni_does_not_need_dependencies_healthy():
    c = healthy()
    find(c, "istiocnis", "default")["status"]["conditions"] = [cond("Reconciled"), cond("Ready")]
    assert run(control_plane.sail_cr_healthy, c, param("sail_cr", "IstioCNI/default")) == []


@pytest.mark.parametrize("cr_id, kind, path, value, fragment", [
    ("Istio/default", "istios", "profile", "ambient", "spec.profile ambient"),
    ("Istio/default", "istios", "version", "v1.27-latest", "spec.version v1.27-latest (minor 1.27)"),
    ("Istio/default", "istios", "version", "v1.28.3", "spec.version v1.28.3"),
    ("Istio/default", "istios", "updateStrategy", {"type": "RevisionBased"}, "spec.updateStrategy.type RevisionBased"),
    ("Istio/default", "istios", "updateStrategy", {"type": "InPlace", "inactiveRevisionDeletionGracePeriodSeconds": 600},
     "spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds 600"),
    ("IstioCNI/default", "istiocnis", "namespace", "kube-system", "spec.namespace kube-system"),
    ("ZTunnel/default", "ztunnels", "version", "v1.26.2", "minor 1.26"),
], ids=["istio-profile", "istio-minor", "istio-pinned-patch", "istio-strategy", "istio-grace", "cni-namespace", "ztunnel-minor"])
def test_spec_findings(cr_id, kind, path, value, fragment):
    c = healthy()
    find(c, kind, "default")["spec"][path] = value
    findings = run(control_plane.sail_cr_spec_as_profiled, c, param("sail_cr", cr_id))
    assert fragment in text(findings)
    assert not any(f.settling for f in findings)


def test_unset_grace_period_is_the_documented_30():
    c = healthy()
    find(c, "istios", "default")["spec"]["updateStrategy"] = {"type": "InPlace"}
    assert run(control_plane.sail_cr_spec_as_profiled, c, param("sail_cr", "Istio/default")) == []


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: find(c, "istiorevisions", "default")["spec"].update(version="v1.27.3"), "spec.version v1.27.3"),
    (lambda c: remove(c, "istiorevisions", "default"), "IstioRevision/default"),
    (lambda c: _istio(c)["status"].update(revisions={"total": 1, "ready": 0, "inUse": 0}), "revisions total=1, ready=0"),
    (lambda c: _istio(c)["status"].pop("activeRevisionName"), "status.activeRevisionName set"),
], ids=["revision-minor", "revision-missing", "none-ready", "no-active"])
def test_active_revision_findings(mutate, fragment):
    assert fragment in text(broken(mutate, control_plane.active_revision_on_profiled_minor, "default", "1.28"))

def _ztunnel_not_ready_as_the_operator_writes_it(c):
    """ZTunnel Ready=False DaemonSetNotReady, and Istio DependenciesHealthy False ZTunnelNotHealthy."""
    zt = find(c, "ztunnels", "default")
    zt["status"].update(state="DaemonSetNotReady", conditions=[
        cond("Reconciled"), cond("Ready", "False", "DaemonSetNotReady", "not all ztunnel pods are ready")])
    _istio(c)["status"].update(state="ZTunnelNotHealthy", conditions=[
        cond("Reconciled"), cond("Ready"),
        cond("DependenciesHealthy", "False", "ZTunnelNotHealthy", "ZTunnel resource status indicates that the component is not healthy")])


def _rebooting(c, node_name="worker-1"):
    find(c, "nodes", node_name)["status"]["conditions"] = [cond("Ready", "Unknown", "NodeStatusUnknown")]
    find(c, "pods", f"ztunnel-{node_name}", "ztunnel")["status"]["conditions"] = [cond("Ready", "False")]
    find(c, "daemonsets", "ztunnel", "ztunnel")["status"].update(numberReady=5, numberAvailable=5)


@pytest.mark.parametrize("cr_id", ("Istio/default", "ZTunnel/default"))
def test_daemonset_short_only_by_a_rebooting_node_is_not_a_failure(cr_id):
    c = healthy()
    _ztunnel_not_ready_as_the_operator_writes_it(c)
    _rebooting(c)
    assert run(control_plane.sail_cr_healthy, c, param("sail_cr", cr_id)) == []


@pytest.mark.parametrize("cr_id, fragment", [("Istio/default", "ZTunnelNotHealthy"),
                                             ("ZTunnel/default", "not all ztunnel pods are ready")])
def test_daemonset_short_on_a_ready_node_fails(cr_id, fragment):
    c = healthy()
    _ztunnel_not_ready_as_the_operator_writes_it(c)
    find(c, "daemonsets", "ztunnel", "ztunnel")["status"].update(numberReady=5, numberAvailable=5)  # all nodes Ready
    assert fragment in text(run(control_plane.sail_cr_healthy, c, param("sail_cr", cr_id)))


def test_a_rebooting_node_does_not_excuse_the_other_daemonset():
    c = healthy()
    _rebooting(c)  # ztunnel short on a NotReady node; istio-cni reported unhealthy for its own reasons
    _istio(c)["status"].update(state="IstioCNINotHealthy", conditions=[
        cond("Reconciled"), cond("Ready"), cond("DependenciesHealthy", "False", "IstioCNINotHealthy", "x")])
    assert "IstioCNINotHealthy" in text(run(control_plane.sail_cr_healthy, c, param("sail_cr", "Istio/default")))
