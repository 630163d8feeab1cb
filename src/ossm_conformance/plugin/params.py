"""Parametrization from the profile (one test id per object, each argument a fixture of
fixtures/params.py), and deselection of what does not apply to this run."""

from __future__ import annotations

import pytest

from ..checks.plan import LONGEST_READS
from ..gate import empty_parameter_set
from .outcomes import check_of
from .state import SUITE_DIR, state_of


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from ..mtls.params import MTLS_PARAMS
    from ..params import PARAMS

    PARAMS = {**PARAMS, **MTLS_PARAMS}
    profile = state_of(metafunc.config).profile
    for name in metafunc.fixturenames:
        if name in PARAMS:
            if profile is None:
                raise pytest.UsageError(f"{metafunc.definition.nodeid} needs a profile: run it as part of {SUITE_DIR}")
            pairs = PARAMS[name](profile)
            # Indirect: each argument is a fixture of fixtures/params.py (greppable, with a docstring).
            metafunc.parametrize(name, [v for _, v in pairs], ids=[i for i, _ in pairs], scope="function",
                                 indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect, never skip, what does not apply to this run: the gate's own tests without
    --target-version, and tests whose profile list is empty (e.g. no sidecar tenant). Then the
    tests that need the longest read (the pods) go last: the others run while it is read."""
    def does_not_apply(item: pytest.Item) -> bool:
        if item.get_closest_marker("preupgrade") and config.option.ossm_target_version is None:
            return True
        return empty_parameter_set(item)

    keep, dropped = [], []
    for item in items:
        (dropped if does_not_apply(item) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    keep.sort(key=needs_the_longest_read)  # stable: within each half, the order of the files
    items[:] = keep


def needs_the_longest_read(item: pytest.Item) -> bool:
    """Its check reads the pods; a test without a declared check (the mTLS evidence) needs everything."""
    check = check_of(item)
    return check is None or bool(LONGEST_READS & set(check.reads))
