"""The pre-upgrade gate's rules and notes, as pure functions of the snapshot.

A patch bump is safe to start only when it is a real patch bump (same minor, newer than what
runs), when no earlier change is still in flight (an inactive revision waiting for deletion,
an operator InstallPlan about to move to another OSSM minor), and when the conformance set is
healthy (that last rule reads the run's outcomes: see gate.py). The notes tell the change
owner how the target will arrive and what the configured updateStrategy will restart.
"""

from __future__ import annotations

from ..facts import active_revision, installed_csv, operator_subscription, running_istio_version, subscription
from ..findings import Finding
from ..profile import Profile
from ..versions import minor_of, parse_version
from ._k8s import dig, listing, meta, name, reads
from .control_plane import INACTIVE_REVISION_GRACE_DEFAULT
from .operator import awaiting_approval

ISTIO_CRD = "istios.sailoperator.io"
MESH_OPERATOR = "servicemeshoperator3"
# InstallPlans that will not move anything any more: installed, or given up by OLM.
_SETTLED_INSTALLPLAN_PHASES = ("Complete", "Failed")

FIX_VERSION = ("Choose a newer patch of the running minor (make preupgrade TARGET=vX.Y.N). A minor upgrade "
               "(e.g. 1.28 -> 1.29) is not a patch bump: it needs the operator channel for that minor and its own change.")
FIX_INACTIVE_REVISION = ("Let the previous upgrade finish: the operator deletes an inactive revision "
                         "inactiveRevisionDeletionGracePeriodSeconds after nothing references it (move workloads still "
                         "labelled istio.io/rev=<old> first), then re-run the gate.")
FIX_NOT_OFFERED = ("A patch the installed operator does not ship arrives only with an operator update: find the OSSM 3.x "
                   "release that ships it (Red Hat's OSSM release notes), let OLM resolve it (an InstallPlan awaiting "
                   "approval) and re-run the gate, or choose a patch the installed operator offers. Setting spec.version "
                   "to it now is refused by the API server (HTTP 422, not in the Istio CRD's spec.version enum).")
FIX_INSTALLPLAN = ("A plan to another OSSM minor blocks a patch bump: on channel stable (as profiled) OLM offers it again "
                   "after a delete as long as the catalog carries that minor, so do the minor upgrade first, as its own "
                   "change with its own gate run (or keep that minor out of the mirrored app-catalog), then gate the "
                   "patch bump. Do not approve it under the patch bump.")


def _istio(view, profile: Profile) -> dict | None:
    # Select by name: OpenShift's ingress operator may add a second Istio (openshift-gateway).
    return view.get("istios", profile.istio.name)


# -- rules --------------------------------------------------------------------------------------

@reads("istios", "istiorevisions")
def target_is_a_newer_patch_of_the_running_minor(view, profile: Profile, target: str) -> list[Finding]:
    """The target is vMAJOR.MINOR.PATCH on the profile's minor, and newer than the running version."""
    obj = f"--target-version {target}"
    wanted = parse_version(target)
    if wanted is None:
        return [Finding(obj, "a release vMAJOR.MINOR.PATCH (e.g. v1.28.4)", f"malformed version {target!r}", FIX_VERSION)]
    if wanted.minor_str != profile.istio_minor:
        return [Finding(obj, f"a patch of the running minor {profile.istio_minor}",
                        f"minor {wanted.minor_str}: a minor upgrade, not a patch bump", FIX_VERSION)]
    rev = active_revision(view, profile)
    rev_obj = f"IstioRevision {name(rev)}" if rev else f"the active IstioRevision of Istio {profile.istio.name}"
    running_text = dig(rev, "spec.version") if rev else None
    running = parse_version(running_text)
    if running is None:
        return [Finding(rev_obj, "spec.version a concrete release (the running version)",
                        f"spec.version {running_text!r}" if rev else "not found (status.activeRevisionName unset or revision absent)",
                        "The operator writes the resolved version into IstioRevision.spec.version: check the Istio CR's "
                        "status.activeRevisionName and the sail-operator's log.")]
    if running.minor_str != profile.istio_minor:
        return [Finding(rev_obj, f"the running version on the profile's minor {profile.istio_minor}",
                        f"spec.version {running}", "Bring the mesh back to the profile's minor before a patch bump "
                        "(the conformance set names the components that drifted).")]
    if wanted <= running:
        actual = "the same version as running" if wanted == running else f"older than running {running} (a downgrade)"
        return [Finding(obj, f"a patch newer than the running {running} ({rev_obj}.spec.version)", actual, FIX_VERSION)]
    return []


