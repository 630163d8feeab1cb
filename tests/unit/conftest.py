"""Every unit test holds the code it runs to the snapshot's projection (tests/unit/field_access.py)."""

import pytest

import field_access


@pytest.fixture(autouse=True)
def _projection_covers_what_was_read():
    field_access.reset()
    yield
    field_access.assert_projection_covers()
