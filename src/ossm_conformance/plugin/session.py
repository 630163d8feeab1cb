"""Run detection and preflight: only a run of tests_conformance talks to a cluster. The controller
validates the options and the profile, builds one API client, checks that the cluster answers,
and reads every kind the checks need once, while configuring, before any worker starts, so bad
input costs one line."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from .. import exitcodes
from ..checks.plan import snapshot_plan
from ..kube.background import fetch_in_background
from ..kube.client import Api, CredentialsError, KubeconfigError, Target, build_api_client
from ..kube.errors import describe
from ..kube.scope import Scope
from ..kube.server_info import kubernetes_version, openshift_version
from ..kube.snapshot import Snapshot, fetch
from ..mtls import options as mtls_options
from ..profile import Profile, ProfileError, load_profile
from . import options, workers
from .state import STATE, SUITE_DIR, RunState, state_of


def targets_suite(config: pytest.Config) -> bool:
    """Only a run of tests_conformance talks to a cluster: unit and lab tests never preflight."""
    root = Path(config.rootpath)
    args = [a for a in config.args if not a.startswith("-")] or [str(root / p) for p in config.getini("testpaths")]
    for arg in args:
        path = Path(arg.split("::")[0])
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        try:
            path = path.resolve()
        except OSError:
            continue
        suite = (root / SUITE_DIR).resolve()
        if path == suite or suite in path.parents or path in suite.parents:
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    state = RunState(options=config.option)
    config.stash[STATE] = state
    if workers.receive(config, state):
        return
    if not targets_suite(config):
        return
    options.validate(config)
    try:
        state.profile = load_profile(options.profile_path(config))
    except ProfileError as exc:
        options.bad_invocation(str(exc))
    if not lists_only(config):
        preflight(config, state)


def lists_only(config: pytest.Config) -> bool:
    """--help, --collect-only, --fixtures, --fixtures-per-test: nothing runs, no cluster is needed."""
    opt = config.option
    return bool(opt.help or opt.collectonly or getattr(opt, "showfixtures", False)
                or getattr(opt, "show_fixtures_per_test", False))


def preflight(config: pytest.Config, state: RunState) -> None:
    """Done while configuring, before any worker starts, so bad input costs one line."""
    try:
        client, target = build_api_client(config.option.ossm_kubeconfig, config.option.ossm_context)
    except CredentialsError as exc:  # e.g. an expired login behind an exec plugin: could not check, like a 401
        could_not_check(config, state, str(exc))
    except KubeconfigError as exc:
        options.bad_invocation(str(exc))
    api = Api(client, request_timeout=(5.0, config.option.ossm_request_timeout), retry_budget=20.0)
    state._api = api
    try:
        version = kubernetes_version(api)
    except Exception as exc:  # noqa: BLE001 — every failure here is one line and one exit code
        could_not_check(config, state, f"could not reach the cluster: {describe(exc, 'GET ' + target.server + '/version')}")
    # Read while the tests run that need only what has arrived (kube/background.py); where a
    # child process cannot be had, before any test.
    reads, scope = snapshot_plan(state.profile), Scope.of(state.profile)
    snapshot = fetch_in_background(api, reads, scope) or fetch(api, reads, scope=scope)
    snapshot.server = {"kubernetes": version, "openshift": openshift_version(snapshot)}
    state.snapshot = snapshot
    state.target = _describe_target(target, snapshot, state.profile)
    if mtls_options.uses_prometheus(config.option):
        from ..mtls import prometheus
        problem = prometheus.reachable(prometheus.connect_from_options(config.option, api))
        if problem:
            could_not_check(config, state, f"could not query --prometheus-url {config.option.prometheus_url}: {problem}")
    # The snapshot is read-only from here on. On a big cluster it is millions of small objects
    # that the cyclic GC would otherwise re-scan at every full collection during the run and again
    # at interpreter exit: freezing them took ~30% off the wall time at 500 tenants (docs/performance.md).
    gc.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Every exit path (failures, Ctrl-C, pytest.exit): no snapshot reader or file outlives the run."""
    state = config.stash.get(STATE, None)
    if state is not None and state.snapshot is not None:
        state.snapshot.stop_reading()
    workers.remove_snapshot_file(config)


def could_not_check(config: pytest.Config, state: RunState, message: str) -> None:
    """Stops the run (exit 12) before any test; the alerting still hears of it (--metrics-push),
    since an unreachable cluster is exactly what the nightly exists to report."""
    from ..reporting.after_run import record
    for line in record(config, state, {}, exitcodes.COULD_NOT_CHECK, whole_run=False):
        print(line, file=sys.stderr)
    pytest.exit(f"ossm-conformance: {message}", returncode=exitcodes.COULD_NOT_CHECK)


def _describe_target(target: Target, snapshot: Snapshot, profile: Profile) -> dict:
    return {
        "server": target.server, "context": target.context, "user": target.user, "kubeconfig": target.source,
        "kubernetes": snapshot.server.get("kubernetes"), "openshift": snapshot.server.get("openshift") or "n/a (not OpenShift or unreadable)",
        "profile": f"{profile.source} (cluster {profile.cluster})",
    }


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = state_of(config)
    if not state.target:
        return []
    t = state.target
    return [
        f"ossm-conformance: API {t['server']}  context {t['context'] or '-'}  user {t['user'] or '-'}",
        f"ossm-conformance: Kubernetes {t['kubernetes']}  OpenShift {t['openshift']}  profile {t['profile']}",
    ]
