"""The pytest plugin: options, preflight, one snapshot per run, and what the exit code means.

Data flow (DESIGN.md): the controlling process validates the profile, builds one API client,
checks that the cluster answers, and reads every needed kind once. xdist workers receive the
snapshot as a file and never list anything themselves, so `-n auto` costs no extra requests.
Bad input stops the run with one line and a documented exit code (exitcodes.py).
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import exitcodes
from .findings import CouldNotCheck
from .kube.client import Api, CredentialsError, KubeconfigError, Target, build_api_client
from .kube.errors import describe
from .checks.plan import snapshot_plan
from .kube.server_info import kubernetes_version, openshift_version
from .kube.scope import Scope
from .kube.snapshot import Snapshot, fetch
from .mtls import options as mtls_options
from .profile import Profile, ProfileError, load_profile
from .versions import parse_version

SUITE_DIR = "tests_conformance"
DEFAULT_PROFILE = "profiles/spoke-dc-v6.yaml"


@dataclass
class RunState:
    """Everything a run shares, on config.stash. Workers rebuild `api` lazily from the options."""
    profile: Profile | None = None
    snapshot: Snapshot | None = None
    snapshot_path: str | None = None
    target: dict = field(default_factory=dict)   # server, context, user, source: never credentials
    _api: Api | None = None
    options: object = None
    declared: frozenset = frozenset()            # kinds the running test declared (its `reads` marker)
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


# -- options -----------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("ossm", "ossm-conformance (OpenShift Service Mesh 3 ambient)")
    g.addoption("--kubeconfig", dest="ossm_kubeconfig", default=None, metavar="FILE",
                help="kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config, then in-cluster). Never rewritten.")
    g.addoption("--context", dest="ossm_context", default=None, help="kubeconfig context (default: current-context)")
    g.addoption("--profile", dest="ossm_profile", default=None, metavar="FILE",
                help=f"expected state of the cluster (default: {DEFAULT_PROFILE})")
    g.addoption("--settle-timeout", dest="ossm_settle_timeout", type=float, default=120.0, metavar="SECONDS",
                help="how long after the snapshot a not-yet-ready state may take to converge before it fails; "
                     "one deadline for the whole run (default 120)")
    g.addoption("--request-timeout", dest="ossm_request_timeout", type=float, default=30.0, metavar="SECONDS",
                help="read timeout of each API request (default 30)")
    g.addoption("--target-version", dest="ossm_target_version", default=None, metavar="vX.Y.Z",
                help="pre-upgrade gate: the Istio patch version about to be rolled out")
    g.addoption("--gate-report", dest="ossm_gate_report", default="reports/gate.json", metavar="FILE",
                help="where the pre-upgrade gate writes its verdict (default reports/gate.json)")
    g.addoption("--history", dest="ossm_history", default=None, metavar="FILE",
                help="keep a history of runs in FILE (Allure 3 history.jsonl) and say what changed since the last run")
    g.addoption("--metrics-push", dest="ossm_metrics_push", default=None, metavar="URL",
                help="push the run's results to this Prometheus Pushgateway (a failed push never changes the exit status)")
    mtls_options.add_options(g)
    parser.addini("ossm_profile", "default profile path", default=DEFAULT_PROFILE)


# -- configure ---------------------------------------------------------------------------------

def _targets_suite(config: pytest.Config) -> bool:
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


def _bad_invocation(message: str) -> None:
    pytest.exit(f"ossm-conformance: {message}", returncode=exitcodes.BAD_INVOCATION)


def pytest_configure(config: pytest.Config) -> None:
    state = RunState(options=config.option)
    config.stash[STATE] = state
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("ossm_snapshot"):
            state.snapshot = Snapshot.from_json(Path(workerinput["ossm_snapshot"]).read_text())
            gc.freeze()  # as in _preflight
            state.target = workerinput["ossm_target"]
            state.profile = load_profile(workerinput["ossm_profile"])
        return
    if not _targets_suite(config):
        return
    _validate_options(config)
    try:
        state.profile = load_profile(_profile_path(config))
    except ProfileError as exc:
        _bad_invocation(str(exc))
    if not (config.option.help or config.option.collectonly):
        _preflight(config, state)


def _profile_path(config: pytest.Config) -> Path:
    value = config.option.ossm_profile or config.getini("ossm_profile")
    path = Path(value)
    return path if path.is_absolute() or path.exists() else Path(config.rootpath) / path


def _validate_options(config: pytest.Config) -> None:
    opt = config.option
    if opt.ossm_settle_timeout < 0:
        _bad_invocation(f"--settle-timeout must be >= 0 seconds, got {opt.ossm_settle_timeout:g}")
    if opt.ossm_request_timeout <= 0:
        _bad_invocation(f"--request-timeout must be > 0 seconds, got {opt.ossm_request_timeout:g}")
    if opt.ossm_target_version is not None and parse_version(opt.ossm_target_version) is None:
        from .gate import refuse_malformed
        refuse_malformed(config)  # a malformed target is a no-go: never leave a previous gate.json behind
        _bad_invocation(f"--target-version {opt.ossm_target_version!r} is not a version (expected vMAJOR.MINOR.PATCH, e.g. v1.28.4)")
    if (problem := mtls_options.problem(opt)) is not None:
        _bad_invocation(problem)


# -- preflight and snapshot (controller only, called from pytest_configure) --------------------------------------------------

def _preflight(config: pytest.Config, state: RunState) -> None:
    """Done while configuring, before any worker starts, so bad input costs one line."""
    try:
        client, target = build_api_client(config.option.ossm_kubeconfig, config.option.ossm_context)
    except CredentialsError as exc:  # e.g. an expired login behind an exec plugin: could not check, like a 401
        _could_not_check(config, state, str(exc))
    except KubeconfigError as exc:
        _bad_invocation(str(exc))
    api = Api(client, request_timeout=(5.0, config.option.ossm_request_timeout), retry_budget=20.0)
    state._api = api
    try:
        version = kubernetes_version(api)
    except Exception as exc:  # noqa: BLE001 — every failure here is one line and one exit code
        _could_not_check(config, state, f"could not reach the cluster: {describe(exc, 'GET ' + target.server + '/version')}")
    snapshot = fetch(api, snapshot_plan(state.profile), scope=Scope.of(state.profile))
    snapshot.server = {"kubernetes": version, "openshift": openshift_version(snapshot)}
    state.snapshot = snapshot
    state.target = _describe_target(target, snapshot, state.profile)
    if mtls_options.uses_prometheus(config.option):
        from .mtls import prometheus
        problem = prometheus.reachable(prometheus.connect_from_options(config.option, api))
        if problem:
            _could_not_check(config, state, f"could not query --prometheus-url {config.option.prometheus_url}: {problem}")
    # The snapshot is read-only from here on. On a big cluster it is millions of small objects
    # that the cyclic GC would otherwise re-scan at every full collection during the run and again
    # at interpreter exit: freezing them took ~30% off the wall time at 500 tenants (docs/performance.md).
    gc.freeze()


def _could_not_check(config: pytest.Config, state: RunState, message: str) -> None:
    """Stops the run (exit 12) before any test; the alerting still hears of it (--metrics-push),
    since an unreachable cluster is exactly what the nightly exists to report."""
    from .reporting.after_run import record
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


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: hand every worker the controller's snapshot instead of letting it list again.
    Written only when workers exist, readable only by us, removed at unconfigure."""
    state = state_of(node.config)
    if state.snapshot is not None and state.snapshot_path is None:
        fd, state.snapshot_path = tempfile.mkstemp(prefix="ossm-snapshot-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(state.snapshot.to_json())
    if state.snapshot_path:
        node.workerinput["ossm_snapshot"] = state.snapshot_path
        node.workerinput["ossm_target"] = state.target
        node.workerinput["ossm_profile"] = state.profile.source


# -- parametrization from the profile ----------------------------------------------------------

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from .mtls.params import MTLS_PARAMS
    from .params import PARAMS

    PARAMS = {**PARAMS, **MTLS_PARAMS}
    profile = state_of(metafunc.config).profile
    for name in metafunc.fixturenames:
        if name in PARAMS:
            if profile is None:
                raise pytest.UsageError(f"{metafunc.definition.nodeid} needs a profile: run it as part of {SUITE_DIR}")
            pairs = PARAMS[name](profile)
            metafunc.parametrize(name, [v for _, v in pairs], ids=[i for i, _ in pairs], scope="function")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect, never skip, what does not apply to this run: the gate's own tests without
    --target-version, and tests whose profile list is empty (e.g. no sidecar tenant)."""
    def does_not_apply(item: pytest.Item) -> bool:
        if item.get_closest_marker("preupgrade") and config.option.ossm_target_version is None:
            return True
        skip = item.get_closest_marker("skip")
        return bool(skip and str(skip.kwargs.get("reason", "")).startswith("got empty parameter set"))

    keep, dropped = [], []
    for item in items:
        (dropped if does_not_apply(item) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


# -- outcomes ----------------------------------------------------------------------------------

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
    if hasattr(config, "workerinput"):
        return
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir and state.target:
        from .reporting.allure_files import write_run_files
        from .facts import installed_csv, running_istio_version
        write_run_files(alluredir, state.target, state.profile, {
            "OSSM.CSV": installed_csv(state.snapshot, state.profile) or "unknown",
            "Istio.version": running_istio_version(state.snapshot, state.profile) or "unknown",
            "Run.id": state.run_id,
        })
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and state.profile is not None:
        failed = len(reporter.stats.get("failed", []))
        errors = len(reporter.stats.get("error", []))
        if exitstatus == pytest.ExitCode.TESTS_FAILED and not failed and errors:
            session.exitstatus = exitcodes.COULD_NOT_CHECK
    if state.profile is not None and config.option.ossm_target_version is not None:
        from .gate import finish
        finish(session, state.snapshot, state.profile)  # a no-go overrides the codes above
    if reporter is not None and state.profile is not None and state.snapshot is not None:
        from .reporting.after_run import record
        state.after_run = record(config, state, reporter.stats, int(session.exitstatus))  # last: the final status


def pytest_unconfigure(config: pytest.Config) -> None:
    """Runs on every exit path (failures, Ctrl-C): the snapshot file never outlives the run."""
    state = config.stash.get(STATE, None)
    if state is not None and state.snapshot_path and not hasattr(config, "workerinput"):
        Path(state.snapshot_path).unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    from .reporting.summary import area_summary

    if state_of(config).profile is None or hasattr(config, "workerinput"):
        return
    from .gate import write_summary

    write_summary(terminalreporter, config)
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
