"""The floor: what the API server needs to hand over the state the suite must read.

A bare script, no pytest and no suite code on the request path: the same reads as the suite's
snapshot plan (kube/plan.py, taken from it so the two cannot drift), each listed once with the
kubernetes client, concurrently as the snapshot does, and decoded. Its wall time, as a process,
is what `make bench` compares the suite's wall time with.

    python -m bench.floor --kubeconfig .lab-bench/kubeconfig --profile profiles/spoke-dc-v6.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes.client
import kubernetes.config

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from ossm_conformance.kube.kinds import KINDS  # noqa: E402 — paths only: pure data
from ossm_conformance.kube.plan import snapshot_plan  # noqa: E402
from ossm_conformance.profile import load_profile  # noqa: E402

USER_AGENT = "ossm-bench-floor/1"  # the audit log tells the floor's requests from the suite's
WORKERS = 8                        # the snapshot's concurrency (kube/snapshot.py fetch)


def paths(profile_path: str) -> list[tuple[str, list]]:
    out = []
    for read in dict.fromkeys(snapshot_plan(load_profile(profile_path))):
        kind = KINDS[read.kind]
        if read.name:
            out.append((kind.object_path(read.name, read.namespace), []))
        else:
            out.append((kind.list_path(read.namespace), read.query()))
    return out


def client(kubeconfig: str) -> kubernetes.client.ApiClient:
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=cfg, persist_config=False)
    cfg.connection_pool_maxsize = WORKERS
    api = kubernetes.client.ApiClient(cfg)
    api.user_agent = USER_AGENT
    return api


def read_all(api: kubernetes.client.ApiClient, reads: list[tuple[str, list]]) -> dict[str, int]:
    """path -> items (1 for a named get; 404 counts as 0, as the suite's 'absent')."""
    def one(read):
        path, query = read
        try:
            resp = api.call_api(path, "GET", query_params=query, header_params={"Accept": "application/json"},
                                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return path, 0
            raise
        data = json.loads(resp.data)
        return path, len(data.get("items") or [data])

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(one, reads))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args(argv)
    started = time.monotonic()
    counts = read_all(client(args.kubeconfig), paths(args.profile))
    print(json.dumps({"reads": len(counts), "objects": sum(counts.values()),
                      "seconds": round(time.monotonic() - started, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
