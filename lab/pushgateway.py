"""The lab's Pushgateway: Debian's `prometheus-pushgateway` on loopback, where the suite's
`--metrics-push` sends a run's results and the lab's Prometheus scrapes them (the way a nightly
CronJob's results reach OpenShift's monitoring, deploy/README.md).

Optional: without the binary the lab still starts, with no LAB_PUSHGATEWAY_URL (`make lab-deps`
installs it).
"""
from __future__ import annotations

import shutil


def binary() -> str | None:
    return shutil.which("prometheus-pushgateway")


def argv(binary_path: str, port: int) -> list[str]:
    # No persistence file: a lab's pushes live as long as the lab (Debian's default is a system path).
    return [binary_path, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn"]
