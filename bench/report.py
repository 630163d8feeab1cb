"""The bench's verdicts and its table: the targets of issue 14, printed and written to docs/performance.md."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.scenario import Measured

MAX_FLOOR_RATIO = 1.3       # API-state wall time at most 1.3x the floor, at the realistic scales
MAX_BOUND_RATIO = 1.25      # at the mesh-only scale, at most 1.25x the ideal pytest suite
MAX_PARALLEL_RATIO = 1.1    # -n N requests at most 1.1x a serial run's
MAX_PEAK_RSS_MB = 256       # half the CronJob's limits.memory (deploy/cronjob.yaml)
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


def _requests_equal(small: Measured, large: Measured) -> Verdict:
    s_req, l_req = small.serial.requests(), large.serial.requests()
    diff = sorted(set(s_req.by_call) | set(l_req.by_call))
    changed = [f"{c}: {s_req.by_call[c]} -> {l_req.by_call[c]}" for c in diff if s_req.by_call[c] != l_req.by_call[c]]
    return Verdict(f"API requests (pages) at {large.tenants} tenants == at {small.tenants} tenants, same cluster",
                   not changed, f"{l_req.total} vs {s_req.total}"
                   + (f" ({'; '.join(changed)})" if changed else ", identical by verb and resource"))


def _floor_ratio(m: Measured) -> Verdict:
    wall, floor = m.serial.median_seconds(), m.floor.median_seconds()
    return Verdict(f"API-state wall time <= {MAX_FLOOR_RATIO:g}x the floor ({m.label}: {m.pods} pods, {m.tenants} tenants)",
                   wall <= MAX_FLOOR_RATIO * floor, f"{wall:.2f}s vs floor {floor:.2f}s = {wall / floor:.2f}x")


def verdicts(small: Measured, mesh_only: Measured, large: Measured, endpoints_per_probe: int,
             memory_limit_mb: int) -> list[Verdict]:
    out = [_requests_equal(small, large), _floor_ratio(small), _floor_ratio(large)]

    wall, bound = mesh_only.serial.median_seconds(), mesh_only.bound.median_seconds()
    floor = mesh_only.floor.median_seconds()
    out.append(Verdict(f"API-state wall time <= {MAX_BOUND_RATIO:g}x the pytest bound at the mesh-only scale "
                       f"({mesh_only.tenants} tenants)", wall <= MAX_BOUND_RATIO * bound,
                       f"{wall:.2f}s vs bound {bound:.2f}s = {wall / bound:.2f}x (the bound: the floor's reads, "
                       f"{floor:.2f}s alone, then {mesh_only.serial.samples[0].outcomes.get('passed', 0)} empty tests)"))

    rss = large.serial.median_maxrss_mb()
    # The suite and its snapshot reader (kube/background.py) are two processes: the whole tree's
    # peak, from the limited run's cgroup, must hold too.
    tree = large.limited.group_peak_kb / 1024 if large.limited is not None else 0
    out.append(Verdict(f"peak RSS of the suite at {large.pods} pods <= {MAX_PEAK_RSS_MB} MB",
                       max(rss, tree) <= MAX_PEAK_RSS_MB,
                       f"{rss:.0f} MB the largest process (median of {len(large.serial.samples)} serial runs); "
                       + (f"{tree:.0f} MB the whole process tree (suite and snapshot reader, cgroup peak); " if tree else "")
                       + f"-n {large.workers}: {large.parallel.median_maxrss_mb():.0f} MB, the largest process"))
    if memory_limit_mb:
        lim = large.limited
        same = lim is not None and lim.outcomes == large.serial.samples[0].outcomes
        out.append(Verdict(f"same verdicts under the CronJob's {memory_limit_mb} MiB limit", same,
                           f"{lim.limit}: {lim.outcomes}, peak {lim.maxrss_kb // 1024} MB vs unlimited "
                           f"{large.serial.samples[0].outcomes}" if lim else "not run"))

    parallel = []
    for m in (small, mesh_only, large):
        p, s = m.parallel.requests().total, m.serial.requests().total
        parallel.append((p <= MAX_PARALLEL_RATIO * s, f"{m.label}: {p} vs {s} = {p / s:.2f}x"))
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
        mesh = f" ({m.mesh_pods} in ambient namespaces)" if m.mesh_pods else ""
        scale = f"{m.label}: {m.nodes} nodes, {m.namespaces} ns, {m.pods} pods{mesh}, {m.tenants} tenants profiled"
        floor = m.floor.median_seconds()
        for run, series in (("serial", m.serial), (f"-n {m.workers}", m.parallel)):
            wall = series.median_seconds()
            bound = f"{m.bound.median_seconds():.2f} s" if series is m.serial and m.bound.samples else "-"
            out.append((scale, run, str(series.samples[0].outcomes.get("passed", 0)), f"{wall:.2f} s",
                        f"{floor:.2f} s", f"{wall / floor:.2f}x", bound,
                        str(series.requests().total), f"{series.median_maxrss_mb():.0f} MB",
                        str(m.mtls.probe_pods()), f"{m.mtls.median_probe_seconds():.1f} s",
                        f"{m.mtls.median_seconds():.1f} s"))
    return out


def _served(m: Measured, kind: str) -> str:
    seen = m.served.get(kind)
    return f"{seen['objects']} / {seen['bytes'] / 1e6:.1f} / {seen['pages']}" if seen else "-"


def text_table(measured: list[Measured]) -> str:
    table = [HEADER, *rows(measured)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table)


def markdown(measured: list[Measured], results: list[Verdict], command: str, date: str, runs: int) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. Issue 14: on a twin shaped like a real",
        "OpenShift spoke (OpenShift-sized pods, the mesh a minority) the suite's memory must follow the mesh, its",
        "API cost must not grow with tenants, and its wall time must sit near the floor (a bare script doing the",
        "same paginated reads with the same decoder).",
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
        "## What the API server served (the floor's reads)",
        "",
        "| kind | " + " | ".join(f"{m.label}: objects / MB / pages" for m in measured) + " |",
        "|---|" + "|".join("---" for _ in measured) + "|",
        *(f"| {kind} | " + " | ".join(_served(m, kind) for m in measured) + " |"
          for kind in sorted({k for m in measured for k in m.served}, key=lambda k: -max(m.served.get(k, {}).get("bytes", 0) for m in measured))),
        "",
        "## Requests by verb and resource (serial API-state run; a list counts once per page)",
        "",
        "| call | " + " | ".join(f"{m.label} ({m.tenants} tenants)" for m in measured) + " |",
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
        "- **floor**: `python -m bench.floor`, also a whole process: the snapshot plan's reads (checks/plan.py), listed",
        "  with the kubernetes client in pages of 500 (kubectl's chunk size, as the snapshot), 8 at a time like the",
        "  snapshot, and decoded with the snapshot's decoder (kube/decode.py); it keeps nothing. It asks for each",
        "  page after the one before it, as kubectl does; the suite asks for the next page as soon as this page's",
        "  first bytes (its ListMeta, with the continue token) have arrived (kube/pager.py: the same requests, one",
        "  page ahead at most), so part of the suite's margin over the floor is that overlap. Measured by hand on",
        "  the realistic twin (20,000 pods, 40 pages): the pod list alone 4.1-4.4 s one page after the other,",
        "  3.4-4.0 s one page ahead.",
        "- **decoder**: msgspec, decoding each page straight into the snapshot's projection (kube/projection.py):",
        "  on a page of 500 OpenShift-sized pods (9 MB) json.loads + projection took 136 ms, msgspec untyped +",
        "  projection 75 ms, orjson 107 ms before projecting, msgspec typed 8 ms, and fields it skips never become",
        "  Python objects, which is what bounds memory by the mesh.",
        "- **realistic twins**: bench/padding.py adds pods shaped like bench/realistic.py (restricted-v2 SCC, OVN and",
        "  multus annotations, two containers with env, probes, volumes, full status; managedFields written by the",
        "  API server for the create and the status write) and OpenShift's four default RoleBindings per namespace.",
        "- **a quiet machine**: while the floor, the API-state suite and the bound are timed, the lab's emulators",
        "  (ztunnel endpoints, node agent, Prometheus, Pushgateway: what runs on a real cluster's nodes and in its",
        "  monitoring) are paused with SIGSTOP, so only the API server and etcd share the cores with what is",
        "  measured (bench/scenario.py EMULATORS); they run again for the mTLS part. Before every measured run",
        "  the API server's Go heap is collected (`/debug/pprof/heap?gc=1`, bench/scenario.py",
        "  collect_server_garbage): with 20,000 pods in its watch cache a collection marks ~3 GB, 2-4 CPU-s on",
        "  the cores being measured, which otherwise lands at random in the floor's run or the suite's.",
        "  It evens the rounds out and favours neither side: measured by hand on one realistic twin, 6 rounds",
        "  alternating the order, the suite/floor ratio of medians was 1.14x collected, 1.15x not collected and",
        "  1.14x collected then 5 s idle (per-round ratios 1.04-1.19, 0.99-1.19 and 1.02-1.40).",
        "- **requests**: counted from the lab API server's audit log (OSSM_LAB_AUDIT=1), ResponseComplete events whose",
        "  User-Agent starts with `ossm-conformance/`, between two offsets around the run; the most of all runs is shown.",
        "- **pytest bound**: the ideal pytest suite (bench/scenario.py BOUND_TEST): the floor's reads in one session",
        "  fixture, then as many empty parametrized tests as the suite ran, same interpreter and plugins: floor +",
        "  pytest's own per-test cost, one after the other. The suite can beat it: its reads run in a child process",
        "  (kube/background.py) while the tests that need no pods run. The suite and the bound pause the cyclic GC",
        "  while they decode; the floor, a bare script,",
        "  does not (it also discards each list once counted, where a suite keeps them).",
        "- **peak memory**: ru_maxrss of RUSAGE_CHILDREN in a fresh wrapper process (bench/measure.py): the largest",
        "  single process of the run's tree (with xdist, the biggest of controller and workers). The limited run",
        "  puts the serial suite in a memory cgroup at the CronJob's limits.memory (the kernel OOM-kills past it);",
        "  that cgroup's peak is the whole tree at once (the suite and its snapshot reader), which the RSS target",
        "  also holds to.",
        "- **probe pods**: `create pods` in the probe namespace by the suite's User-Agent, during `-m mtls`;",
        "  **probe phase**: from the first to the last of its requests in the probe namespace (audit timestamps),",
        "  the part that must not grow with tenants; **mTLS time**: that run's whole wall time (`--mtls-window 5`),",
        "  which also includes start-up, the snapshot and collection, and so grows with the cluster's size.",
        "- **seeding**: " + _seeding(measured) + ".",
        "",
    ]
    return "\n".join(lines)


def _seeding(measured: list[Measured]) -> str:
    """One entry per seeded twin: "10 tenants" and "realistic" are two profiles of the same one."""
    twins: dict[tuple, list[str]] = {}
    for m in measured:
        twins.setdefault((m.nodes, m.namespaces, m.pods, m.seed_seconds), []).append(m.label)
    return "; ".join(f"{nodes} nodes / {namespaces} namespaces / {pods} pods seeded in {seconds:.0f} s "
                     f"(measured as {' and '.join(labels)})"
                     for (nodes, namespaces, pods, seconds), labels in twins.items())