def pending_update(view, profile: Profile) -> tuple[dict, str] | None:
    """The mesh operator's InstallPlan still to run that installs a newer CSV of the installed OSSM
    minor, and that CSV: the only way a patch the installed operator does not offer can arrive."""
    sub = subscription(view, profile)
    csv = dig(sub or {}, "status.installedCSV")
    minor = ossm_minor_of_csv(csv)
    if minor is None:
        return None
    prefix, installed = csv.rpartition(".v")[0] + ".v", parse_version(csv.rpartition(".v")[2])
    for plan in sorted(view.list("installplans", meta(sub).get("namespace", "")), key=name):
        if dig(plan, "status.phase", "") in _SETTLED_INSTALLPLAN_PHASES:
            continue
        for planned in dig(plan, "spec.clusterServiceVersionNames", []) or []:
            version = parse_version(planned.rpartition(".v")[2]) if planned.startswith(prefix) else None
            if version and ossm_minor_of_csv(planned) == minor and version > installed:
                return plan, planned
    return None


@reads("subscriptions", "customresourcedefinitions", "installplans", "istios", "istiorevisions")
def target_is_offered_by_the_operator(view, profile: Profile, target: str) -> list[Finding]:
    """The target is a release the installed operator runs (its Istio CRD's spec.version enum, which
    the API server enforces), or an operator update of the same OSSM minor awaits that may bring it.

    Healthy: offered now, or a pending InstallPlan to a newer CSV of the installed minor (the note
    names it: the gate cannot read which patch that bundle ships before it is approved). Broken:
    neither, e.g. v1.28.11 on OSSM 3.3.7, whose newest 1.28 release is v1.28.10: nothing installed
    or pending can run it."""
    wanted, running = parse_version(target), parse_version(running_istio_version(view, profile))
    if wanted is None or wanted.minor_str != profile.istio_minor or (running and wanted <= running):
        return []  # malformed, another minor, not newer: target_is_a_newer_patch_of_the_running_minor refuses it
    offered = offered_versions(view.get("customresourcedefinitions", ISTIO_CRD))
    if offered is None:
        return [Finding(f"CustomResourceDefinition {ISTIO_CRD}", "spec.version enum in its storage version",
                        "not found", "The Istio CRD ships with the servicemeshoperator3 bundle: check the operator's CSV.")]
    if target in offered or pending_update(view, profile):
        return []
    csv = installed_csv(view, profile) or "(unknown)"
    return [Finding(f"--target-version {target}",
                    "a release the installed operator offers (the Istio CRD's spec.version enum), or a pending "
                    "operator update of the same OSSM minor that may bring it",
                    f"not offered by {csv} (newest {minor_of(target)} release it offers: "
                    f"{_newest(offered, target)}), and no InstallPlan to a newer {csv.rpartition('.v')[0] or 'operator'} "
                    f"of OSSM {ossm_minor_of_csv(csv) or '?'} awaits", FIX_NOT_OFFERED)]


def _newest(offered: list[str], target: str) -> str:
    same_minor = [v for v in offered if minor_of(v) == minor_of(target) and parse_version(v)]
    return max(same_minor, key=parse_version) if same_minor else "none"


def _revision_of(rev: dict, istio_name: str) -> bool:
    """The operator sets the Istio CR as controller owner of its revisions; without owner references,
    fall back to the naming rule (InPlace: the Istio's name; RevisionBased: '<name>-v1-28-x')."""
    owners = meta(rev).get("ownerReferences") or []
    if owners:
        return any(o.get("kind") == "Istio" and o.get("name") == istio_name for o in owners)
    return name(rev) == istio_name or name(rev).startswith(istio_name + "-v")


