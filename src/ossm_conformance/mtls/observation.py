"""PURE: what one source saw over the window, as counter deltas per ztunnel.

Both sources end here so that one judge (evidence.py) decides for both: the probe's two rounds
of scrapes become deltas (after - before); Prometheus' increase() already is one. A ztunnel
whose counters went backwards restarted in the window (counters reset): its deltas mean
nothing, so it is *unobserved*, never evidence either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .parse import Scrape
from .probe_program import TCP_FAMILIES

# The counters both sources observe (probe_program.TCP_FAMILIES), as sample names.
OPENED, CLOSED, RECEIVED, SENT = (f"{family}_total" for family in TCP_FAMILIES)
COUNTERS = (OPENED, CLOSED, RECEIVED, SENT)
BUILD = "istio_build"
RESTARTED = "counters went backwards: the ztunnel restarted during the window"


@dataclass(frozen=True)
class SeriesDelta:
    ztunnel: str      # the ztunnel pod that reported it
    name: str         # sample name, e.g. istio_tcp_connections_opened_total
    labels: dict
    delta: float
    before: float | None = None   # probe only: the raw values, for the report
    after: float | None = None


@dataclass
class Ztunnel:
    pod: str
    node: str = "-"
    version: str = ""

    def describe(self) -> str:
        return f"{self.pod} (node {self.node}" + (f", ztunnel {self.version})" if self.version else ")")


@dataclass
class Observation:
    source: str                                   # "probe" | "prometheus"
    window: float
    deltas: list[SeriesDelta] = field(default_factory=list)
    ztunnels: dict[str, Ztunnel] = field(default_factory=dict)
    unobserved: dict[str, str] = field(default_factory=dict)   # ztunnel pod -> why
    query: str = ""                               # prometheus: the PromQL, for the report

    @property
    def restarted(self) -> list[str]:
        return sorted(p for p, why in self.unobserved.items() if why == RESTARTED)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Observation":
        return cls(data["source"], data["window"], [SeriesDelta(**d) for d in data["deltas"]],
                   {k: Ztunnel(**z) for k, z in data["ztunnels"].items()}, data["unobserved"], data["query"])


def from_scrapes(scrapes: list[Scrape], window: float) -> Observation:
    """Round 0 and round 1 of every endpoint -> deltas; endpoints missing a round are unobserved."""
    obs = Observation("probe", window)
    rounds: dict[str, dict[int, Scrape]] = {}
    for s in scrapes:
        rounds.setdefault(s.pod, {})[s.round] = s
        obs.ztunnels.setdefault(s.pod, Ztunnel(s.pod, s.node))
    for pod in sorted(rounds):
        before, after = rounds[pod].get(0), rounds[pod].get(1)
        failed = next((s for s in (before, after) if s is not None and not s.ok), None)
        if failed is not None:
            obs.unobserved[pod] = failed.reason or "scrape failed"
            continue
        if before is None or after is None:
            obs.unobserved[pod] = "the probe did not finish both scrapes (stopped or timed out)"
            continue
        obs.ztunnels[pod].version = next((s.labels.get("tag", "") for s in after.samples if s.name == BUILD), "")
        deltas = _deltas(pod, before, after)
        if deltas is None:
            obs.unobserved[pod] = RESTARTED
        else:
            obs.deltas += deltas
    return obs


def _deltas(pod: str, before: Scrape, after: Scrape) -> list[SeriesDelta] | None:
    """None when any counter decreased or vanished (a reset); a new series grew from zero."""
    def key(sample) -> tuple:
        return sample.name, tuple(sorted(sample.labels.items()))

    old = {key(s): s.value for s in before.samples if s.name != BUILD}
    new = {key(s): s for s in after.samples if s.name != BUILD}
    if any(k not in new or new[k].value < v for k, v in old.items()):
        return None
    return [SeriesDelta(pod, s.name, s.labels, s.value - old.get(k, 0.0), old.get(k), s.value)
            for k, s in new.items()]
