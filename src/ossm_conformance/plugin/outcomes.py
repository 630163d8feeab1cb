"""What a test's outcome and the run's exit code mean: a test whose declared kinds could not be
read is an *error* (could not check, never a pass), and a run with errors but no failure exits
12 (exitcodes.py). The run's last steps (reports, the gate's verdict) follow in that order."""

from __future__ import annotations

import pytest

from .. import exitcodes
from ..findings import CouldNotCheck
from . import gate, reporting
from .state import is_worker, state_of


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Records the kinds the test declared (the `conform` fixture limits its check to them), and
    makes a test whose declared kinds could not be read an *error*: could not check, never pass."""
    marker = item.get_closest_marker("reads")
    state = state_of(item.config)
    state.declared = frozenset(marker.args) if marker else frozenset()
    state.examined = None
    if marker is None or state.snapshot is None:
        return
    problems = state.snapshot.errors(marker.args)
    if problems:
        raise CouldNotCheck("could not check: " + "; ".join(problems))


def pytest_runtest_makereport(item: pytest.Item, call) -> None:
    """Hands the digest of what the check examined to the controller (history.py's flaky test),
    through the report's user_properties, which xdist carries from its workers."""
    state = state_of(item.config)
    if call.when == "call" and state.examined:
        item.user_properties.append(("examined_state", state.examined))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = state_of(config)
    if is_worker(config):
        return
    reporting.write_allure_environment(config, state)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and state.profile is not None:
        failed = len(reporter.stats.get("failed", []))
        errors = len(reporter.stats.get("error", []))
        if exitstatus == pytest.ExitCode.TESTS_FAILED and not failed and errors:
            session.exitstatus = exitcodes.COULD_NOT_CHECK
    gate.finish(session, state)  # a no-go overrides the codes above
    if reporter is not None:
        reporting.record_after_run(config, state, reporter.stats, int(session.exitstatus))  # last: the final status