@reads("istios", "istiorevisions")
def no_inactive_revision_pending_deletion(view, profile: Profile) -> list[Finding]:
    """Only the active revision exists: any other is the previous upgrade, not finished yet."""
    istio = _istio(view, profile)
    if istio is None:
        return [Finding(f"Istio {profile.istio.name}", "the Istio CR exists", "not found",
                        "Create the Istio CR as in the runbook's operand CRs before gating an upgrade.")]
    active = dig(istio, "status.activeRevisionName")
    if not active:
        return [Finding(f"Istio {profile.istio.name}", "status.activeRevisionName set", "unset",
                        "The operator has not settled on a revision: read the Istio CR's conditions and the operator log.")]
    grace = dig(istio, "spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds")
    return [
        Finding(f"IstioRevision {name(rev)}", f"only the active revision {active} of Istio {profile.istio.name}",
                f"inactive revision {name(rev)} (spec.version {dig(rev, 'spec.version', '?')}) still exists, pending deletion"
                f" (grace period {grace if grace is not None else INACTIVE_REVISION_GRACE_DEFAULT}s)", FIX_INACTIVE_REVISION)
        for rev in sorted(view.list("istiorevisions"), key=name)
        if name(rev) != active and _revision_of(rev, profile.istio.name)
    ]


def ossm_minor_of_csv(csv: str | None) -> str | None:
    """'3.3' for 'servicemeshoperator3.v3.3.7'; None for anything else."""
    version = parse_version((csv or "").rpartition(".v")[2]) if csv and ".v" in csv else None
    return version.minor_str if version else None


@reads("subscriptions", "installplans")
def no_pending_installplan_to_another_minor(view, profile: Profile) -> list[Finding]:
    """No InstallPlan of the mesh operator, still to run, installs a CSV of another OSSM minor."""
    sub = subscription(view, profile)
    if sub is None:
        return [Finding("Subscription servicemeshoperator3", "the mesh operator's Subscription", "not found",
                        "Install the operator as the runbook says (oc -n openshift-operators get sub,csv).")]
    namespace = meta(sub).get("namespace", "")
    csv = dig(sub, "status.installedCSV")
    installed_minor = ossm_minor_of_csv(csv)
    if installed_minor is None:
        return [Finding(f"Subscription {namespace}/{name(sub)}", "status.installedCSV <package>.vX.Y.Z",
                        f"status.installedCSV {csv!r}", "Let OLM finish installing the operator, then re-run the gate.")]
    package_prefix = csv.rpartition(".v")[0] + ".v"
    findings = []
    for plan in sorted(view.list("installplans", namespace), key=name):
        phase = dig(plan, "status.phase", "")
        if phase in _SETTLED_INSTALLPLAN_PHASES:
            continue
        others = [c for c in dig(plan, "spec.clusterServiceVersionNames", []) or []
                  if c.startswith(package_prefix) and ossm_minor_of_csv(c) not in (None, installed_minor)]
        if others:
            findings.append(Finding(
                f"InstallPlan {namespace}/{name(plan)}",
                f"no pending InstallPlan toward another OSSM minor than the installed {installed_minor} ({csv})",
                f"phase {phase or '(empty)'}, approval {dig(plan, 'spec.approval', '?')}, installs {listing(others)}",
                FIX_INSTALLPLAN))
    return findings


GATE_RULES = (target_is_a_newer_patch_of_the_running_minor, target_is_offered_by_the_operator, no_inactive_revision_pending_deletion, no_pending_installplan_to_another_minor)
TARGETED_RULES = (target_is_a_newer_patch_of_the_running_minor, target_is_offered_by_the_operator)   # rules that take the target as an argument


# -- notes --------------------------------------------------------------------------------------

def offered_versions(crd: dict | None) -> list[str] | None:
    """The Istio CRD's spec.version enum (storage version): what the installed operator can run."""
    for version in dig(crd or {}, "spec.versions", []) or []:
        if version.get("storage"):
            return dig(version, "schema.openAPIV3Schema.properties.spec.properties.version.enum")
    return None


