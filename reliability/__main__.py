"""python -m reliability [--only KIND ...] [--out docs/reliability.md]

Runs the suite under every fault kind against the lab in $OSSM_LAB_DIR (started here, and stopped
at the end, if it is not running), writes docs/reliability.md and exits 0 only when no verdict
changed, no run was too slow and no probe pod was left. Exit 1 otherwise, 2 on bad usage, 3 when
the lab could not be started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab import control_plane as cp
from lab.kubeapi import Api
from lab.paths import REPO, LabPaths

from . import report
from .apf import ApfStarvation
from .apiserver_restart import ApiserverRestart
from .etcd_pause import EtcdPause
from .fault import LabContext
from .matrix import run_matrix
from .toxiproxy import Bandwidth, Latency, Resets

KINDS = {"apf": ApfStarvation, "etcd-pause": EtcdPause, "apiserver-restart": ApiserverRestart,
         "latency": Latency, "bandwidth": Bandwidth, "resets": Resets}


def _lab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(KINDS), help="run only this fault kind (repeatable)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    args = parser.parse_args(argv)
    kinds = [KINDS[k]() for k in (args.only or KINDS)]

    paths = LabPaths()
    started_here = "kube-apiserver" not in cp.running(paths)
    if started_here:
        print(f"reliability: starting a lab in {paths.root}", flush=True)
        up = _lab_cli("up")
        if up.returncode:
            _lab_cli("down")
            print(f"reliability: `python -m lab up` failed: {(up.stderr or up.stdout).strip()[-500:]}", file=sys.stderr)
            return 3
    env = cp.read_env(paths)
    admin = Api(paths.kubeconfig)
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ossm-reliability-") as work:
            lab = LabContext(paths, admin, env["LAB_API_URL"], env["LAB_PROMETHEUS_URL"], Path(work))
            cells = run_matrix(lab, kinds, lambda line: print(f"reliability: {line}", flush=True))
    finally:
        admin.close()
        if started_here:
            _lab_cli("down")
    elapsed = time.monotonic() - t0
    report.write(args.out, kinds, cells, elapsed)
    bad = [c for c in cells if not c.ok]
    print(f"reliability: {sum(len(c.changes) for c in cells)} verdict changes, {len(bad)} of {len(cells)} runs "
          f"failed, {elapsed / 60:.1f} min; table in {os.path.relpath(args.out, REPO)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
