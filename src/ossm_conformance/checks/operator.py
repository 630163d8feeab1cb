"""OLM operator health: the Subscription, the CSV it installed, and the operator Deployment."""

from __future__ import annotations

from .. import runbook
from ..facts import operator_subscription
from ..findings import Finding
from ..profile import Operator
from ._k8s import deployment_available, dig, labels, reads

# Subscription condition types are abnormal-true: healthy is False or absent. These mean the
# install cannot proceed (deprecation conditions are advisories, not non-conformance). Not here:
# CatalogSourcesUnhealthy, which OLM sets True when ANY catalog in the Subscription's or the
# global namespace is unhealthy (judged from catalogHealth for the Subscription's own source
# instead), and InstallPlanMissing/ReferencedInstallPlanNotFound, which OLM sets once it has
# garbage-collected the installed plan (it keeps 5 per namespace) on a healthy install
# (operator-framework/operator-lifecycle-manager pkg/controller/operators/catalog/subscription/state.go).
_BLOCKING_SUBSCRIPTION_CONDITIONS = ("ResolutionFailed", "InstallPlanFailed", "BundleUnpackFailed")
# CSV phases OLM moves through on its own; Failed, Unknown and Deleting need someone.
_CSV_CONVERGING_PHASES = ("", "Pending", "InstallReady", "Installing", "Replacing")
# Subscription states that resolve on their own (UpgradePending may await a Manual approval).
_SUBSCRIPTION_CONVERGING_STATES = ("", "UpgradeAvailable")


def _missing_subscription(op: Operator) -> Finding:
    return Finding(f"Subscription {op.namespace}/{op.package}",
                   f"a Subscription to package {op.package} in {op.namespace}", "none found", runbook.operator(op.package, op.namespace))


def pinned_csv(op: Operator) -> str | None:
    """The CSV name the runbook's version pin means, e.g. kiali-operator.v2.22.2."""
    return f"{op.csv_prefix or op.package}.v{op.version}" if op.version else None


def awaiting_approval(sub: dict, op: Operator, view=None) -> str | None:
    """The CSV a Manual-approval Subscription has a plan for, waiting for approval, while the
    pinned CSV stays installed: how an operator "pinned by version" looks on OLM (state
    UpgradePending, InstallPlanPending=True reason RequiresApproval, currentCSV the newer one).
    With the InstallPlans at hand (`view`), a referenced plan someone approved, or one that ended,
    no longer awaits anything."""
    installed, current = dig(sub, "status.installedCSV"), dig(sub, "status.currentCSV")
    pending = next((c for c in dig(sub, "status.conditions", []) or []
                    if c.get("type") == "InstallPlanPending" and c.get("status") == "True"), None)
    if (dig(sub, "spec.installPlanApproval") == "Manual" and dig(sub, "status.state") == "UpgradePending"
            and pending and pending.get("reason") == "RequiresApproval" and installed and current != installed
            and installed == (pinned_csv(op) or installed)):
        plan = referenced_plan(view, sub) if view is not None else None
        if plan is not None and (dig(plan, "spec.approved") or dig(plan, "status.phase", "RequiresApproval")
                                 not in ("", "RequiresApproval")):
            return None
        return current
    return None


def referenced_plan(view, sub: dict) -> dict | None:
    """The InstallPlan the Subscription's status.installPlanRef names (OLM may have removed it)."""
    ref = dig(sub, "status.installPlanRef.name")
    ns = sub["metadata"].get("namespace", "")
    return next((p for p in view.list("installplans", ns) if p["metadata"]["name"] == ref), None) if ref else None


def _catalog_problem(sub: dict) -> str | None:
    """Health of the Subscription's own catalog, from status.catalogHealth (OLM lists every catalog
    of the namespace and the global one there; an unrelated broken one is none of ours)."""
    source, source_ns = dig(sub, "spec.source"), dig(sub, "spec.sourceNamespace")
    health = dig(sub, "status.catalogHealth")
    if not health:
        return None  # not yet reported: OLM writes it on its first sync
    own = [h for h in health if (h.get("catalogSourceRef") or {}).get("name") == source
           and (h.get("catalogSourceRef") or {}).get("namespace") == source_ns]
    if not own:
        return f"catalogHealth has no entry for its source {source_ns}/{source} (targeted catalogsource missing)"
    if not own[0].get("healthy"):
        return f"catalogHealth: {source_ns}/{source} healthy=false"
    return None


