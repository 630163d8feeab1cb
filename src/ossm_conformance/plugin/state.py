"""What a run shares, on config.stash: the profile, the snapshot, the target, the API client."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest

from ..kube.client import Api, build_api_client
from ..kube.scope import Scope
from ..kube.snapshot import Snapshot
from ..profile import Profile

SUITE_DIR = "tests_conformance"


@dataclass
class RunState:
    """Everything a run shares, on config.stash. Workers rebuild `api` lazily from the options."""
    profile: Profile | None = None
    snapshot: Snapshot | None = None
    snapshot_path: str | None = None
    target: dict = field(default_factory=dict)   # server, context, user, source: never credentials
    _api: Api | None = None
    options: object = None
    declared: frozenset = frozenset()            # kinds the running test's check reads (its @reads)
    examined: str | None = None                  # digest of what the running test's check examined (--history)
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the history point's and the report's id
    started: float = field(default_factory=time.time)
    after_run: list[str] = field(default_factory=list)  # history and metrics push lines for the terminal

    def scope(self) -> Scope:
        """What a re-read keeps: the same objects the snapshot kept."""
        scope = Scope.of(self.profile)
        if self.snapshot is not None and not self.snapshot.errors(("namespaces",)):
            scope.learn(self.snapshot.list("namespaces"))
        return scope

    def api(self) -> Api:
        if self._api is None:
            client, _ = build_api_client(self.options.ossm_kubeconfig, self.options.ossm_context)
            self._api = Api(client, request_timeout=(5.0, float(self.options.ossm_request_timeout)))
        return self._api


STATE = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState:
    return config.stash[STATE]


def is_worker(config: pytest.Config) -> bool:
    """An xdist worker: it runs tests on the controller's snapshot and reports nothing itself."""
    return hasattr(config, "workerinput")
