"""The xdist hand-off: every worker gets the controller's snapshot as a file instead of listing
again. Written only when workers exist, readable only by us, removed at unconfigure."""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

import pytest

from ..kube.snapshot import Snapshot
from ..profile import load_profile
from .state import STATE, RunState, is_worker, state_of


def receive(config: pytest.Config, state: RunState) -> bool:
    """On a worker: load the controller's snapshot, target and profile. True on any worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return False
    if workerinput.get("ossm_snapshot"):
        state.snapshot = Snapshot.from_json(Path(workerinput["ossm_snapshot"]).read_text())
        gc.freeze()  # as in session.preflight
        state.target = workerinput["ossm_target"]
        state.profile = load_profile(workerinput["ossm_profile"])
    return True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: hand every worker the controller's snapshot instead of letting it list again."""
    state = state_of(node.config)
    if state.snapshot is not None and state.snapshot_path is None:
        fd, state.snapshot_path = tempfile.mkstemp(prefix="ossm-snapshot-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(state.snapshot.to_json())
    if state.snapshot_path:
        node.workerinput["ossm_snapshot"] = state.snapshot_path
        node.workerinput["ossm_target"] = state.target
        node.workerinput["ossm_profile"] = state.profile.source


def remove_snapshot_file(config: pytest.Config) -> None:
    """At unconfigure, on every exit path (failures, Ctrl-C): the snapshot file never outlives the run."""
    state = config.stash.get(STATE, None)
    if state is not None and state.snapshot_path and not is_worker(config):
        Path(state.snapshot_path).unlink(missing_ok=True)
