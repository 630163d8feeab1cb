"""The sail-operator CRs: Istio (selected by name), IstioCNI and ZTunnel, and the running revision."""

from __future__ import annotations

from dataclasses import dataclass

from .. import runbook
from ..findings import Finding
from ..versions import minor_of
from .data_plane import shortfall_on_not_ready_nodes
from ._k8s import condition, condition_status, describe_condition, dig, generation_current, name, reads, stale_generation

_KIND_NAMES = {"istios": "Istio", "istiocnis": "IstioCNI", "ztunnels": "ZTunnel"}
# Istio also copies DependenciesHealthy from its active revision (IstioCNI/ZTunnel health).
_CONDITIONS = {"istios": ("Reconciled", "Ready", "DependenciesHealthy"),
               "istiocnis": ("Reconciled", "Ready"), "ztunnels": ("Reconciled", "Ready")}
# Reasons that report a workload still coming up (istiod or a DaemonSet), which converges on its own;
# ReconcileError, *NotFound, NameAlreadyExists do not.
_CONVERGING_REASONS = {"IstiodNotReady", "RemoteIstiodNotReady", "DaemonSetNotReady",
                       "IstioCNINotHealthy", "ZTunnelNotHealthy"}
# Values the sail-operator documents as the behaviour of an unset field.
INACTIVE_REVISION_GRACE_DEFAULT = 30  # seconds: the sail-operator's default when the Istio CR sets none
_SPEC_DEFAULTS = {"updateStrategy.type": "InPlace",
                  "updateStrategy.inactiveRevisionDeletionGracePeriodSeconds": INACTIVE_REVISION_GRACE_DEFAULT}


@dataclass(frozen=True)
class ExpectedCR:
    """One sail-operator CR as the profile expects it."""
    kind: str                               # snapshot kind key: istios, istiocnis, ztunnels
    name: str
    spec: tuple[tuple[str, object], ...]    # (dotted spec path, expected value), in a stable order
    minor: str                              # "1.28"
    # The DaemonSets whose readiness the CR reports: (role "cni"/"ztunnel", namespace, name).
    daemonsets: tuple[tuple[str, str, str], ...] = ()

    @property
    def title(self) -> str:
        return f"{_KIND_NAMES[self.kind]}/{self.name}"


def _missing(view, cr: ExpectedCR) -> Finding:
    # Name the others: on OCP 4.19+ an `openshift-gateway` Istio may be the only one present.
    others = [name(o) for o in view.list(cr.kind)]
    return Finding(cr.title, f"{_KIND_NAMES[cr.kind]} {cr.name} exists",
                   "not found" + (f" (present: {', '.join(sorted(others))})" if others else ""), runbook.CONTROL_PLANE_READY)


# Reasons that say "a DaemonSet is not fully ready", and which DaemonSet (None: the CR's own).
_DAEMONSET_REASONS = {"DaemonSetNotReady": None, "IstioCNINotHealthy": "cni", "ZTunnelNotHealthy": "ztunnel"}


def _excused_reasons(view, cr: ExpectedCR) -> dict[str, list[str]]:
    """DaemonSet reasons explained by NotReady nodes alone (reason -> those nodes).

    The sail-operator marks IstioCNI/ZTunnel Ready=False (DaemonSetNotReady) whenever
    numberReady < currentNumberScheduled, and the IstioRevision, hence Istio, DependenciesHealthy
    False (IstioCNINotHealthy / ZTunnelNotHealthy) from their state (sail-operator
    pkg/revision/dependency.go). A node rebooting in a MachineConfig rollout does exactly that on
    a healthy cluster: it is information, never a failure by itself."""
    excused = {}
    for reason, role in _DAEMONSET_REASONS.items():
        # DaemonSetNotReady names the CR's own (only) DaemonSet; the dependency reasons name one role.
        refs = cr.daemonsets if role is None and len(cr.daemonsets) == 1 else [d for d in cr.daemonsets if d[0] == role]
        for _, namespace, ds_name in refs:
            outages = shortfall_on_not_ready_nodes(view, namespace, ds_name)
            if outages:
                excused[reason] = outages
    return excused


