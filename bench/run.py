"""`make bench`: seed scaled twins, measure the suite against the floor, check issue 14's targets.

    python -m bench.run [--nodes 300] [--tenants 500] [--namespaces 2000] [--pods 20000]
                        [--mesh-pods 2500] [--runs 3] [--workers 4] [--memory-limit-mb 512]

Three twins with the same nodes, one after the other in their own lab (OSSM_LAB_DIR, default
<repo>/.lab-bench, with the audit log on):
- "10 tenants": a real spoke's size (--namespaces, --pods OpenShift-sized pods, bench/padding.py)
  whose mesh is the base twin's tenants plus a few generated ones (10 in the profile);
- "mesh-only": the earlier issue's twin, --tenants generated tenants and namespaces outside the
  mesh but small pods, nearly all of them the mesh's;
- "realistic": the same spoke with --tenants ambient tenants holding --mesh-pods of its pods.
"10 tenants" and "realistic" differ only in how much of the same cluster is the mesh's, so a
difference between them is the tenants' doing. Each twin gets its generated profile
(bench/profile_gen.py) and is measured by bench/scenario.py. The lab is stopped at the end, on
failure and on Ctrl-C/SIGTERM. Exit 0 only when every target holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tenacity

from bench import padding, profile_gen, report
from bench.scenario import BenchError, Measured, Twin, limited_run, run_all, served
from lab.wait import polling
from ossm_conformance.mtls.pod_spec import ENDPOINTS_PER_PROBE

REPO = Path(__file__).resolve().parent.parent

SMALL_TENANTS = 10           # "at 10 tenants": the base twin's profiled tenants plus a few generated
DOC = REPO / "docs" / "performance.md"


def base_namespaces() -> tuple[int, int]:
    """(namespaces of the base twin, tenants of the base profile)."""
    from lab import seed
    import yaml
    return len(seed.namespaces(seed.render(nodes=6))), len(yaml.safe_load(profile_gen.BASE_PROFILE.read_text())["tenants"])


def lab(lab_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "OSSM_LAB_DIR": str(lab_dir), "OSSM_LAB_AUDIT": "1"}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def up(lab_dir: Path, nodes: int, tenants: int, namespaces: int, log, services: bool = True) -> float:
    """Seeds a lab; returns how long `lab up` took (seeding speed is part of the bench's budget)."""
    lab(lab_dir, "down")  # a leftover from an interrupted bench would be reused, not re-seeded
    argv = ["up", "--nodes", str(nodes), "--extra-tenants", str(tenants), "--extra-namespaces", str(namespaces)]
    argv += [] if services else ["--no-services"]
    for attempt in (1, 2):  # a lab starting at the same moment may take the address slot we probed
        started = time.monotonic()
        proc = lab(lab_dir, *argv)
        if proc.returncode == 0:
            seconds = time.monotonic() - started
            warm_up(lab_dir)
            return seconds
        log(f"  lab up failed (attempt {attempt}): {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        lab(lab_dir, "down")
    raise BenchError(f"`python -m lab {' '.join(argv)}` failed: {proc.stdout}{proc.stderr}")


def warm_up(lab_dir: Path, budget: float = 60) -> None:
    """Read every kind of the plan once, unmeasured, until all answer 200. A fresh API server
    answers 429 "storage is (re)initializing" while the watch cache of a kind fills; the suite
    rightly retries those, but the retry would then count as a suite request."""
    command = [sys.executable, "-m", "bench.floor", "--kubeconfig", str(lab_dir / "kubeconfig"),
               "--profile", str(profile_gen.BASE_PROFILE)]  # the plan reads the same kinds for every profile
    retrying = polling(budget, every=0.5, retry=tenacity.retry_if_result(lambda code: code != 0))
    try:
        retrying(lambda: subprocess.run(command, cwd=REPO, capture_output=True).returncode)
    except tenacity.RetryError:
        raise BenchError(f"the lab in {lab_dir} did not answer every read of the plan within {budget:g} s") from None


def pad(lab_dir: Path, profile: Path, pods: int, mesh_pods: int, log) -> int:
    """OpenShift-sized pods until the twin holds `pods`, `mesh_pods` of them in its ambient tenants.
    Returns the pods in ambient tenants."""
    import yaml
    from lab.kubeapi import KINDS, Api
    api = Api(lab_dir / "kubeconfig")
    try:
        tenants = [t["namespace"] for t in yaml.safe_load(profile.read_text())["tenants"]
                   if t["mode"] in ("ambient", "ambient+waypoint")]
        namespace_kind = next(k for k in KINDS if k.kind == "Namespace")
        outside = sorted(n["metadata"]["name"] for n in api.list(namespace_kind) if n["metadata"]["name"].startswith("app-"))
        started = time.monotonic()
        added = padding.pad(api, tenants, outside, pods, mesh_pods, log)
        log(f"  padded in {time.monotonic() - started:.0f} s: {added}")
        pod_kind = next(k for k in KINDS if k.kind == "Pod")
        return sum(len(api.list(pod_kind, ns)) for ns in tenants)
    finally:
        api.close()


@dataclass
class Seeded:
    lab_dir: Path
    nodes: int
    generated: int           # generated ambient tenants in the twin
    namespaces: int
    seconds: float
    mesh_pods: int = 0       # pods in ambient tenants (realistic twins)


def seed_twin(label: str, lab_dir: Path, nodes: int, generated: int, extra_ns: int, namespaces: int, log,
              pods: int = 0, mesh_pods: int = 0) -> Seeded:
    log(f"{label}: seeding {nodes} nodes, {generated} generated tenants, {extra_ns} namespaces outside the mesh"
        + (f", padded to {pods} OpenShift-sized pods ({mesh_pods} in the mesh)" if pods else ""))
    started = time.monotonic()
    up(lab_dir, nodes, generated, extra_ns, log)
    in_mesh = pad(lab_dir, profile_gen.write(lab_dir / "all-tenants.yaml", generated), pods, mesh_pods, log) if pods else 0
    seconds = time.monotonic() - started
    log(f"  seeded in {seconds:.0f} s")
    return Seeded(lab_dir, nodes, generated, namespaces, seconds, in_mesh)


def measure_twin(label: str, seeded: Seeded, profiled: int, base_tenants: int, runs: int, workers: int, log,
                 bound: bool = False, memory_limit_mb: int = 0) -> Measured:
    """The twin measured with a profile of its first `profiled` generated tenants (the others listed
    as ignored: the same cluster, a smaller mesh to check)."""
    log(f"{label}: measuring with {base_tenants + profiled} tenants in the profile")
    profile = profile_gen.write(seeded.lab_dir / f"profile-{profiled}.yaml", profiled, ignored=seeded.generated - profiled)
    twin = Twin(seeded.lab_dir, profile)
    series = run_all(twin, runs, workers, log, bound=bound)
    limited = None
    if memory_limit_mb:
        limited = limited_run(twin, memory_limit_mb)
        log(f"  under {limited.limit}: {limited.outcomes}, peak {limited.maxrss_kb // 1024} MB")
    per_kind = served(series["floor"].samples[-1])
    return Measured(label, seeded.nodes, base_tenants + profiled, seeded.namespaces, seeded.seconds,
                    series["floor"], series["serial"], series["parallel"], series["mtls"], workers,
                    series["bound"], per_kind.get("pods", {}).get("objects", 0), seeded.mesh_pods, per_kind, limited)


def _down(lab_dir: Path, log) -> None:
    down = lab(lab_dir, "down")
    log(f"  {down.stdout.strip() or down.stderr.strip()}")


def _terminate(signum, frame):
    raise KeyboardInterrupt  # unwinds through main's `finally`: the lab goes down


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=500, help="generated ambient tenants of the scaled twin")
    parser.add_argument("--namespaces", type=int, default=2000, help="namespaces of the scaled twin in all")
    parser.add_argument("--pods", type=int, default=20000, help="pods of the realistic twins in all (OpenShift-sized)")
    parser.add_argument("--mesh-pods", type=int, default=2500, help="of which in the ambient tenants of the realistic twin")
    parser.add_argument("--memory-limit-mb", type=int, default=512,
                        help="the CronJob's limits.memory: one run of the realistic twin under it (0: skip)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="xdist workers of the parallel run")
    parser.add_argument("--lab-dir", type=Path, default=Path(os.environ.get("BENCH_LAB_DIR", REPO / ".lab-bench")))
    parser.add_argument("--doc", type=Path, default=DOC, help="where to write the table (default docs/performance.md)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    def log(msg: str) -> None:
        print(msg, flush=True)

    base_ns, base_tenants = base_namespaces()  # renders the base twin: once per bench
    small_generated = max(0, SMALL_TENANTS - base_tenants)
    extra_ns = max(0, args.namespaces - base_ns - args.tenants)
    started = time.monotonic()
    common = dict(base_tenants=base_tenants, runs=args.runs, workers=args.workers, log=log)
    try:
        try:
            seeded = seed_twin("mesh-only", args.lab_dir, args.nodes, args.tenants, extra_ns, args.namespaces, log)
            mesh_only = measure_twin("mesh-only", seeded, args.tenants, bound=True, **common)
        finally:
            _down(args.lab_dir, log)
        try:
            seeded = seed_twin("realistic", args.lab_dir, args.nodes, args.tenants, extra_ns, args.namespaces, log,
                               pods=args.pods, mesh_pods=args.mesh_pods)
            small = measure_twin("10 tenants", seeded, small_generated, **common)
            # The bound here too: at this scale pytest's own per-test cost is part of what 1.3x the floor allows.
            large = measure_twin("realistic", seeded, args.tenants, bound=True, memory_limit_mb=args.memory_limit_mb,
                                 **common)
        finally:
            _down(args.lab_dir, log)
    except BenchError as exc:
        print(f"bench: FAIL: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted (lab stopped)", file=sys.stderr)
        return 130

    measured = [small, mesh_only, large]
    results = report.verdicts(small, mesh_only, large, ENDPOINTS_PER_PROBE, args.memory_limit_mb)
    command = (f"make bench NODES={args.nodes} TENANTS={args.tenants} NAMESPACES={args.namespaces} "
               f"PODS={args.pods} MESH_PODS={args.mesh_pods} RUNS={args.runs}")
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(report.text_table(measured))
    print()
    for v in results:
        print(v.line())
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(report.markdown(measured, results, command, date, args.runs))
    print(f"\nwrote {args.doc.relative_to(REPO) if args.doc.is_relative_to(REPO) else args.doc} "
          f"({time.monotonic() - started:.0f} s in all)")
    return 0 if all(v.ok for v in results) else 1


if __name__ == "__main__":
    sys.exit(main())
