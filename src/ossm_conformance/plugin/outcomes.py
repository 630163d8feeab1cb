"""What a test's outcome and the run's exit code mean: a test whose declared kinds could not be
read is an *error* (could not check, never a pass), and a run with errors but no failure exits
12 (exitcodes.py). The run's last steps (reports, the gate's verdict) follow in that order."""

from __future__ import annotations

import pytest

from .. import exitcodes
from ..checks import declared
from ..findings import CouldNotCheck
from . import gate, reporting
from .state import is_worker, state_of


def check_of(item: pytest.Item):
    """The check a conformance test runs: the one named after it (`test_x` runs check `x`), or None
    (the mTLS evidence, judged from ztunnel's counters: fixtures/mtls.py)."""
    name = getattr(item, "originalname", item.name)
    return declared().get(name.removeprefix("test_")) if name.startswith("test_") else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Records the kinds the test's check reads (the `conform` fixture limits the check to them),
    and makes a test whose kinds could not be read an *error*: could not check, never pass."""
    state = state_of(item.config)
    state.declared, state.examined = frozenset(), None
    if state.snapshot is None or (check := check_of(item)) is None:
        return
    state.declared = frozenset(check.reads)
    problems = state.snapshot.errors(check.reads)
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
