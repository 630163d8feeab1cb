"""Observe once per run, even with xdist: the first worker that needs an observation makes it,
the others wait on a file lock and read its result (or its could-not-check reason).

Why not only `--dist loadgroup` + xdist_group("mtls"): with pytest 9.2 and pytest-xdist 3.8 the
group suffix xdist writes to `item._nodeid` no longer changes `item.nodeid`, so the group is
silently ignored and two workers would each run probe pods (and sweep each other's). This lock
keeps "one probe per run" true whatever the scheduler does. Without xdist it is a plain call.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Callable

from ..findings import CouldNotCheck
from .observation import Observation


def once_per_run(shared_dir: str | None, name: str, compute: Callable[[], Observation]) -> Observation:
    """shared_dir: the controller's per-run directory (xdist), or None (no xdist: a plain call)."""
    if not shared_dir:
        return compute()
    result = Path(shared_dir) / f"{name}.json"
    with open(Path(shared_dir) / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another worker observes (bounded by its own timeouts)
        if not result.exists():
            try:
                payload = {"observation": compute().to_dict()}
            except CouldNotCheck as exc:
                payload = {"error": str(exc)}
            result.write_text(json.dumps(payload))
    payload = json.loads(result.read_text())
    if "error" in payload:
        raise CouldNotCheck(payload["error"])
    return Observation.from_dict(payload["observation"])
