"""Counting the suite's API requests from the lab API server's audit log.

The log (lab with OSSM_LAB_AUDIT=1, Metadata level, one JSON event per line) records every
request once per stage; a request is counted at its ResponseComplete (or Panic) event, so a
request that was retried counts every time it reached the server. Only events whose User-Agent
starts with the suite's (`ossm-conformance/`, kube/client.py) are the suite's: the lab's node
agent, ztunnel endpoints and the bench's floor script send other agents.

A benchmark run is isolated by byte offsets: `mark()` before, `since(mark)` after. The API
server writes an event before it answers (audit-log-mode blocking, the default), so once the
suite process has exited, all of its events are in the file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SUITE_AGENT = "ossm-conformance/"
FINAL_STAGES = ("ResponseComplete", "Panic")


@dataclass
class Requests:
    by_call: Counter = field(default_factory=Counter)   # "list pods" -> n
    probe_pods: int = 0                                 # pods the suite created in the probe namespace
    # First request received .. last response completed that touched the probe namespace: the
    # probe phase alone, without the run's start-up and snapshot (which scale with the cluster).
    probe_window: tuple[dt.datetime, dt.datetime] | None = None

    @property
    def probe_seconds(self) -> float:
        return (self.probe_window[1] - self.probe_window[0]).total_seconds() if self.probe_window else 0.0

    @property
    def total(self) -> int:
        return sum(self.by_call.values())


def mark(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def since(log: Path, offset: int, probe_namespace: str = "ossm-conformance", agent: str = SUITE_AGENT) -> Requests:
    out = Requests()
    with open(log, "rb") as fh:
        fh.seek(offset)
        for line in fh:
            event = _event(line)
            if event is None or event.get("stage") not in FINAL_STAGES:
                continue
            if not str(event.get("userAgent", "")).startswith(agent):
                continue
            out.by_call[call_name(event)] += 1
            ref = event.get("objectRef") or {}
            if probe_namespace in (ref.get("namespace"), ref.get("name") if ref.get("resource") == "namespaces" else None):
                start, end = _time(event["requestReceivedTimestamp"]), _time(event["stageTimestamp"])
                window = out.probe_window
                out.probe_window = (min(window[0], start), max(window[1], end)) if window else (start, end)
            if (event.get("verb") == "create" and ref.get("resource") == "pods" and not ref.get("subresource")
                    and ref.get("namespace") == probe_namespace
                    and (event.get("responseStatus") or {}).get("code") == 201):
                out.probe_pods += 1
    return out


def call_name(event: dict) -> str:
    """'list pods', 'get customresourcedefinitions', 'get pods/log', 'get /version'."""
    ref = event.get("objectRef") or {}
    resource = ref.get("resource")
    if not resource:  # non-resource URLs such as /version
        return f"{event.get('verb', '?')} {event.get('requestURI', '?').split('?')[0]}"
    if ref.get("subresource"):
        resource += "/" + ref["subresource"]
    return f"{event.get('verb', '?')} {resource}"


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _event(line: bytes) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:  # a line cut by a concurrent write at the edge of our window
        return None
