"""python -m lab up|down|status|build|fault NAME|fault list|fault reset

Exit codes: 0 done (including "already running" for `up`), 1 failed, 2 usage, 3 no lab running.
Every failure ends with one line on stderr saying what went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from lab import control_plane as cp
from lab import crds
from lab.kubeapi import ApiException
from lab.paths import BIN_DIR, BUILD_SCRIPT, REPO, LabPaths

EXIT_FAILED, EXIT_NOT_RUNNING = 1, 3
BUILD_LOG = REPO / ".lab" / "logs" / "build.log"


def build(quiet: bool) -> None:
    """Runs lab/build.sh (a no-op when the binaries match their wrapper modules)."""
    BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(BUILD_LOG, "ab") as log:
        out = log if quiet else None
        if subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=out, stderr=subprocess.STDOUT if quiet else None,
                          env={**os.environ, "LAB_BIN_DIR": str(BIN_DIR)}).returncode:
            raise cp.LabError(f"lab/build.sh failed; see {BUILD_LOG}")


def remove_state(paths: LabPaths) -> None:
    """Removes this lab's state; the shared build cache (<repo>/.lab/bin and its build log) stays."""
    if not paths.root.exists():
        return
    keep = {BIN_DIR.resolve(), BUILD_LOG.resolve(), BUILD_LOG.parent.resolve()}
    for path in sorted(paths.root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if any(k == path or k.is_relative_to(path) or path.is_relative_to(BIN_DIR) for k in keep):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not any(paths.root.iterdir()):
        paths.root.rmdir()


def up(args) -> int:
    from lab import reconcile, seed
    from lab.kubeapi import Api

    paths = LabPaths()
    alive = cp.running(paths)
    if "kube-apiserver" in alive:
        print(f"lab already running in {paths.root} at {alive['kube-apiserver'].get('url')}; "
              f"`python -m lab down` first to restart it")
        return 0
    if paths.pids.exists():  # a dead or half-started lab: stop leftovers, start clean
        cp.stop(cp.read_pids(paths))
        remove_state(paths)

    t0 = time.monotonic()
    if not (BIN_DIR / "etcd").exists() or not (BIN_DIR / "kube-apiserver").exists():
        print(f"lab: building etcd and kube-apiserver (first time: several minutes; log {BUILD_LOG})", flush=True)
        build(quiet=True)
    crd_docs = crds.load()  # fail before starting anything if the CRDs are missing

    procs: dict[str, dict] = {}
    try:
        slot = seed.free_slot(args.nodes)
        api_url = cp.start(paths, procs, seed.node_ips(args.nodes, slot))
        api = Api(paths.kubeconfig)
        crds.save_names(paths.crd_names, crds.install(api, crd_docs))
        seed.seed(api, nodes=args.nodes, extra_tenants=args.extra_tenants, slot=slot,
                  extra_namespaces=args.extra_namespaces)
        seed.save_params(paths.seed_params, args.nodes, args.extra_tenants, slot, args.extra_namespaces)
        reconcile.save_baseline(api, paths)
        api.close()
        if args.services:
            # The metrics endpoints, node agent and Prometheus (lab/services.py) start last: they
            # read the seeded twin.
            from lab import services
            for name, svc in services.start(paths.root, paths.kubeconfig).items():
                procs[name] = cp.record(svc["pid"], svc.get("url"))
                cp.write_pids(paths, procs)
        cp.write_env(paths, api_url, procs)
    except BaseException:
        cp.stop(procs)
        if not args.keep_on_failure:
            remove_state(paths)
        raise
    print(f"lab up in {time.monotonic() - t0:.1f} s: {api_url} "
          f"({args.nodes} nodes, {args.extra_tenants} extra tenants, {args.extra_namespaces} extra namespaces); "
          f"`source {paths.env}`")
    return 0


def down(_args) -> int:
    paths = LabPaths()
    procs = cp.read_pids(paths)
    alive = cp.running(paths)
    killed = cp.stop(procs)
    remove_state(paths)
    note = f" ({', '.join(killed)} needed SIGKILL)" if killed else ""
    print(f"lab down: stopped {len(alive)} process(es){note}, removed state in {paths.root}")
    return 0


def status(_args) -> int:
    paths = LabPaths()
    procs = cp.read_pids(paths)
    if not procs:
        print(f"no lab in {paths.root}")
        return EXIT_NOT_RUNNING
    for name, rec in procs.items():
        print(f"{name:16} pid {rec['pid']:<8} {'running' if cp.alive(rec) else 'NOT RUNNING':12} {rec.get('url') or ''}")
    return 0 if all(cp.alive(r) for r in procs.values()) else EXIT_NOT_RUNNING


def fault(args) -> int:
    from lab import faults

    if args.name == "list":
        width = max(map(len, faults.FAULTS))
        for name, description in faults.FAULTS.items():
            print(f"{name:{width}}  {description}")
        return 0
    paths = LabPaths()
    if "kube-apiserver" not in cp.running(paths):
        print(f"no lab running in {paths.root}; `python -m lab up` first", file=sys.stderr)
        return EXIT_NOT_RUNNING
    if args.name == "reset":
        changes = faults.reset(paths.kubeconfig)
        print(f"twin restored ({changes} change(s))")
        return 0
    if args.name not in faults.FAULTS:
        print(f"unknown fault {args.name!r}; `python -m lab fault list` lists them", file=sys.stderr)
        return 2
    faults.apply(args.name, paths.kubeconfig)
    print(f"fault {args.name} applied; `python -m lab fault reset` restores the twin")
    return 0


def _api_message(e) -> str:
    try:
        return json.loads(e.body).get("message", "")
    except (TypeError, ValueError):
        return str(e.body or "")[:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build if needed, start etcd + kube-apiserver, seed the twin")
    p_up.add_argument("--nodes", type=int, default=6, help="nodes in the twin (3 masters + workers)")
    p_up.add_argument("--extra-tenants", type=int, default=0, help="generated ambient tenants to add")
    p_up.add_argument("--extra-namespaces", type=int, default=0,
                      help="generated namespaces outside the mesh to add (benchmarks: a shared cluster's size)")
    p_up.add_argument("--no-services", dest="services", action="store_false",
                      default=os.environ.get("OSSM_LAB_SERVICES", "1") != "0",
                      help="control plane and twin only: no ztunnel endpoints, node agent or Prometheus "
                           "(they bind fixed addresses, so only one lab at a time can run them); "
                           "also OSSM_LAB_SERVICES=0")
    p_up.add_argument("--keep-on-failure", action="store_true", help="keep logs/state when `up` fails")
    p_up.set_defaults(func=up)
    sub.add_parser("down", help="stop this lab's processes and remove its state").set_defaults(func=down)
    sub.add_parser("status", help="show this lab's processes").set_defaults(func=status)
    sub.add_parser("build", help="build etcd and kube-apiserver into .lab/bin").set_defaults(
        func=lambda _a: build(quiet=False) or 0)
    p_fault = sub.add_parser("fault", help="apply a named fault, `list` them, or `reset` the twin")
    p_fault.add_argument("name")
    p_fault.set_defaults(func=fault)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    except (cp.LabError, crds.CrdsMissing) as e:
        print(f"lab: {e}", file=sys.stderr)
        return EXIT_FAILED
    except ApiException as e:
        print(f"lab: the API server answered {e.status} {e.reason}: {_api_message(e)}"[:500], file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # one line for the user; the traceback is noise here
        print(f"lab: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500], file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
