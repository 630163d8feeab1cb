"""A finding is one small incident report: which object, what was expected, what was seen, the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    object: str          # e.g. "DaemonSet ztunnel/ztunnel", "Namespace bank-payment"
    expected: str
    actual: str
    fix: str             # the runbook's remedy, quoted or paraphrased (see runbook.py)
    settling: bool = False  # a state that may still converge (rollout, reconcile): re-read before failing

    def render(self) -> str:
        return (
            f"{self.object}\n"
            f"  expected: {self.expected}\n"
            f"  actual:   {self.actual}\n"
            f"  fix:      {self.fix}"
        )


def render_all(findings: list[Finding]) -> str:
    """The assertion message of a failed check: every finding, in a stable order."""
    head = f"{len(findings)} finding(s):" if len(findings) > 1 else "1 finding:"
    return head + "\n" + "\n".join(f.render() for f in findings)


class CouldNotCheck(Exception):
    """The cluster could not be read for this check (forbidden, unreachable, kind not served).

    Raised during test setup so pytest reports an *error*, never a failure or a pass.
    """