@reads("subscriptions", "customresourcedefinitions", "istios", "installplans")
def arrival_note(view, profile: Profile, target: str) -> str:
    """How the target reaches the mesh, without advice the profile forbids: the runbook's Istio
    follows an alias (v1.28-latest, "follows patches within 1.28"), so the operator moves it, and
    pinning spec.version would fail test_sail_cr_spec_as_profiled."""
    csv = installed_csv(view, profile) or "(unknown)"
    offered = offered_versions(view.get("customresourcedefinitions", ISTIO_CRD))
    if offered is None:
        return f"How {target} arrives: unknown (the CRD {ISTIO_CRD} or its spec.version enum could not be read)."
    spec_version = dig(_istio(view, profile) or {}, "spec.version", "")
    alias = spec_version if spec_version.endswith("-latest") else ""
    if target in offered:
        if alias:
            return (f"{target} is offered by the installed operator {csv}. Istio {profile.istio.name} follows {alias} (as "
                    f"profiled): the operator resolves it to its newest {minor_of(target)} release "
                    f"{_newest(offered, target)} by itself; keep the alias.")
        return (f"{target} is offered by the installed operator {csv}: set Istio {profile.istio.name} spec.version: "
                f"{target} and the profile's istio.version in the same change.")
    pending = pending_update(view, profile)
    if pending is None:
        return f"{target} cannot arrive: neither {csv} nor any pending InstallPlan offers it."
    plan, planned = pending
    follows = (f"Istio {profile.istio.name} follows {alias}, so approving it rolls the mesh to that release's newest "
               f"{minor_of(target)} patch" if alias else f"then set Istio {profile.istio.name} spec.version: {target}")
    return (f"{target} is not offered by the installed {csv} (newest {minor_of(target)} release: "
            f"{_newest(offered, target)}); it can arrive only with InstallPlan {meta(plan).get('namespace')}/{name(plan)} "
            f"({planned}, approval {dig(plan, 'spec.approval', '?')}). {follows}. The gate cannot read which patch that "
            f"bundle ships before it is approved: confirm {target} in {planned}'s release notes, and move the profile's "
            f"operator pin to it in the same change.")


@reads("subscriptions", "installplans")
def pending_operator_note(view, profile: Profile) -> str:
    """Operator updates awaiting a Manual approval: the version each would install. Not a reason
    for no-go by itself (that is how a pinned operator looks), but the change owner must know
    that approving one changes what the gate judged; the mesh operator's same-minor update is the
    patch bump itself (arrival note), the others belong to changes of their own."""
    vehicle = pending_update(view, profile)
    pending = []
    for op in profile.operators:
        sub = operator_subscription(view, op)
        newer = awaiting_approval(sub, op, view) if sub else None
        if newer:
            if vehicle and vehicle[1] == newer:
                role = "the vehicle of this patch bump (see how the target arrives)"
            elif op.package == MESH_OPERATOR and ossm_minor_of_csv(newer) != ossm_minor_of_csv(dig(sub, "status.installedCSV")):
                role = "another OSSM minor: it blocks this patch bump (see the reasons)"
            else:
                role = "approve it in its own change: it changes the operator under this upgrade"
            pending.append(f"{op.package}: {dig(sub, 'status.installedCSV')} runs, {newer} awaits approval "
                           f"(InstallPlan {dig(sub, 'status.installPlanRef.name', '?')}): {role}")
    return ("Operator updates awaiting Manual approval: " + "; ".join(pending) + "." if pending
            else "No operator update awaits approval.")


@reads("istios")
def strategy_note(view, profile: Profile) -> str:
    istio = _istio(view, profile) or {}
    strategy = dig(istio, "spec.updateStrategy.type") or profile.istio.update_strategy
    grace = dig(istio, "spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds")
    shared = "IstioCNI and ZTunnel are not revisioned: their DaemonSets roll in place whatever the strategy."
    if strategy == "RevisionBased":
        return ("updateStrategy RevisionBased: the new revision runs side by side with the current one; workloads move "
                "when relabelled (istio.io/rev) and the old revision is removed inactiveRevisionDeletionGracePeriodSeconds "
                f"({grace if grace is not None else INACTIVE_REVISION_GRACE_DEFAULT}s) after nothing uses it. " + shared)
    return ("updateStrategy InPlace: the upgrade restarts every control-plane and data-plane component (istiod, "
            "istio-cni, ztunnel) - the runbook's \"Service Mesh upgrade rolls everything\": expected for InPlace; plan it "
            "in a low-traffic window, or switch to RevisionBased for zero downtime.")
