"""Read what a probe pod printed: per-endpoint sections of OpenMetrics text -> samples.

Each section is parsed with prometheus_client's OpenMetrics parser; a body that is not valid
OpenMetrics (e.g. cut short, no `# EOF`) falls back to the classic parser, which keeps labels
and values but not family grouping, so samples are always selected by sample name and labels,
never by family (prometheus_client 0.26: `openmetrics/parser.py` requires the final `# EOF`, and
the classic `parser.py` makes each `_total` series a family of its own). A body neither parser accepts makes that
endpoint unobserved, with the reason, rather than silently empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families as classic_families

from .probe_program import HEADER


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict
    value: float


@dataclass
class Scrape:
    """One endpoint in one round of one probe."""
    round: int
    pod: str
    node: str
    ip: str
    ok: bool
    reason: str = ""
    samples: list[Sample] = field(default_factory=list)


def parse_exposition(text: str) -> list[Sample]:
    """Raises ValueError when neither parser accepts the text."""
    try:
        families = list(openmetrics_families(text))
    except ValueError:
        families = list(classic_families(text))
    return [Sample(s.name, dict(s.labels), float(s.value)) for f in families for s in f.samples]


def select(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def parse_probe_log(text: str) -> list[Scrape]:
    """A probe pod's log -> one Scrape per endpoint and round (rounds it never reached are absent)."""
    scrapes: list[Scrape] = []
    current: Scrape | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None and current.ok:
            try:
                current.samples = parse_exposition("\n".join(body) + "\n")
            except ValueError as exc:
                current.ok, current.reason = False, f"unreadable probe output: {exc}"
        body.clear()

    for line in text.splitlines():
        if not line.startswith(HEADER + " "):
            body.append(line)
            continue
        close()
        current = None
        fields = _header_fields(line[len(HEADER) + 1:])
        if "pod" in fields:
            current = Scrape(int(fields.get("round", "0")), fields["pod"], fields.get("node", "-"),
                             fields.get("ip", ""), fields.get("status") == "ok", fields.get("reason", ""))
            scrapes.append(current)
    close()
    return scrapes


def _header_fields(text: str) -> dict[str, str]:
    """'round=0 pod=x status=error reason=free text' -> dict; reason takes the rest of the line."""
    head, _, reason = text.partition(" reason=")
    fields = dict(part.split("=", 1) for part in head.split() if "=" in part)
    if reason:
        fields["reason"] = reason
    return fields
