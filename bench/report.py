"""The bench's verdicts and its table: the targets of issue 7, printed and written to docs/performance.md."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.scenario import Measured

MAX_FLOOR_RATIO = 2.0       # suite wall time at most 2x the floor at the large scale
MAX_PARALLEL_RATIO = 1.1    # -n N requests at most 1.1x a serial run's
# The mTLS part's time must not grow with tenants: both scales have the same nodes, so their mTLS
# times may differ by noise only. 1.5x absorbs a shared 2-core machine, not a per-tenant cost.
MAX_MTLS_TENANT_GROWTH = 1.5


@dataclass
class Verdict:
    target: str
    ok: bool
    evidence: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.target}: {self.evidence}"


def verdicts(small: Measured, large: Measured, endpoints_per_probe: int) -> list[Verdict]:
    s_req, l_req = small.serial.requests(), large.serial.requests()
    diff = sorted(set(s_req.by_call) | set(l_req.by_call))
    changed = [f"{c}: {s_req.by_call[c]} -> {l_req.by_call[c]}" for c in diff if s_req.by_call[c] != l_req.by_call[c]]
    out = [Verdict(f"API requests at {large.tenants} tenants == at {small.tenants} tenants", not changed,
                   f"{l_req.total} vs {s_req.total}" + (f" ({'; '.join(changed)})" if changed else ", identical by verb and resource"))]

    wall, floor = large.serial.median_seconds(), large.floor.median_seconds()
    bound = large.bound.median_seconds()
    out.append(Verdict(f"suite wall time <= {MAX_FLOOR_RATIO:g}x the floor at {large.tenants} tenants",
                       wall <= MAX_FLOOR_RATIO * floor,
                       f"{wall:.2f}s vs floor {floor:.2f}s = {wall / floor:.2f}x (the ideal pytest suite, the floor's "
                       f"reads then {large.serial.samples[0].outcomes.get('passed', 0)} empty tests, takes {bound:.2f}s = "
                       f"{bound / floor:.2f}x the floor; the suite is {wall / bound:.2f}x that bound)"))

    parallel = []
    for m in (small, large):
        p, s = m.parallel.requests().total, m.serial.requests().total
        parallel.append((p <= MAX_PARALLEL_RATIO * s, f"{m.tenants} tenants: {p} vs {s} = {p / s:.2f}x"))
    out.append(Verdict(f"-n {large.workers} requests <= {MAX_PARALLEL_RATIO:g}x serial", all(ok for ok, _ in parallel),
                       "; ".join(text for _, text in parallel)))

    pod_bound = max(1, math.ceil(large.nodes / endpoints_per_probe))  # one ztunnel per node
    sp, lp = small.mtls.probe_pods(), large.mtls.probe_pods()
    st, lt = small.mtls.median_probe_seconds(), large.mtls.median_probe_seconds()
    ok = 0 < lp == sp <= pod_bound and 0 < lt <= MAX_MTLS_TENANT_GROWTH * st
    out.append(Verdict("probe pods bounded (by nodes, not tenants) and probe phase flat in tenants", ok,
                       f"{sp} pods at {small.tenants} tenants, {lp} at {large.tenants} tenants, bound "
                       f"ceil({large.nodes} nodes / {endpoints_per_probe}) = {pod_bound}; probe phase {st:.1f}s -> {lt:.1f}s "
                       f"= {lt / st if st else float('inf'):.2f}x (<= {MAX_MTLS_TENANT_GROWTH:g}x; whole mTLS run "
                       f"{small.mtls.median_seconds():.1f}s -> {large.mtls.median_seconds():.1f}s, start-up and snapshot included)"))
    return out


HEADER = ("scale", "run", "tests", "wall time", "floor", "ratio", "pytest bound", "requests", "peak memory",
          "probe pods", "probe phase", "mTLS time")


def rows(measured: list[Measured]) -> list[tuple[str, ...]]:
    out = []
    for m in measured:
        scale = f"{m.nodes} nodes, {m.namespaces} ns, {m.tenants} tenants"
        floor = m.floor.median_seconds()
        for run, series in (("serial", m.serial), (f"-n {m.workers}", m.parallel)):
            wall = series.median_seconds()
            bound = f"{m.bound.median_seconds():.2f} s" if series is m.serial else "-"
            out.append((scale, run, str(series.samples[0].outcomes.get("passed", 0)), f"{wall:.2f} s",
                        f"{floor:.2f} s", f"{wall / floor:.2f}x", bound,
                        str(series.requests().total), f"{series.median_maxrss_mb():.0f} MB",
                        str(m.mtls.probe_pods()), f"{m.mtls.median_probe_seconds():.1f} s",
                        f"{m.mtls.median_seconds():.1f} s"))
    return out


def text_table(measured: list[Measured]) -> str:
    table = [HEADER, *rows(measured)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


def markdown(measured: list[Measured], results: list[Verdict], command: str, date: str, runs: int) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. Issue 7: the suite's API cost must not",
        "grow with tenants, and its wall time must sit near the floor (a bare script listing the same kinds once).",
        "",
        f"Reproduce: `{command}`  ",
        f"Measured: {date}, medians of {runs} runs on this machine (2 shared cores: compare ratios, not seconds).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
        *("| " + " | ".join(r) + " |" for r in rows(measured)),
        "",
        "## Targets",
        "",
        *(f"- **{'PASS' if v.ok else 'FAIL'}** {v.target}: {v.evidence}" for v in results),
        "",
        "## Requests by verb and resource (serial API-state run)",
        "",
        "| call | " + " | ".join(f"{m.tenants} tenants" for m in measured) + " |",
        "|---|" + "|".join("---" for _ in measured) + "|",
    ]
    calls = sorted({c for m in measured for c in m.serial.requests().by_call})
    lines += [f"| {c} | " + " | ".join(str(m.serial.requests().by_call[c]) for m in measured) + " |" for c in calls]
    lines += [
        "",
        "## How it is measured",
        "",
        "- **wall time**: the whole `pytest tests_conformance -m \"not mtls\"` process, start to exit (interpreter,",
        "  plugin, preflight, snapshot, collection, every test), as an SRE waits for it.",
        "- **floor**: `python -m bench.floor`, also a whole process: the snapshot plan's reads (kube/plan.py), listed",
        "  once with the kubernetes client, 8 at a time like the snapshot, and decoded.",
        "- **requests**: counted from the lab API server's audit log (OSSM_LAB_AUDIT=1), ResponseComplete events whose",
        "  User-Agent starts with `ossm-conformance/`, between two offsets around the run; the most of all runs is shown.",
        "- **pytest bound**: the ideal pytest suite (bench/scenario.py BOUND_TEST): the floor's reads in one session",
        "  fixture, then as many empty parametrized tests as the suite ran, same interpreter and plugins. No pytest",
        "  suite with one test id per object (issue 3) and these reads can be faster: it is floor + pytest's own",
        "  per-test cost. The suite and the bound pause the cyclic GC while they decode; the floor, a bare script,",
        "  does not (it also discards each list once counted, where a suite keeps them).",
        "- **peak memory**: ru_maxrss of RUSAGE_CHILDREN in a fresh wrapper process (bench/measure.py): the largest",
        "  single process of the run's tree (with xdist, the biggest of controller and workers).",
        "- **probe pods**: `create pods` in the probe namespace by the suite's User-Agent, during `-m mtls`;",
        "  **probe phase**: from the first to the last of its requests in the probe namespace (audit timestamps),",
        "  the part that must not grow with tenants; **mTLS time**: that run's whole wall time (`--mtls-window 5`),",
        "  which also includes start-up, the snapshot and collection, and so grows with the cluster's size.",
        "- **seeding**: " + "; ".join(f"{m.nodes} nodes / {m.namespaces} namespaces seeded in {m.seed_seconds:.0f} s"
                                        for m in measured) + ".",
        "",
    ]
    return "\n".join(lines)
