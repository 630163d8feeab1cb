"""OLM operator health: the Subscription, the CSV it installed, and the operator Deployment."""

from __future__ import annotations

from .. import runbook
from ..facts import operator_subscription
from ..findings import Finding
from ..profile import Operator
from ._k8s import deployment_available, dig, labels, reads

# Subscription condition types are abnormal-true: healthy is False or absent. These mean the
# install cannot proceed (deprecation conditions are advisories, not non-conformance).
_BLOCKING_SUBSCRIPTION_CONDITIONS = ("ResolutionFailed", "InstallPlanFailed", "InstallPlanMissing",
                                     "BundleUnpackFailed", "CatalogSourcesUnhealthy")
# CSV phases OLM moves through on its own; Failed, Unknown and Deleting need someone.
_CSV_CONVERGING_PHASES = ("", "Pending", "InstallReady", "Installing", "Replacing")
# Subscription states that resolve on their own (UpgradePending may await a Manual approval).
_SUBSCRIPTION_CONVERGING_STATES = ("", "UpgradeAvailable")


def _missing_subscription(op: Operator) -> Finding:
    return Finding(f"Subscription {op.namespace}/{op.package}",
                   f"a Subscription to package {op.package} in {op.namespace}", "none found", runbook.OPERATOR)


@reads("subscriptions")
def subscription_at_latest(view, op: Operator) -> list[Finding]:
    sub = operator_subscription(view, op)
    if sub is None:
        return [_missing_subscription(op)]
    obj = f"Subscription {op.namespace}/{sub['metadata']['name']}"
    findings = []
    channel = dig(sub, "spec.channel")
    if channel != op.channel:
        findings.append(Finding(obj, f"spec.channel {op.channel}", f"spec.channel {channel}", runbook.OPERATOR))
    state = dig(sub, "status.state", "")
    settling = state in _SUBSCRIPTION_CONVERGING_STATES
    if state != "AtLatestKnown":
        findings.append(Finding(obj, "status.state AtLatestKnown", f"status.state {state or '(empty)'}",
                                runbook.OPERATOR, settling=settling))
    installed, current = dig(sub, "status.installedCSV"), dig(sub, "status.currentCSV")
    if not installed or installed != current:
        findings.append(Finding(obj, "status.installedCSV == status.currentCSV",
                                f"installedCSV={installed}, currentCSV={current}", runbook.OPERATOR, settling=settling))
    prefix = (op.csv_prefix or op.package) + ".v"
    if installed and not installed.startswith(prefix):
        findings.append(Finding(obj, f"an installed CSV named {prefix}X.Y.Z", f"installedCSV={installed}", runbook.OPERATOR))
    for cond in dig(sub, "status.conditions", []) or []:
        if cond.get("type") in _BLOCKING_SUBSCRIPTION_CONDITIONS and cond.get("status") == "True":
            findings.append(Finding(obj, f"condition {cond['type']} False or absent",
                                    f"{cond['type']}=True ({cond.get('reason', '')}: {cond.get('message', '')})",
                                    runbook.OPERATOR))
    return findings


@reads("subscriptions", "clusterserviceversions")
def csv_succeeded(view, op: Operator) -> list[Finding]:
    sub = operator_subscription(view, op)
    if sub is None:
        return [_missing_subscription(op)]
    installed = dig(sub, "status.installedCSV")
    if not installed:
        return [Finding(f"Subscription {op.namespace}/{sub['metadata']['name']}", "status.installedCSV set",
                        "no CSV installed yet", runbook.OPERATOR, settling=dig(sub, "status.state", "") == "")]
    obj = f"ClusterServiceVersion {op.namespace}/{installed}"
    csv = view.get("clusterserviceversions", installed, op.namespace)
    # A copy (AllNamespaces operators are copied into every namespace) says nothing about the install.
    if csv is None or "olm.copiedFrom" in labels(csv) or dig(csv, "status.reason") == "Copied":
        return [Finding(obj, f"the CSV {installed} installed in {op.namespace}", "not found (only copies, if any)",
                        runbook.OPERATOR)]
    phase, reason = dig(csv, "status.phase", ""), dig(csv, "status.reason", "")
    if phase == "Succeeded" and reason == "InstallSucceeded":
        return []
    message = dig(csv, "status.message", "")
    return [Finding(obj, "status.phase Succeeded, status.reason InstallSucceeded",
                    f"phase {phase or '(empty)'}, reason {reason or '(empty)'}" + (f": {message}" if message else ""),
                    runbook.OPERATOR, settling=phase in _CSV_CONVERGING_PHASES)]


@reads("deployments")
def operator_deployment_available(view, op: Operator) -> list[Finding]:
    return deployment_available(view, op.deployment, op.namespace, runbook.OPERATOR)
