"""A small, fast `make bench`: the API-cost targets on two small twins, the realistic padding and
the memory-limited run on one of them, and the report from those measurements.

The base twin (8 nodes) and one with 16 generated tenants (20 in its profile), each in its own
temporary lab with the audit log on and without the lab's services (only the API-state suite runs
here, so no fixed addresses are bound and other labs are left alone). Requests are counted from
the audit log by the suite's User-Agent, as bench/run.py does.
"""

from __future__ import annotations

import json

import pytest

from bench import profile_gen, report
from bench.run import lab, pad, up
from bench.scenario import Measured, Series, Twin, floor_command, limited_run, measure, pytest_bound, served, suite_command

pytestmark = [pytest.mark.lab, pytest.mark.slow]

NODES = 8


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """{generated tenants: Twin}, both seeded before any test runs, both stopped at the end."""
    made = {}
    try:
        for generated in (0, 16):
            lab_dir = tmp_path_factory.mktemp(f"bench-{generated}")
            up(lab_dir, NODES, generated, 4 if generated else 0, log=print, services=False)  # + namespaces to pad
            profile = (profile_gen.write(lab_dir / "bench-profile.yaml", generated) if generated
                       else profile_gen.BASE_PROFILE)
            made[generated] = Twin(lab_dir, profile)
        yield made
    finally:
        for twin in made.values():
            lab(twin.lab_dir, "down")


def _api_state(twin: Twin, *extra: str):
    return measure(twin, suite_command(twin, "-m", "not mtls", *extra), "the API-state suite")


@pytest.fixture(scope="module")
def scaled_serial(twins):
    """The API-state suite, serial, on the twin with 16 generated tenants (measured once for the module)."""
    return _api_state(twins[16])


def test_requests_do_not_grow_with_tenants(twins, scaled_serial):
    base, scaled = _api_state(twins[0]), scaled_serial
    assert scaled.outcomes["passed"] > base.outcomes["passed"]  # the 16 tenants were really checked
    assert scaled.requests.by_call == base.requests.by_call, (scaled.requests.by_call, base.requests.by_call)
    assert base.requests.by_call["list pods"] == 1 and base.requests.probe_pods == 0


def test_xdist_adds_no_requests(twins, scaled_serial):
    serial, parallel = scaled_serial, _api_state(twins[16], "-n", "2")
    assert parallel.outcomes["passed"] == serial.outcomes["passed"]
    assert parallel.requests.total <= 1.1 * serial.requests.total, (parallel.requests.by_call, serial.requests.by_call)


def test_pytest_bound_reads_like_the_floor_then_runs_empty_tests(twins):
    bound = pytest_bound(twins[0], 25)
    assert bound.outcomes == {"passed": 25} and bound.seconds > 0
    assert bound.requests.total == 0  # its reads carry the floor's User-Agent, never counted as the suite's


def test_render_pads_to_a_namespace_count():
    from lab import seed

    base = seed.namespaces(seed.render(nodes=NODES))
    padded = seed.render(nodes=NODES, extra_tenants=3, extra_namespaces=5)
    outside = [o for o in padded if o["kind"] == "Namespace" and o["metadata"]["name"].startswith("app-")]
    assert len(seed.namespaces(padded)) == len(base) + 3 + 5
    assert len(outside) == 5 and not any(o["metadata"].get("labels") for o in outside)
    assert len(profile_gen.render(3)["tenants"]) == len(profile_gen.render(0)["tenants"]) + 3


