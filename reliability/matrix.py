"""The run matrix: every fault kind × the healthy twin and three lab faults, each faulted run compared
with the fault-free run of the same lab state (same identity, same options).

A cell passes when the per-test outcomes and the exit code are identical, the faulted run took at
most 2 × the fault-free time + --settle-timeout, and no probe pod is left behind.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab import faults as lab_faults
from lab.suite_runner import SuiteRun, lab_options, run_suite

from . import identity
from .fault import Fault, LabContext

LAB_FAULTS = (None, "ztunnel-daemonset-degraded", "ztunnel-rbac-missing", "plaintext-traffic")
SETTLE_TIMEOUT = 6.0     # ~10 asked; 6 keeps the 28 runs (faulted twins fail slowly) near 15 min
REQUEST_TIMEOUT = 3.0   # shorter than the etcd pause, so that pause shows up as real read timeouts
PROBE_LABEL = "app.kubernetes.io/managed-by=ossm-conformance"


@dataclass
class Timed:
    run: SuiteRun
    seconds: float


@dataclass
class Cell:
    kind: str
    lab_fault: str | None
    baseline: Timed
    faulted: Timed
    changes: list[str] = field(default_factory=list)
    leftover_pods: list[str] = field(default_factory=list)

    @property
    def limit(self) -> float:
        return 2 * self.baseline.seconds + SETTLE_TIMEOUT

    @property
    def too_slow(self) -> bool:
        return self.faulted.seconds > self.limit

    @property
    def ok(self) -> bool:
        return not self.changes and not self.too_slow and not self.leftover_pods


def suite_args(lab: LabContext) -> list[str]:
    # Short windows: the lab's counters tick every second and its faults are stable.
    return [*lab_options(lab.prometheus_url), "--mtls-window", "3", "--settle-timeout", f"{SETTLE_TIMEOUT:g}",
            "--request-timeout", f"{REQUEST_TIMEOUT:g}"]


def timed_run(lab: LabContext, kubeconfig: Path, tag: str, fault: Fault | None = None,
              timeout: float = 300) -> Timed:
    tmp = lab.workdir / tag
    tmp.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    injector = threading.Thread(target=fault.alongside, args=(stop,), daemon=True) if fault else None
    started = time.monotonic()
    if injector:
        injector.start()
    try:
        run = run_suite(kubeconfig, tmp, *suite_args(lab), timeout=timeout)
    except subprocess.TimeoutExpired:
        run = SuiteRun(-1, output=f"killed after {timeout:.0f} s")   # no outcomes: every test counts as changed
    finally:
        seconds = time.monotonic() - started
        stop.set()
        if injector:
            injector.join(timeout=120)   # a restart or pause in progress finishes first (bounded)
    return Timed(run, seconds)


def compare(baseline: SuiteRun, faulted: SuiteRun) -> list[str]:
    changes = [f"{test}: {baseline.outcomes.get(test, 'absent')} -> {faulted.outcomes.get(test, 'absent')}"
               for test in sorted(set(baseline.outcomes) | set(faulted.outcomes))
               if baseline.outcomes.get(test) != faulted.outcomes.get(test)]
    if baseline.exit_code != faulted.exit_code:
        changes.append(f"exit code: {baseline.exit_code} -> {faulted.exit_code}")
    return changes


def why(cell: Cell) -> str:
    """The first changed test and the faulted run's reason, for the console (not the table)."""
    parts = cell.changes[:1] + [f"probe pods left: {cell.leftover_pods}"] * bool(cell.leftover_pods)
    test = cell.changes[0].rsplit(": ", 1)[0] if cell.changes and "::" in cell.changes[0] else None
    if test:
        parts.append(" ".join(cell.faulted.run.messages.get(test, "").split())[:600])
    elif cell.changes:
        parts.append(cell.faulted.run.output[-600:])
    return " | ".join(parts)


def leftover_probe_pods(lab: LabContext) -> list[str]:
    pods = lab.admin.request("GET", "/api/v1/pods", query={"labelSelector": PROBE_LABEL}).get("items") or []
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods]


def run_matrix(lab: LabContext, kinds: list[Fault], progress) -> list[Cell]:
    """Lab state outer (each fault applied once), fault kind inner; the twin is reset after each state."""
    user_kubeconfig = identity.write_kubeconfig(lab.paths, lab.api_url, lab.workdir / "user.kubeconfig")
    identity.grant(lab.admin)
    cells: list[Cell] = []
    try:
        for lab_fault in LAB_FAULTS:
            state = lab_fault or "healthy"
            if lab_fault:
                lab_faults.apply(lab_fault, lab.paths.kubeconfig)
            try:
                baseline = timed_run(lab, user_kubeconfig, f"{state}/baseline")
                progress(f"{state}: fault-free run {baseline.seconds:.1f} s, exit {baseline.run.exit_code}")
                for kind in kinds:
                    with kind.installed(lab):
                        server = kind.server()
                        kubeconfig = (identity.pointed_at(user_kubeconfig, server, lab.workdir / "proxy.kubeconfig")
                                      if server else user_kubeconfig)
                        faulted = timed_run(lab, kubeconfig, f"{state}/{type(kind).__name__}", kind,
                                            timeout=4 * baseline.seconds + 120)
                    cell = Cell(kind.kind, lab_fault, baseline, faulted, compare(baseline.run, faulted.run),
                                leftover_probe_pods(lab))
                    cells.append(cell)
                    progress(f"{state}: {kind.kind}: {faulted.seconds:.1f} s (limit {cell.limit:.1f}), "
                             f"{len(cell.changes)} verdict changes"
                             + ("" if cell.ok else f"\n  {why(cell)}"))
            finally:
                if lab_fault:
                    lab_faults.reset(lab.paths.kubeconfig)
    finally:
        identity.revoke(lab.admin)
    return cells
