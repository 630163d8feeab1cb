"""PURE: what the judge names when an edge is denied: the AuthorizationPolicies ztunnel enforces.

ztunnel receives a policy from istiod when it is selector-bound or namespace-wide in the
workload's namespace, or mesh-wide in the root namespace; a policy bound with targetRefs belongs
to a waypoint (istio/istio `pilot/pkg/model/policyattachment.go`), so ztunnel never applies it.
"""

from __future__ import annotations

from ..kube.views import reads


@reads("authorizationpolicies")
def enforced_by_ztunnel(view, namespace: str, root_namespace: str) -> tuple[str, ...]:
    """'ns/name (ACTION)' of each candidate policy, in a stable order."""
    names = []
    for ns in dict.fromkeys((namespace, root_namespace)):
        for policy in view.list("authorizationpolicies", ns):
            spec = policy.get("spec") or {}
            if spec.get("targetRefs") or spec.get("targetRef"):
                continue
            if ns == root_namespace and ns != namespace and spec.get("selector"):
                continue  # a selector in the root namespace selects root-namespace pods only
            names.append(f"{ns}/{policy['metadata']['name']} ({spec.get('action') or 'ALLOW'})")
    return tuple(sorted(names))
