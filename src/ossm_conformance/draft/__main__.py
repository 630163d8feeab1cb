"""Draft a profile from a live cluster, or say how a profile and the cluster differ.

    python -m ossm_conformance.draft --kubeconfig K [--context C] -o profiles/<cluster>.yaml [--force]
    python -m ossm_conformance.draft --kubeconfig K --diff profiles/<cluster>.yaml

Edges come from Prometheus/Thanos with --prometheus-url (or $PROMETHEUS_URL), else from the suite's
probe pods; --no-edges skips them (then nothing at all is written to the cluster).
Exit codes (exitcodes.py): 0 drafted / no difference; 1 differences, or a draft that does not
validate (written, for a person to fix); 4 bad invocation (an existing file without --force, a bad
kubeconfig or profile); 12 the cluster could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import exitcodes
from ..findings import CouldNotCheck
from ..kube.client import Api, CredentialsError, KubeconfigError, build_api_client
from ..kube.errors import describe
from ..kube.server_info import kubernetes_version
from ..mtls import options as mtls_options
from ..profile import ProfileError, load_profile
from . import cluster, diff, edges, live, render


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own exit code (2) means "interrupted" here
        self.print_usage(sys.stderr)
        self.exit(exitcodes.BAD_INVOCATION, f"ossm-conformance draft: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ossm_conformance.draft", description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", dest="ossm_kubeconfig", metavar="FILE",
                   help="kubeconfig (default: $KUBECONFIG merged, then ~/.kube/config, as kubectl)")
    p.add_argument("--context", dest="ossm_context", help="kubeconfig context (default: current-context)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the drafted profile here")
    what.add_argument("--diff", type=Path, metavar="PROFILE", help="compare this profile with the cluster")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    p.add_argument("--cluster", help="the cluster's name (default: the --output file's name without .yaml)")
    p.add_argument("--no-edges", action="store_true", help="do not observe mTLS edges (strictly read-only)")
    p.add_argument("--window", dest="mtls_window", type=float, default=60.0, metavar="SECONDS",
                   help="observation window for edges (default 60; with a 30 s Prometheus scrape use >= 120)")
    p.add_argument("--prometheus-url", default=os.environ.get("PROMETHEUS_URL") or None, metavar="URL",
                   help="Prometheus or Thanos Querier (default $PROMETHEUS_URL); without it, probe pods scrape ztunnel")
    p.add_argument("--prometheus-token", default=None, help="bearer token (default: the kubeconfig's)")
    p.add_argument("--prometheus-ca", default=None, metavar="FILE")
    p.add_argument("--prometheus-insecure", action="store_true")
    p.add_argument("--probe-namespace", default=mtls_options.DEFAULT_PROBE_NAMESPACE)
    p.add_argument("--probe-image", default=mtls_options.DEFAULT_PROBE_IMAGE)
    p.add_argument("--probe-timeout", type=float, default=180.0, metavar="SECONDS")
    p.add_argument("--request-timeout", dest="ossm_request_timeout", type=float, default=30.0, metavar="SECONDS")
    return p


def main(argv: list[str] | None = None) -> int:
    opt = parser().parse_args(argv)
    opt.mtls_source = "prometheus" if opt.prometheus_url else "probe"   # what mtls_options.problem() reads
    try:
        return _run(opt)
    except (CredentialsError, CouldNotCheck) as exc:
        return _stop(exitcodes.COULD_NOT_CHECK, str(exc))
    except (KubeconfigError, ProfileError) as exc:
        return _stop(exitcodes.BAD_INVOCATION, str(exc))
    except KeyboardInterrupt:
        return _stop(exitcodes.INTERRUPTED, "interrupted (probe pods, if any, were removed)")


def _run(opt) -> int:
    problem = mtls_options.problem(opt)
    if problem:
        return _stop(exitcodes.BAD_INVOCATION, problem)
    if opt.output and opt.output.exists() and not opt.force:
        return _stop(exitcodes.BAD_INVOCATION, f"{opt.output} exists: pass --force (make: FORCE=1) to overwrite it")
    profile = load_profile(opt.diff) if opt.diff else None
    started = time.monotonic()
    client, target = build_api_client(opt.ossm_kubeconfig, opt.ossm_context)
    api = Api(client, request_timeout=(5.0, opt.ossm_request_timeout), retry_budget=20.0)
    try:
        kubernetes_version(api)
    except Exception as exc:  # noqa: BLE001 — one line, one exit code, as in the suite's preflight
        raise CouldNotCheck(f"could not reach the cluster: {describe(exc, 'GET ' + target.server + '/version')}") from None
    view = cluster.snapshot(api)
    name = opt.cluster or (profile.cluster if profile else opt.output.name.removesuffix(".yaml").removesuffix(".yml"))
    drafted = _draft(api, opt, view, name, profile)
    seconds = time.monotonic() - started
    if profile is not None:
        lines = diff.differences(profile, drafted)
        for line in lines:
            print(line)
        print(f"{len(lines)} difference(s) between {opt.diff} and {target.server} (context {target.context})"
              + (f"; edges over {drafted.edges_source}" if drafted.edges_source else "; edges not compared")
              + f" [{seconds:.1f}s]", file=sys.stderr)
        return exitcodes.NON_CONFORMANT if lines else exitcodes.CONFORMANT
    header = [f"Drafted from the live cluster by `python -m ossm_conformance.draft` on "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", f"(API {target.server}, context {target.context}).",
              "Every value below was read from the cluster; each comment says where from. Review the ones",
              "marked CONFIRM, then run the suite with --profile <this file>."]
    header += _observation_notes(drafted)
    text = render.render(drafted, header)
    invalid = _validation_problem(text)
    opt.output.parent.mkdir(parents=True, exist_ok=True)
    opt.output.write_text(text)
    p = drafted.profile
    print(f"wrote {opt.output}: {len(p.tenants)} tenant(s), {sum(len(t.edges) for t in p.tenants)} edge(s), "
          f"{len(drafted.suggestions)} namespace(s) to look at [{seconds:.1f}s]", file=sys.stderr)
    if invalid:
        return _stop(exitcodes.NON_CONFORMANT, f"the draft does not validate, fix it by hand: {invalid}")
    return exitcodes.CONFORMANT


def _draft(api, opt, view, name, profile) -> live.Draft:
    if opt.no_edges:
        return live.draft(view, name)
    ambient = cluster.ambient_namespaces(view)
    wanted = sorted(set(ambient) | ({t.namespace for t in profile.ambient_tenants} if profile else set()))
    observed = cluster.observe(api, opt, wanted, live.ztunnel_namespace(view))
    found, not_drafted = edges.observed_edges(observed.observation, view, set(ambient), live.trust_domain_of(view),
                                              live.waypoints(view))
    d = live.draft(view, name, found, observed.source, not_drafted)
    d.notes["_unobserved"] = "; ".join(f"{pod}: {why}" for pod, why in sorted(observed.observation.unobserved.items()))
    return d


def _observation_notes(d: live.Draft) -> list[str]:
    if not d.edges_source:
        return ["Edges were not observed (--no-edges): add the traffic that must be mutual_tls by hand."]
    notes = [f"Edges: connections the destination ztunnel counted as mutual_tls over {d.edges_source}."]
    if d.notes.get("_unobserved"):
        notes.append(f"CONFIRM: some ztunnels were not observed, edges landing there may be missing: {d.notes['_unobserved']}")
    return notes


def _validation_problem(text: str) -> str | None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
    try:
        load_profile(fh.name)
        return None
    except ProfileError as exc:
        return str(exc).replace(fh.name, "the draft")
    finally:
        os.unlink(fh.name)


def _stop(code: int, message: str) -> int:
    print(f"ossm-conformance draft: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