@reads("subscriptions")
def subscription_at_latest_known(view, op: Operator) -> list[Finding]:
    """The Subscription is on the profiled channel and at the latest CSV it may install.

    Healthy (OLM): state AtLatestKnown with installedCSV == currentCSV; or, with Manual approval,
    UpgradePending on a newer plan awaiting approval while the pinned CSV runs. Broken: another
    channel, a stuck resolution or plan, the Subscription's own catalog unhealthy."""
    sub = operator_subscription(view, op)
    if sub is None:
        return [_missing_subscription(op)]
    obj = f"Subscription {op.namespace}/{sub['metadata']['name']}"
    findings = []
    channel = dig(sub, "spec.channel")
    if channel != op.channel:
        findings.append(Finding(obj, f"spec.channel {op.channel}", f"spec.channel {channel}",
                                f"Set the Subscription's spec.channel back to {op.channel} (the profile's channel; a "
                                f"channel per minor such as stable-3.3 is not how this cluster is pinned: pins are by "
                                f"version). " + runbook.operator(op.package, op.namespace)))
    state = dig(sub, "status.state", "")
    settling = state in _SUBSCRIPTION_CONVERGING_STATES
    installed, current = dig(sub, "status.installedCSV"), dig(sub, "status.currentCSV")
    if awaiting_approval(sub, op) is None:
        if state != "AtLatestKnown":
            findings.append(Finding(obj, "status.state AtLatestKnown (or UpgradePending awaiting a Manual approval "
                                         "while the pinned CSV runs)", f"status.state {state or '(empty)'}",
                                    runbook.operator(op.package, op.namespace), settling=settling))
        if not installed or installed != current:
            findings.append(Finding(obj, "status.installedCSV == status.currentCSV",
                                    f"installedCSV={installed}, currentCSV={current}", runbook.operator(op.package, op.namespace), settling=settling))
    if problem := _catalog_problem(sub):
        findings.append(Finding(obj, f"its own catalog {dig(sub, 'spec.sourceNamespace')}/{dig(sub, 'spec.source')} healthy",
                                problem, runbook.CATALOG))
    prefix = (op.csv_prefix or op.package) + ".v"
    if installed and not installed.startswith(prefix):
        findings.append(Finding(obj, f"an installed CSV named {prefix}X.Y.Z", f"installedCSV={installed}", runbook.operator(op.package, op.namespace)))
    for cond in dig(sub, "status.conditions", []) or []:
        if cond.get("type") in _BLOCKING_SUBSCRIPTION_CONDITIONS and cond.get("status") == "True":
            findings.append(Finding(obj, f"condition {cond['type']} False or absent",
                                    f"{cond['type']}=True ({cond.get('reason', '')}: {cond.get('message', '')})",
                                    runbook.operator(op.package, op.namespace)))
    return findings


@reads("subscriptions", "clusterserviceversions")
def csv_succeeded(view, op: Operator) -> list[Finding]:
    sub = operator_subscription(view, op)
    if sub is None:
        return [_missing_subscription(op)]
    installed = dig(sub, "status.installedCSV")
    if not installed:
        return [Finding(f"Subscription {op.namespace}/{sub['metadata']['name']}", "status.installedCSV set",
                        "no CSV installed yet", runbook.operator(op.package, op.namespace), settling=dig(sub, "status.state", "") == "")]
    obj = f"ClusterServiceVersion {op.namespace}/{installed}"
    csv = view.get("clusterserviceversions", installed, op.namespace)
    # A copy (AllNamespaces operators are copied into every namespace) says nothing about the install.
    if csv is None or "olm.copiedFrom" in labels(csv) or dig(csv, "status.reason") == "Copied":
        return [Finding(obj, f"the CSV {installed} installed in {op.namespace}", "not found (only copies, if any)",
                        runbook.operator(op.package, op.namespace))]
    phase, reason = dig(csv, "status.phase", ""), dig(csv, "status.reason", "")
    if phase == "Succeeded" and reason == "InstallSucceeded":
        return []
    message = dig(csv, "status.message", "")
    return [Finding(obj, "status.phase Succeeded, status.reason InstallSucceeded",
                    f"phase {phase or '(empty)'}, reason {reason or '(empty)'}" + (f": {message}" if message else ""),
                    runbook.operator(op.package, op.namespace), settling=phase in _CSV_CONVERGING_PHASES)]


