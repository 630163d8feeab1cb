"""The suite's command-line options, and the one-line refusal of a bad value (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .. import exitcodes
from ..mtls import options as mtls_options
from ..versions import parse_version
from . import gate

DEFAULT_PROFILE = "profiles/spoke-dc-v6.yaml"


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


def bad_invocation(message: str) -> None:
    pytest.exit(f"ossm-conformance: {message}", returncode=exitcodes.BAD_INVOCATION)


def profile_path(config: pytest.Config) -> Path:
    value = config.option.ossm_profile or config.getini("ossm_profile")
    path = Path(value)
    return path if path.is_absolute() or path.exists() else Path(config.rootpath) / path


def validate(config: pytest.Config) -> None:
    opt = config.option
    if opt.ossm_settle_timeout < 0:
        bad_invocation(f"--settle-timeout must be >= 0 seconds, got {opt.ossm_settle_timeout:g}")
    if opt.ossm_request_timeout <= 0:
        bad_invocation(f"--request-timeout must be > 0 seconds, got {opt.ossm_request_timeout:g}")
    if opt.ossm_target_version is not None and parse_version(opt.ossm_target_version) is None:
        gate.refuse_malformed(config)  # a malformed target is a no-go: never leave a previous gate.json behind
        bad_invocation(f"--target-version {opt.ossm_target_version!r} is not a version (expected vMAJOR.MINOR.PATCH, e.g. v1.28.4)")
    if (problem := mtls_options.problem(opt)) is not None:
        bad_invocation(problem)
