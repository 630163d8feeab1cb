"""What the run leaves behind: the Allure environment, the history line and metrics push
(reporting/after_run.py), and the terminal summary (the gate's verdict, what changed since the
last run, the table by area, what the exit status means)."""

from __future__ import annotations

import pytest

from .. import exitcodes
from . import gate
from .state import RunState, is_worker, state_of


def write_allure_environment(config: pytest.Config, state: RunState) -> None:
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir and state.target:
        from ..facts import installed_csv, running_istio_version
        from ..reporting.allure_files import write_run_files
        write_run_files(alluredir, state.target, state.profile, {
            "OSSM.CSV": installed_csv(state.snapshot, state.profile) or "unknown",
            "Istio.version": running_istio_version(state.snapshot, state.profile) or "unknown",
            "Run.id": state.run_id,
        })


def record_after_run(config: pytest.Config, state: RunState, stats: dict, exit_status: int) -> None:
    """The history line and the metrics push, once the exit status is final."""
    if state.profile is not None and state.snapshot is not None:
        from ..reporting.after_run import record
        state.after_run = record(config, state, stats, exit_status)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from ..reporting.summary import area_summary

    if state_of(config).profile is None or is_worker(config):
        return
    gate.write_summary(terminalreporter, config)
    if state_of(config).after_run:
        terminalreporter.write_sep("=", "ossm-conformance since the last run")
        for line in state_of(config).after_run:
            terminalreporter.write_line(line)
    lines = area_summary(terminalreporter.stats)
    if lines:
        terminalreporter.write_sep("=", "ossm-conformance by area")
        for line in lines:
            terminalreporter.write_line(line)
        code = terminalreporter._session.exitstatus if hasattr(terminalreporter, "_session") else exitstatus
        terminalreporter.write_line(f"exit status: {int(code)} ({exitcodes.DESCRIPTIONS.get(int(code), 'see README')})")