def test_audit_counts_only_the_suites_completed_requests(tmp_path):
    from bench import audit

    def event(stage, verb, resource, agent="ossm-conformance/0.1.0", ns=None, code=200, t="2026-11-26T17:00:00.000000Z"):
        ref = {"resource": resource, **({"namespace": ns} if ns else {})}
        return json.dumps({"stage": stage, "verb": verb, "objectRef": ref, "userAgent": agent,
                           "responseStatus": {"code": code}, "requestReceivedTimestamp": t, "stageTimestamp": t})

    log = tmp_path / "audit.log"
    log.write_text(event("ResponseComplete", "list", "pods") + "\n")
    start = audit.mark(log)
    lines = [event("RequestReceived", "list", "pods"), event("ResponseComplete", "list", "pods"),
             event("ResponseComplete", "list", "pods", agent="lab-node-agent"),
             event("ResponseComplete", "create", "pods", ns="ossm-conformance", code=201, t="2026-11-26T17:00:01.000000Z"),
             event("ResponseComplete", "deletecollection", "pods", ns="ossm-conformance", t="2026-11-26T17:00:04.500000Z"),
             "{cut by a concurrent wri"]
    with open(log, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    counted = audit.since(log, start)
    assert counted.by_call == {"list pods": 1, "create pods": 1, "deletecollection pods": 1}
    assert counted.probe_pods == 1 and counted.probe_seconds == 3.5


def test_profile_diff_finds_every_generated_tenant(twins):
    """Issue 15 at small scale (`make bench-draft` times it at 500 tenants): the drafter reads
    the scaled twin as its generated profile describes it, tenant for tenant."""
    import subprocess
    import sys

    from bench.scenario import REPO

    twin = twins[16]
    run = subprocess.run([sys.executable, "-m", "ossm_conformance.draft", "--kubeconfig", str(twin.kubeconfig),
                          "--diff", str(twin.profile), "--no-edges"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr


@pytest.fixture(scope="module")
def padded(twins):
    """The 16-tenant twin padded with OpenShift-sized pods (a few in its tenants), as make bench pads."""
    twin = twins[16]
    in_mesh = pad(twin.lab_dir, twin.profile, pods=160, mesh_pods=60, log=print)
    return twin, in_mesh


def test_padding_makes_openshift_sized_pods_the_suite_still_passes_on(padded):
    twin, in_mesh = padded
    floor = measure(twin, floor_command(twin), "the floor script", must_pass=False)
    pods = served(floor)["pods"]
    assert pods["objects"] >= 160 and in_mesh >= 60
    assert pods["bytes"] / pods["objects"] > 8000  # most pods are OpenShift-sized (12-16 KB each as served)
    suite = _api_state(twin)
    assert suite.outcomes["passed"] and not suite.outcomes.get("failed")


def test_a_run_under_the_cronjobs_memory_limit_gives_the_same_verdicts(padded):
    twin, _ = padded
    free, limited = _api_state(twin), limited_run(twin, 512)
    assert limited.outcomes == free.outcomes and limited.limit
    assert limited.maxrss_kb < 512 * 1024


def test_the_report_judges_and_tabulates_every_target(padded):
    twin, in_mesh = padded
    one = lambda sample: Series([sample])  # noqa: E731
    floor = measure(twin, floor_command(twin), "the floor script", must_pass=False)
    serial = _api_state(twin)
    mtls = measure(twin, suite_command(twin, "-m", "mtls", "--collect-only"), "collect mTLS", must_pass=False)
    bound = pytest_bound(twin, serial.outcomes["passed"])
    m = Measured("smoke", NODES, 20, 40, 1.0, one(floor), one(serial), one(serial), one(mtls), 2, one(bound),
                 served(floor)["pods"]["objects"], in_mesh, served(floor), limited_run(twin, 512))
    verdicts = report.verdicts(m, m, m, 150, 512)
    for target in ("API requests (pages)", "API-state wall time <= 1.3x the floor",
                   "API-state wall time <= 1.25x the pytest bound", "peak RSS of the suite",
                   "same verdicts under the CronJob's 512 MiB limit", "-n 2 requests <= 1.1x serial", "probe pods"):
        assert any(v.target.startswith(target) for v in verdicts), (target, [v.target for v in verdicts])
    limit = next(v for v in verdicts if v.target.startswith("same verdicts"))
    assert limit.ok, limit.evidence
    doc = report.markdown([m], verdicts, "make bench ...", "today", 1)
    assert "## What the API server served" in doc and "| pods |" in doc and "smoke:" in doc
    assert "| call | smoke (20 tenants) |" in doc, "each requests column names its scale"
