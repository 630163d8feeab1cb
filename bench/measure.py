"""Run one command and report its wall time and peak memory as JSON, nothing else.

    python -m bench.measure --result out.json [--memory-limit-mb 512] -- python -m pytest ...

A fresh process per measurement because getrusage(RUSAGE_CHILDREN).ru_maxrss is a high-water
mark over every child a process ever waited for: measured from the bench driver itself, a later
run would inherit an earlier run's peak. It is the largest single process of the tree (with
xdist, the biggest of controller and workers), as getrusage(2) defines it, not their sum.

--memory-limit-mb runs the command as the in-cluster CronJob runs it: in a memory cgroup with that
limit (the container's `limits.memory`; the kernel OOM-kills past it), cgroup v1 or v2, whichever
this machine lets root write, and reports the cgroup's peak (`group_peak_kb`: every process of the
tree at once, shared pages counted once). Where neither can be had it falls back to an address-space limit
(RLIMIT_AS, stricter: it counts reserved, not used, memory) and says so in `limit`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup/memory")
CGROUP_V2 = Path("/sys/fs/cgroup/unified")


def _memory_cgroup(limit: int) -> tuple[Path, str] | None:
    """A fresh memory cgroup limited to `limit` bytes, and how it was made; None if not possible."""
    name = f"ossm-bench-{os.getpid()}"
    for root, knob, kind in ((CGROUP_V1, "memory.limit_in_bytes", "cgroup v1"), (CGROUP_V2, "memory.max", "cgroup v2")):
        group = root / name
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / knob).write_text(str(limit))
            swap = group / "memory.memsw.limit_in_bytes"  # v1: no swapping past the limit either
            if swap.exists():
                swap.write_text(str(limit))
            return group, kind
        except OSError:
            group.rmdir()
    return None


def _group_peak_kb(group: Path) -> int:
    """The cgroup's high-water mark: the whole process tree at once (the suite and its snapshot
    reader, kube/background.py), as the kernel charges it against the limit. 0 if unreadable."""
    for knob in ("memory.max_usage_in_bytes", "memory.peak"):  # cgroup v1, v2
        try:
            return int((group / knob).read_text()) // 1024
        except (OSError, ValueError):
            continue
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.measure")
    parser.add_argument("--result", required=True, help="where to write {seconds, maxrss_kb, exit_code, limit}")
    parser.add_argument("--memory-limit-mb", type=int, default=0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    limit_text, group, preexec = "", None, None
    if args.memory_limit_mb:
        limit = args.memory_limit_mb * 1024 * 1024
        made = _memory_cgroup(limit)
        if made:
            group, kind = made
            limit_text = f"{kind} memory limit {args.memory_limit_mb} MiB"
            preexec = lambda: (group / "cgroup.procs").write_text(str(os.getpid()))  # noqa: E731
        else:
            limit_text = f"RLIMIT_AS {args.memory_limit_mb} MiB (no writable memory cgroup)"
            preexec = lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # noqa: E731
    started = time.monotonic()
    group_peak_kb = 0
    try:
        code = subprocess.call(command, preexec_fn=preexec)
    finally:
        if group is not None:
            group_peak_kb = _group_peak_kb(group)
            try:
                group.rmdir()
            except OSError:
                pass
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    with open(args.result, "w") as fh:
        json.dump({"seconds": round(seconds, 3), "maxrss_kb": peak, "exit_code": code, "limit": limit_text,
                   "group_peak_kb": group_peak_kb}, fh)
    return code


if __name__ == "__main__":
    sys.exit(main())
