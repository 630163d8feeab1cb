"""The pytest plugin: one module per job, every hook it implements listed here.

Data flow (docs/architecture.md): the controlling process validates the options and the profile,
builds one API client, checks that the cluster answers, and reads every needed kind once
(session.py). xdist workers receive that snapshot as a file and never list anything themselves
(workers.py), so `-n auto` costs no extra requests. Tests are parametrized from the profile
(params.py); an unreadable kind makes a test an error, and the exit code says what the run
means (outcomes.py); the pre-upgrade gate (gate.py) and the reports (reporting.py) come last.
Bad input stops the run with one line and a documented exit code (exitcodes.py).

Modules: state (what a run shares), options (command line), session (run detection,
preflight, snapshot, header), workers (xdist hand-off), params (parametrization, deselection),
outcomes (read errors, exit codes), gate (pre-upgrade gate wiring), reporting (Allure
environment, history and metrics, terminal summary).
"""

from .options import pytest_addoption
from .outcomes import pytest_runtest_makereport, pytest_runtest_setup, pytest_sessionfinish
from .params import pytest_collection_modifyitems, pytest_generate_tests
from .reporting import pytest_terminal_summary
from .session import pytest_configure, pytest_report_header, pytest_unconfigure
from .state import RunState, state_of
from .workers import pytest_configure_node

__all__ = [
    "RunState", "state_of",
    "pytest_addoption", "pytest_configure", "pytest_report_header", "pytest_configure_node", "pytest_unconfigure",
    "pytest_generate_tests", "pytest_collection_modifyitems", "pytest_runtest_setup", "pytest_runtest_makereport",
    "pytest_sessionfinish", "pytest_terminal_summary",
]
