"""PURE: which probe pods to run and what they look like.

Few pods, whatever the number of tenants: one per ~ENDPOINTS_PER_PROBE ztunnel endpoints, never
more than one per node (required pod anti-affinity on the run label, so the scheduler spreads
them and still honours taints). The spec passes OpenShift's restricted-v2 SCC as is: non-root,
no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no service-account
token (the program talks only to ztunnel's metrics port, never to the API).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "ossm-conformance"
RUN_LABEL = "ossm-conformance/run"
ENDPOINTS_PER_PROBE = 150
CONTAINER = "probe"
DEADLINE_MARGIN = 30  # seconds past window + timeout before the kubelet reaps a forgotten probe
PROGRAM = Path(__file__).with_name("probe_program.py").read_text()


def selector(run_id: str | None = None) -> str:
    """Every probe pod of the suite, or only those of one run."""
    return f"{MANAGED_BY}={MANAGER}" + (f",{RUN_LABEL}={run_id}" if run_id else "")


def expired_runs(pods: list[dict], now: datetime) -> list[str]:
    """Runs whose probe pods are all past their activeDeadlineSeconds, on the API server's clock.

    A run waits for its pods at most --mtls-window + --probe-timeout after creating the last one,
    DEADLINE_MARGIN less than that pod's deadline, so by then the run is over, ended or killed,
    and the kubelet has stopped its pods. A younger run may be a concurrent one (the nightly job
    and an SRE's gate on the same cluster): its pods are left alone. A pod without a deadline or
    creation time (not ours to reason about) makes its run count as expired: it is debris."""
    runs, live = set(), set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        run_id = (meta.get("labels") or {}).get(RUN_LABEL)
        if not run_id:
            continue
        runs.add(run_id)
        end = _deadline(meta.get("creationTimestamp"), (pod.get("spec") or {}).get("activeDeadlineSeconds"))
        if end is not None and now < end:
            live.add(run_id)
    return sorted(runs - live)


def _deadline(created: str | None, seconds) -> datetime | None:
    if not created or not seconds:
        return None
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")) + timedelta(seconds=float(seconds))
    except ValueError:
        return None


def plan(targets: list[dict], per_probe: int = ENDPOINTS_PER_PROBE) -> list[list[dict]]:
    """Split the ztunnel endpoints into the fewest chunks of <= per_probe, at most one per node."""
    if not targets:
        return []
    nodes = len({t.get("node") or t["pod"] for t in targets})
    count = max(1, min(nodes, math.ceil(len(targets) / per_probe)))
    ordered = sorted(targets, key=lambda t: t["pod"])
    return [ordered[i::count] for i in range(count)]


def manifest(name: str, namespace: str, run_id: str, image: str, targets: list[dict], *,
             window: float, timeout: float, destination_namespaces: list[str]) -> dict:
    labels = {MANAGED_BY: MANAGER, RUN_LABEL: run_id, "app.kubernetes.io/name": "ossm-conformance-probe",
              # Never enrolled: an enrolled probe's own scrapes would show up as plaintext noise.
              "istio.io/dataplane-mode": "none"}
    env = {
        "PROBE_TARGETS": json.dumps([{k: t[k] for k in ("pod", "node", "ip")} for t in targets], separators=(",", ":")),
        "PROBE_WINDOW": f"{window:g}",
        "PROBE_NAMESPACES": ",".join(destination_namespaces),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "activeDeadlineSeconds": int(math.ceil(window + timeout + DEADLINE_MARGIN)),
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {RUN_LABEL: run_id}},
                "topologyKey": "kubernetes.io/hostname",
            }]}},
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["python3", "-c", PROGRAM],
                "env": [{"name": k, "value": v} for k, v in env.items()],
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "resources": {"requests": {"cpu": "20m", "memory": "48Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }
