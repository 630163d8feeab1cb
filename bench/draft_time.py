"""`make bench-draft`: how long `make profile` takes on a scaled twin, and whether it drafts it right.

    python -m bench.draft_time [--nodes 20] [--tenants 500] [--namespaces 2000] [--window 10] [--lab-dir DIR]

Seeds a twin with --tenants generated ambient tenants (each with its client -> server traffic) in
its own lab with the lab's services (ztunnel endpoints, Prometheus), or reuses a lab already running
in --lab-dir. Then, timed as a user sees it (a fresh process, wall clock): the draft with edges from
the lab's Prometheus, and profile-diff of the lab's generated profile (bench/profile_gen.py) against
the cluster, which must find no difference for the generated tenants: each drafted as seeded, with its edge. A lab this
script started is stopped at the end. Kept out of `make test` (seeding 500 tenants takes minutes);
tests/lab/test_bench_smoke.py runs the small version.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench import profile_gen
from bench.run import REPO, base_namespaces, lab, up


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    return time.monotonic() - started, proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.draft_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=2000, help="namespaces of the twin in all")
    parser.add_argument("--window", type=float, default=10.0, help="edge observation window (Prometheus increase())")
    parser.add_argument("--lab-dir", type=Path, default=REPO / ".lab-bench-draft")
    args = parser.parse_args(argv)
    from lab import control_plane
    from lab.paths import LabPaths

    started_here = "kube-apiserver" not in control_plane.running(LabPaths(args.lab_dir))
    try:
        if started_here:
            base_ns, _ = base_namespaces()
            seconds = up(args.lab_dir, args.nodes, args.tenants, max(0, args.namespaces - base_ns - args.tenants), print)
            print(f"seeded {args.tenants} generated tenants on {args.nodes} nodes in {seconds:.0f} s")
        env = control_plane.read_env(LabPaths(args.lab_dir))
        kubeconfig, prom = env["KUBECONFIG"], env.get("LAB_PROMETHEUS_URL")
        if not prom:
            print("bench-draft: the lab runs without services (no Prometheus): start it with them", file=sys.stderr)
            return 1
        profile = profile_gen.write(args.lab_dir / "bench-profile.yaml", args.tenants)
        common = [sys.executable, "-m", "ossm_conformance.draft", "--kubeconfig", kubeconfig,
                  "--prometheus-url", prom, "--window", f"{args.window:g}"]
        out = args.lab_dir / "drafted-profile.yaml"
        draft_s, drafted = timed(common + ["-o", str(out), "--force", "--cluster", "spoke-dc-v6-scaled"])
        diff_s, diffed = timed(common + ["--diff", str(profile)])
        print(f"draft:        {draft_s:.1f} s  exit {drafted.returncode}  {drafted.stderr.strip()}")
        print(f"profile-diff: {diff_s:.1f} s  exit {diffed.returncode}  {diffed.stderr.strip().splitlines()[-1:]}")
        for line in diffed.stdout.splitlines()[:20]:
            print(f"  {line}")
        # The base twin's own extra traffic may differ from its profile (a person's call); the
        # generated tenants must come out exactly as seeded, edges included.
        missed = [line for line in diffed.stdout.splitlines() if "tenant-" in line]
        print(f"generated tenants drafted as seeded: {'yes' if not missed else f'NO ({len(missed)} differences)'}")
        return 0 if drafted.returncode == 0 and diffed.returncode in (0, 1) and not missed else 1
    finally:
        if started_here:
            print(lab(args.lab_dir, "down").stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
