"""Wiring of the pre-upgrade gate (ossm_conformance/gate.py) into the run, on the controller:
a malformed target is a no-go report, the verdict is decided once every test has run, and it
closes the terminal summary. The gate's module is imported only when a run uses it."""

from __future__ import annotations

import pytest

from .state import RunState


def refuse_malformed(config: pytest.Config) -> None:
    from ..gate import refuse_malformed as write_no_go
    write_no_go(config)


def finish(session: pytest.Session, state: RunState) -> None:
    """With --target-version: decide and write the verdict; a no-go overrides the exit code."""
    if state.profile is not None and session.config.option.ossm_target_version is not None:
        from ..gate import finish as decide
        decide(session, state.snapshot, state.profile)


def write_summary(terminalreporter, config: pytest.Config) -> None:
    from ..gate import write_summary as write
    write(terminalreporter, config)