@reads("istios", "istiocnis", "ztunnels", "daemonsets", "nodes")
def sail_cr_healthy(view, cr: ExpectedCR) -> list[Finding]:
    """Reconciled, Ready (and DependenciesHealthy) True and state Healthy, as the sail-operator
    writes them for a healthy mesh; a DaemonSet short only by NotReady nodes is not a failure."""
    obj = view.get(cr.kind, cr.name)
    if obj is None:
        return [_missing(view, cr)]
    excused = _excused_reasons(view, cr)
    findings = []
    if stale := stale_generation(obj, cr.title, runbook.CONTROL_PLANE_READY,
                                 expected="status.observedGeneration == metadata.generation"):
        findings.append(stale)
    for kind in _CONDITIONS[cr.kind]:
        status = condition_status(obj, kind)
        if status != "True":
            reason = (condition(obj, kind) or {}).get("reason")
            if status == "False" and reason in excused:
                continue
            findings.append(Finding(cr.title, f"condition {kind}=True", describe_condition(obj, kind),
                                    runbook.CONTROL_PLANE_READY,
                                    settling=status in ("Unknown", "absent") or reason in _CONVERGING_REASONS))
    state = dig(obj, "status.state")
    if state != "Healthy" and state not in excused:
        findings.append(Finding(cr.title, "status.state Healthy", f"status.state {state}", runbook.CONTROL_PLANE_READY,
                                settling=state in _CONVERGING_REASONS or not generation_current(obj)))
    return findings


@reads("istios", "istiocnis", "ztunnels")
def sail_cr_spec_as_profiled(view, cr: ExpectedCR) -> list[Finding]:
    obj = view.get(cr.kind, cr.name)
    if obj is None:
        return [_missing(view, cr)]
    findings = []
    for path, expected in cr.spec:
        actual = dig(obj, f"spec.{path}", _SPEC_DEFAULTS.get(path))
        if path == "version" and minor_of(actual) != cr.minor:
            findings.append(Finding(cr.title, f"spec.version on Istio {cr.minor} ({expected})",
                                    f"spec.version {actual} (minor {minor_of(actual)})", runbook.CONTROL_PLANE_SPEC))
        elif actual != expected:
            findings.append(Finding(cr.title, f"spec.{path} {expected}", f"spec.{path} {actual}", runbook.CONTROL_PLANE_SPEC))
    return findings


@reads("istios", "istiorevisions")
def active_revision_on_profiled_minor(view, istio_name: str, minor: str) -> list[Finding]:
    """The resolved version runs on the profiled minor (Istio.spec.version keeps the alias;
    the IstioRevision holds the concrete one), and at least one revision is ready."""
    istio = view.get("istios", istio_name)
    title = f"Istio/{istio_name}"
    if istio is None:
        return [_missing(view, ExpectedCR("istios", istio_name, (), minor))]
    findings = []
    revisions = dig(istio, "status.revisions", {}) or {}
    ready, total = revisions.get("ready", 0), revisions.get("total", 0)
    # inUse may be 0 in a pure ambient mesh: never required.
    if ready < 1 or total < ready:
        findings.append(Finding(title, "status.revisions.ready >= 1 and total >= ready",
                                f"revisions total={total}, ready={ready}", runbook.CONTROL_PLANE_READY,
                                settling=True))
    active = dig(istio, "status.activeRevisionName")
    if not active:
        findings.append(Finding(title, "status.activeRevisionName set", "empty", runbook.CONTROL_PLANE_READY,
                                settling=not generation_current(istio)))
        return findings
    revision = view.get("istiorevisions", active)
    if revision is None:
        findings.append(Finding(f"IstioRevision/{active}", f"the active revision of {title} exists", "not found",
                                runbook.CONTROL_PLANE_READY, settling=True))
        return findings
    version = dig(revision, "spec.version")
    if minor_of(version) != minor:
        findings.append(Finding(f"IstioRevision/{active}", f"spec.version on Istio {minor} (v{minor}.N)",
                                f"spec.version {version}", runbook.CONTROL_PLANE_SPEC))
    return findings
