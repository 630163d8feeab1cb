"""What every check shares: the findings of Kubernetes semantics (a stale generation, a
Deployment's rollout).

The check contract (`@reads`, kube/views.py) and the semantics themselves (metadata, conditions,
selectors, tolerations: kube/objects.py) are re-exported here, so a check imports its toolbox
from one place.
"""

from __future__ import annotations

from ..findings import Finding
from ..kube.objects import (  # noqa: F401 — re-exported: the checks' toolbox
    DAEMONSET_DEFAULT_TOLERATIONS, annotations, condition, condition_status, describe_condition, dig,
    generation_current, labels, listing, meta, name, namespace, namespace_labels, node_ready, node_selected,
    pod_ready, ref, selector_matches, tolerates, untolerated_taints,
)
from ..kube.views import reads  # noqa: F401 — re-exported: the check contract


# -- generation -------------------------------------------------------------------------------
ROLLOUT_OBSERVED = "status.observedGeneration == metadata.generation (rollout observed)"


def stale_generation(obj: dict, title: str, fix: str, expected: str = ROLLOUT_OBSERVED) -> Finding | None:
    """The settling finding for a controller that has not yet observed the object's latest spec."""
    if generation_current(obj):
        return None
    return Finding(title, expected, f"observedGeneration={dig(obj, 'status.observedGeneration')}, "
                                    f"generation={meta(obj).get('generation')}", fix, settling=True)


# -- Deployments ------------------------------------------------------------------------------
def deployment_available(view, dep_name: str, dep_namespace: str, fix: str) -> list[Finding]:
    dep = view.get("deployments", dep_name, dep_namespace)
    if dep is None:
        return [Finding(f"Deployment {dep_namespace}/{dep_name}", "exists", "not found", fix)]
    return deployment_rollout_findings(dep, fix)


def deployment_rollout_findings(dep: dict, fix: str) -> list[Finding]:
    """A Deployment is available with every desired replica updated, ready and available.

    Anything short of that may be a rollout or a restarting pod: settling, the plugin bounds the wait.
    A Deployment scaled to zero will not converge on its own.
    """
    desired = dig(dep, "spec.replicas", 1)
    status = dep.get("status") or {}
    counts = {k: status.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")}
    seen = f"spec.replicas={desired}, " + ", ".join(f"{k}={v}" for k, v in counts.items())
    findings = []
    if desired < 1:
        return [Finding(ref(dep), "at least 1 replica", f"scaled to zero ({seen})", fix)]
    if stale := stale_generation(dep, ref(dep), fix):
        findings.append(stale)
    if any(v != desired for v in counts.values()):
        findings.append(Finding(ref(dep), f"replicas == updatedReplicas == readyReplicas == availableReplicas == {desired}",
                                seen, fix, settling=True))
    if condition_status(dep, "Available") != "True":
        findings.append(Finding(ref(dep), "condition Available=True", describe_condition(dep, "Available"), fix, settling=True))
    return findings
