"""`make bench`: seed a scaled twin, measure the suite against the floor, check issue 7's targets.

    python -m bench.run [--nodes 300] [--tenants 500] [--namespaces 2000] [--runs 3] [--workers 4]

Two twins with the same nodes, one after the other in their own lab (OSSM_LAB_DIR, default
<repo>/.lab-bench, with the audit log on): the base twin plus a few generated tenants (10 in the
profile) and the scaled one (--tenants generated ambient tenants, padded with namespaces outside
the mesh to --namespaces). Same nodes on both, so a difference between them is the tenants' doing.
Each twin gets its generated profile (bench/profile_gen.py) and is measured by bench/scenario.py.
The lab is stopped at the end, on failure and on Ctrl-C/SIGTERM. Exit 0 only when every target holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tenacity

from bench import profile_gen, report
from bench.scenario import BenchError, Measured, Twin, run_all

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
from ossm_conformance.mtls.pod_spec import ENDPOINTS_PER_PROBE  # noqa: E402

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
    retrying = tenacity.Retrying(stop=tenacity.stop_after_delay(budget), wait=tenacity.wait_fixed(0.5),
                                 retry=tenacity.retry_if_result(lambda code: code != 0))
    try:
        retrying(lambda: subprocess.run(command, cwd=REPO, capture_output=True).returncode)
    except tenacity.RetryError:
        raise BenchError(f"the lab in {lab_dir} did not answer every read of the plan within {budget:g} s") from None


def measure_scale(label: str, lab_dir: Path, nodes: int, generated: int, extra_ns: int, profiled: int,
                  base_ns: int, runs: int, workers: int, log) -> Measured:
    log(f"{label}: seeding {nodes} nodes, {generated} generated tenants, {extra_ns} namespaces outside the mesh")
    try:
        seed_seconds = up(lab_dir, nodes, generated, extra_ns, log)
        log(f"  seeded in {seed_seconds:.0f} s")
        profile = profile_gen.write(lab_dir / "bench-profile.yaml", generated)
        series = run_all(Twin(lab_dir, profile), runs, workers, log)
    finally:
        down = lab(lab_dir, "down")
        log(f"  {down.stdout.strip() or down.stderr.strip()}")
    return Measured(label, nodes, profiled + generated, base_ns + generated + extra_ns, seed_seconds,
                    series["floor"], series["serial"], series["parallel"], series["mtls"], workers,
                    series["bound"])


def _terminate(signum, frame):
    raise KeyboardInterrupt  # unwinds through measure_scale's `finally`: the lab goes down


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=500, help="generated ambient tenants of the scaled twin")
    parser.add_argument("--namespaces", type=int, default=2000, help="namespaces of the scaled twin in all")
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
    try:
        small = measure_scale("small", args.lab_dir, args.nodes, small_generated, 0, base_tenants, base_ns,
                              args.runs, args.workers, log)
        large = measure_scale("large", args.lab_dir, args.nodes, args.tenants, extra_ns, base_tenants, base_ns,
                              args.runs, args.workers, log)
    except BenchError as exc:
        print(f"bench: FAIL: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted (lab stopped)", file=sys.stderr)
        return 130

    results = report.verdicts(small, large, ENDPOINTS_PER_PROBE)
    command = (f"make bench NODES={args.nodes} TENANTS={args.tenants} NAMESPACES={args.namespaces} "
               f"RUNS={args.runs}")
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(report.text_table([small, large]))
    print()
    for v in results:
        print(v.line())
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(report.markdown([small, large], results, command, date, args.runs))
    print(f"\nwrote {args.doc.relative_to(REPO) if args.doc.is_relative_to(REPO) else args.doc} "
          f"({time.monotonic() - started:.0f} s in all)")
    return 0 if all(v.ok for v in results) else 1


if __name__ == "__main__":
    sys.exit(main())
