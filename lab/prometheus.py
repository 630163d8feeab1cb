"""The lab's Prometheus: Debian's `prometheus` on loopback, scraping the twin's ztunnel endpoints.

The config is regenerated from lab/prometheus.yml whenever the set of ztunnel pods changes (the
ztunnel endpoints process calls write_config + reload), so a bench twin with hundreds of nodes is
scraped without restarting Prometheus. The pushgateway job's target, written once by
lab/services.py, is kept across those rewrites.
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).with_name("prometheus.yml")
# Bench twins may want a longer interval: hundreds of targets at 1 s is real work for 2 cores.
SCRAPE_INTERVAL_ENV = "LAB_PROMETHEUS_SCRAPE_INTERVAL"


def binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise FileNotFoundError("the lab needs Debian's prometheus: `make lab-deps` "
                                "(apt-get install -y --no-install-recommends prometheus)")
    return found


def render_config(targets: list[dict], pushgateway: str | None = None) -> dict:
    """targets: [{"ip", "pod", "node"}], pushgateway: "host:port" or None -> the Prometheus config as a dict."""
    config = yaml.safe_load(TEMPLATE.read_text())
    interval = os.environ.get(SCRAPE_INTERVAL_ENV)
    if interval:
        config["global"]["scrape_interval"] = config["global"]["scrape_timeout"] = interval
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "ztunnel")
    job["static_configs"] = [
        {"targets": [f"{t['ip']}:15020"], "labels": {"namespace": "ztunnel", "pod": t["pod"], "node": t["node"]}}
        for t in targets
    ]
    push_job = next(j for j in config["scrape_configs"] if j["job_name"] == "pushgateway")
    push_job["static_configs"] = [{"targets": [pushgateway]}] if pushgateway else []
    return config


def pushgateway_target(path: Path) -> str | None:
    """The pushgateway target of the config at `path`, if it has one."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    job = next((j for j in config.get("scrape_configs") or [] if j.get("job_name") == "pushgateway"), {})
    return next((t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []), None)


def write_config(path: Path, targets: list[dict], pushgateway: str | None = None) -> None:
    """Writes the config; without `pushgateway`, the target already in the file is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pushgateway = pushgateway or pushgateway_target(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(render_config(targets, pushgateway), sort_keys=False))
    tmp.replace(path)  # atomic: a reload never reads half a file


def reload(url: str, timeout: float = 5) -> None:
    request = urllib.request.Request(f"{url}/-/reload", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def argv(config: Path, data_dir: Path, port: int) -> list[str]:
    return [
        binary(), f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
        # A lab lives minutes to hours; keep the TSDB small.
        "--storage.tsdb.retention.time=2h", "--log.level=warn",
    ]


def ready(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def scraped_twice_in_last(url: str, seconds: float, timeout: float = 2) -> set[str]:
    """The ztunnel pods with at least two successful scrapes in the last `seconds`: those whose
    increase() over such a window exists (the suite's Prometheus source marks the others unobserved).
    Until every target is in it, a healthy twin would look unobserved to the suite."""
    query = urllib.parse.urlencode(
        {"query": f'sum by (pod) (sum_over_time(up{{job="ztunnel"}}[{int(seconds * 1000)}ms])) >= 2'})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=timeout) as response:
            return {row["metric"].get("pod", "") for row in json.load(response)["data"]["result"]}
    except (OSError, ValueError, KeyError):
        return set()
