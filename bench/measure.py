"""Run one command and report its wall time and peak memory as JSON, nothing else.

    python -m bench.measure --result out.json -- python -m pytest ...

A fresh process per measurement because getrusage(RUSAGE_CHILDREN).ru_maxrss is a high-water
mark over every child a process ever waited for: measured from the bench driver itself, a later
run would inherit an earlier run's peak. It is the largest single process of the tree (with
xdist, the biggest of controller and workers), as getrusage(2) defines it, not their sum.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.measure")
    parser.add_argument("--result", required=True, help="where to write {seconds, maxrss_kb, exit_code}")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    started = time.monotonic()
    code = subprocess.call(command)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    with open(args.result, "w") as fh:
        json.dump({"seconds": round(seconds, 3), "maxrss_kb": peak, "exit_code": code}, fh)
    return code


if __name__ == "__main__":
    sys.exit(main())
