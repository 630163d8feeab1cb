"""The floor: what the API server needs to hand over the state the suite must read.

A bare script, no pytest and no suite code on the request path: the same reads as the suite's
snapshot plan (checks/plan.py, taken from it so the two cannot drift), each listed with the
kubernetes client in the snapshot's pages (kube/snapshot.py PAGE_SIZE), concurrently as the
snapshot does, and decoded with the snapshot's decoder (kube/decode.py). Its wall time, as a
process, is what `make bench` compares the suite's wall time with. It prints, per kind, the
objects, bytes and pages the API server served.

    python -m bench.floor --kubeconfig .lab-bench/kubeconfig --profile profiles/spoke-dc-v6.yaml
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import kubernetes.client
import kubernetes.config

from ossm_conformance.checks.plan import snapshot_plan
from ossm_conformance.kube.decode import decode_json, decode_page
from ossm_conformance.kube.kinds import KINDS  # paths only: pure data
from ossm_conformance.kube.snapshot import PAGE_SIZE
from ossm_conformance.profile import load_profile

USER_AGENT = "ossm-bench-floor/1"  # the audit log tells the floor's requests from the suite's
WORKERS = 8                        # the snapshot's concurrency (kube/snapshot.py fetch)


def paths(profile_path: str) -> list[tuple[str, str, list, bool]]:
    """(kind, path, query, is a list) for each read of the plan."""
    out = []
    for read in dict.fromkeys(snapshot_plan(load_profile(profile_path))):
        kind = KINDS[read.kind]
        if read.name:
            out.append((kind.key, kind.object_path(read.name, read.namespace), [], False))
        else:
            out.append((kind.key, kind.list_path(read.namespace), read.query(), True))
    return out


def client(kubeconfig: str) -> kubernetes.client.ApiClient:
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=cfg, persist_config=False)
    cfg.connection_pool_maxsize = WORKERS
    api = kubernetes.client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    return api


def _get(api: kubernetes.client.ApiClient, path: str, query: list) -> bytes:
    return api.call_api(path, "GET", query_params=query, header_params={"Accept": "application/json"},
                        auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True).data


def read_all(api: kubernetes.client.ApiClient, reads: list[tuple[str, str, list, bool]]) -> dict[str, dict]:
    """kind -> {objects, bytes, pages} (a named get is one object; 404 counts as 0, as the suite's 'absent')."""
    def one(read):
        kind, path, query, is_list = read
        seen = {"objects": 0, "bytes": 0, "pages": 0}
        token = None
        while True:
            try:
                body = _get(api, path, query + ([("limit", str(PAGE_SIZE))] if is_list else [])
                            + ([("continue", token)] if token else []))
            except kubernetes.client.ApiException as exc:
                if exc.status == 404 and not is_list:
                    return kind, seen
                raise
            seen["bytes"] += len(body)
            seen["pages"] += 1
            if not is_list:
                decode_json(body)
                seen["objects"] += 1
                return kind, seen
            items, token = decode_page(kind, body)
            seen["objects"] += len(items)
            if not token:
                return kind, seen

    totals: dict[str, dict] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for kind, seen in pool.map(one, reads):
            mine = totals.setdefault(kind, {"objects": 0, "bytes": 0, "pages": 0})
            for key, value in seen.items():
                mine[key] += value
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args(argv)
    started = time.monotonic()
    reads = paths(args.profile)
    per_kind = read_all(client(args.kubeconfig), reads)
    print(json.dumps({"reads": len(reads), "objects": sum(k["objects"] for k in per_kind.values()),
                      "seconds": round(time.monotonic() - started, 3), "per_kind": per_kind}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