def _installed_by(view, sub: dict, csv: str) -> str:
    """Which InstallPlan put `csv` there, and whether someone approved it: the Subscription's
    installPlanRef when it lists the CSV, else any plan of the namespace that does (OLM may have
    garbage-collected it: then nothing is said)."""
    ns = sub["metadata"].get("namespace", "")
    plans = [p for p in view.list("installplans", ns) if csv in (dig(p, "spec.clusterServiceVersionNames", []) or [])]
    referenced = referenced_plan(view, sub)
    plan = referenced if referenced in plans else (plans[0] if plans else None)
    if plan is None:
        return ""
    return (f"; installed by InstallPlan {ns}/{plan['metadata']['name']} (approval {dig(plan, 'spec.approval', '?')}, "
            f"approved {str(dig(plan, 'spec.approved', False)).lower()}, phase {dig(plan, 'status.phase', '?')})")


@reads("subscriptions", "installplans")
def operator_version_pinned(view, op: Operator) -> list[Finding]:
    """The installed CSV is the version the runbook pins (kiali-ossm v2.22.2; servicemeshoperator3
    at the release the cluster is meant to run). Healthy: installedCSV == <prefix>.v<version>,
    whatever newer plan awaits approval. Broken: any other version installed (an Automatic
    upgrade, a hand-approved plan): the mesh runs what nobody pinned."""
    if not op.version:
        return []
    sub = operator_subscription(view, op)
    if sub is None:
        return [_missing_subscription(op)]
    installed, wanted = dig(sub, "status.installedCSV"), pinned_csv(op)
    if installed == wanted:
        return _approved_off_pin(view, sub, op, wanted)
    return [Finding(f"Subscription {op.namespace}/{sub['metadata']['name']}", f"installedCSV {wanted} (the runbook's pin)",
                    f"installedCSV {installed or '(none)'} (installPlanApproval {dig(sub, 'spec.installPlanApproval', '?')}"
                    f"{_installed_by(view, sub, installed) if installed else ''})",
                    runbook.OPERATOR_PIN)]


def _approved_off_pin(view, sub: dict, op: Operator, wanted: str) -> list[Finding]:
    """The pinned CSV still runs, but someone approved the referenced plan to another version:
    OLM is installing it now (phase Installing), the pin is being left."""
    plan = referenced_plan(view, sub)
    prefix = (op.csv_prefix or op.package) + ".v"
    off = [c for c in dig(plan or {}, "spec.clusterServiceVersionNames", []) or [] if c.startswith(prefix) and c != wanted]
    if not (plan and off and dig(plan, "spec.approved") and dig(plan, "status.phase") not in ("Complete", "Failed")):
        return []
    ns = sub["metadata"].get("namespace", "")
    return [Finding(f"InstallPlan {ns}/{plan['metadata']['name']}", f"no approved plan away from {wanted} (the runbook's pin)",
                    f"approved, phase {dig(plan, 'status.phase') or '(empty)'}: installs {', '.join(off)}",
                    runbook.OPERATOR_PIN_APPROVED)]


@reads("deployments")
def operator_deployment_available(view, op: Operator) -> list[Finding]:
    return deployment_available(view, op.deployment, op.namespace, runbook.operator(op.package, op.namespace))
