"""Probe pods: few of them at scale, one per node at most, restricted-v2 friendly, reaped by deadline."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

from ossm_conformance.mtls import options, pod_spec


def _targets(n: int, nodes: int) -> list[dict]:
    return [{"pod": f"ztunnel-{i:04d}", "node": f"node-{i % nodes}", "ip": f"10.0.{i // 250}.{i % 250}"} for i in range(n)]


def test_plan_is_bounded_by_endpoints_not_tenants():
    assert [len(c) for c in pod_spec.plan(_targets(3, 3))] == [3]
    chunks = pod_spec.plan(_targets(500, 500))
    assert len(chunks) == 4 and sum(map(len, chunks)) == 500 and max(map(len, chunks)) <= pod_spec.ENDPOINTS_PER_PROBE
    assert len(pod_spec.plan(_targets(500, 2))) == 2  # never more probes than nodes (anti-affinity would strand them)
    assert pod_spec.plan([]) == []


def test_manifest_is_short_lived_labelled_and_unprivileged():
    pod = pod_spec.manifest("ossm-probe-abc-0", "ossm-conformance", "abc", "img", _targets(2, 2),
                            window=60, timeout=180, destination_namespaces=["a", "b"])
    spec, meta = pod["spec"], pod["metadata"]
    assert meta["labels"][pod_spec.MANAGED_BY] == "ossm-conformance" and meta["labels"][pod_spec.RUN_LABEL] == "abc"
    assert meta["labels"]["istio.io/dataplane-mode"] == "none"
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert spec["activeDeadlineSeconds"] == 60 + 180 + pod_spec.DEADLINE_MARGIN
    assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    [c] = spec["containers"]
    assert c["command"][:2] == ["python3", "-c"] and "def main(" in c["command"][2]
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"]["memory"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert len(json.loads(env["PROBE_TARGETS"])) == 2 and env["PROBE_NAMESPACES"] == "a,b" and env["PROBE_WINDOW"] == "60"
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname" and anti["labelSelector"]["matchLabels"] == {pod_spec.RUN_LABEL: "abc"}


def _opt(**kw):
    base = dict(mtls_source="probe", mtls_window=60.0, probe_timeout=180.0, probe_image="img", probe_namespace="ossm-conformance",
                prometheus_url=None, prometheus_token=None, prometheus_ca=None, prometheus_insecure=False)
    return SimpleNamespace(**{**base, **kw})


def test_option_problems_are_one_line():
    assert options.problem(_opt()) is None
    assert options.problem(_opt(mtls_source="both", prometheus_url="https://thanos.example:9091")) is None
    assert "needs --prometheus-url" in options.problem(_opt(mtls_source="prometheus"))
    assert "not an http(s) URL" in options.problem(_opt(prometheus_url="thanos:9091"))
    assert "--mtls-window" in options.problem(_opt(mtls_window=0))
    assert "no such file" in options.problem(_opt(prometheus_ca="/nonexistent/ca.crt"))
    assert "--probe-namespace" in options.problem(_opt(probe_namespace="Bad_NS"))


def _probe(run_id: str, created: str | None, deadline: int | None = 100) -> dict:
    meta = {"name": f"ossm-probe-{run_id}-0", "labels": {pod_spec.MANAGED_BY: pod_spec.MANAGER, pod_spec.RUN_LABEL: run_id}}
    if created:
        meta["creationTimestamp"] = created
    return {"metadata": meta, "spec": {"activeDeadlineSeconds": deadline} if deadline else {}}


def test_only_runs_past_their_deadline_are_expired():
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
    pods = [
        _probe("killed", "2026-11-26T11:58:19Z"),      # deadline 11:59:59: over, its run is gone
        _probe("exactly", "2026-11-26T11:58:20Z"),     # deadline reached now: over
        _probe("concurrent", "2026-11-26T11:59:50Z"),  # another run, still inside its deadline
        _probe("no-deadline", "2026-11-26T11:59:59Z", deadline=None),  # not reasoned about: debris
        _probe("unstamped", None),
    ]
    assert pod_spec.expired_runs(pods, now) == ["exactly", "killed", "no-deadline", "unstamped"]


def test_a_run_is_live_while_any_of_its_pods_is():
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
    # The second pod was created later (a slow admission): the run may still be waiting for it.
    pods = [_probe("r", "2026-11-26T11:58:00Z"), _probe("r", "2026-11-26T11:59:00Z")]
    assert pod_spec.expired_runs(pods, now) == []
    assert pod_spec.expired_runs([{"metadata": {"labels": {}}}], now) == []  # unlabelled: not a run of ours
