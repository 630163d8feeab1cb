"""The profile: the expected state of one cluster, and the only place cluster facts live.

Loaded and validated before any test runs. A wrong file gets one line naming the file, the
field and the problem (ProfileError); unknown keys are refused so a typo never silently
disables a check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

TENANT_MODES = ("ambient", "ambient+waypoint", "sidecar", "excluded")
UPDATE_STRATEGIES = ("InPlace", "RevisionBased")
WAYPOINT_FOR = ("service", "workload", "all")
VERSION_RE = re.compile(r"^v(\d+)\.(\d+)(?:\.(\d+)|-latest)$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# libyaml's safe loader: the pure-Python one took a second per process (controller and every
# xdist worker) for a 500-tenant profile. Same errors (problem, problem_mark) for the one-liner.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ProfileError(Exception):
    """str() is the one line shown to the user: file, field, problem."""


@dataclass(frozen=True)
class Operator:
    package: str
    channel: str
    namespace: str
    deployment: str
    csv_prefix: str = ""   # CSV names are "<prefix>.vX.Y.Z"; defaults to the package name
    version: str = ""      # the version the runbook pins (X.Y.Z): the installed CSV must be that one


@dataclass(frozen=True)
class IstioSpec:
    name: str
    namespace: str
    profile: str
    version: str
    update_strategy: str = "InPlace"
    inactive_revision_deletion_grace_period_seconds: int | None = None
    istiod_deployment: str = "istiod"


@dataclass(frozen=True)
class IstioCNISpec:
    namespace: str
    version: str
    profile: str | None = None
    name: str = "default"
    daemonset: str = "istio-cni-node"


@dataclass(frozen=True)
class ZTunnelSpec:
    namespace: str
    version: str
    name: str = "default"
    daemonset: str = "ztunnel"
    service_account: str = "ztunnel"


@dataclass(frozen=True)
class Edge:
    """A traffic path that must be encrypted: source workload -> destination service."""
    source: str                       # the source workload (Deployment) name
    source_service_account: str
    destination: str                  # the destination Service name (in the tenant namespace unless qualified)
    destination_service_account: str
    destination_namespace: str = ""   # defaults to the tenant's namespace

    def id(self, tenant: str) -> str:
        dest_ns = self.destination_namespace or tenant
        return f"{tenant}:{self.source}->{self.destination}" + (f".{dest_ns}" if dest_ns != tenant else "")


@dataclass(frozen=True)
class OptOut:
    """A workload of an ambient tenant allowed to run with istio.io/dataplane-mode=none."""
    workload: str                     # the Deployment (or other controller) whose pods opt out
    reason: str                       # why it may stay outside the mesh (shown in the report)


@dataclass(frozen=True)
class Tenant:
    namespace: str
    mode: str
    reason: str = ""                  # why the tenant is excluded (required for mode excluded)
    waypoint: str = ""                # the waypoint Gateway name (mode ambient+waypoint)
    waypoint_for: str = "service"     # the waypoint's istio.io/waypoint-for (service, workload, all)
    edges: tuple[Edge, ...] = ()
    opt_outs: tuple[OptOut, ...] = ()  # pods of an ambient tenant allowed outside the mesh

    @property
    def ambient(self) -> bool:
        return self.mode in ("ambient", "ambient+waypoint")


@dataclass(frozen=True)
class Profile:
    cluster: str
    trust_domain: str
    istio_minor: str                  # "1.28": the minor every component must run
    operators: tuple[Operator, ...]
    istio: IstioSpec
    istio_cni: IstioCNISpec
    ztunnel: ZTunnelSpec
    tenants: tuple[Tenant, ...]
    ignored_namespaces: tuple[str, ...] = ()   # ambient-labelled namespaces the profile knowingly leaves alone
    source: str = ""

    @property
    def ambient_tenants(self) -> tuple[Tenant, ...]:
        return tuple(t for t in self.tenants if t.ambient)

    def tenant(self, namespace: str) -> Tenant | None:
        return next((t for t in self.tenants if t.namespace == namespace), None)


def load_profile(path: str | Path) -> Profile:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profile {path}: no such file")
    try:
        data = yaml.load(path.read_text(), Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"profile {path}:{where}: YAML syntax error: {problem}") from None
    try:
        profile = _build(Profile, data, "", {"operators": Operator, "tenants": Tenant})
        _validate(profile)
    except _FieldError as exc:
        raise ProfileError(f"profile {path}: field '{exc.field}': {exc.problem}") from None
    return _replace_source(profile, str(path))


class _FieldError(Exception):
    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name}: {problem}")
        self.field, self.problem = field_name, problem


_NESTED = {"istio": IstioSpec, "istio_cni": IstioCNISpec, "ztunnel": ZTunnelSpec}
_LISTS = {"operators": Operator, "tenants": Tenant, "edges": Edge, "opt_outs": OptOut}


def _build(cls, data: Any, where: str, _unused=None):
    if not isinstance(data, dict):
        raise _FieldError(where or "(top level)", f"expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls) if not (cls is Profile and f.name == "source")}
    for key in data:
        if key not in known:
            raise _FieldError(_join(where, str(key)), f"unknown key (known: {', '.join(sorted(known))})")
    values = {}
    for name, f in known.items():
        path = _join(where, name)
        if name not in data:
            if f.default is field().default and f.default_factory is field().default_factory:  # required
                raise _FieldError(path, "required")
            continue
        value = data[name]
        if name in _NESTED:
            value = _build(_NESTED[name], value, path)
        elif name in _LISTS:
            if not isinstance(value, list):
                raise _FieldError(path, f"expected a list, got {type(value).__name__}")
            value = tuple(_build(_LISTS[name], item, f"{path}[{i}]") for i, item in enumerate(value))
        elif name == "ignored_namespaces":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _FieldError(path, "expected a list of namespace names")
            value = tuple(value)
        elif name == "inactive_revision_deletion_grace_period_seconds":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise _FieldError(path, f"expected a whole number >= 0, got {value!r}")
        elif not isinstance(value, str):
            raise _FieldError(path, f"expected a string, got {type(value).__name__} {value!r}")
        values[name] = value
    return cls(**values)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _validate(p: Profile) -> None:
    if not re.fullmatch(r"\d+\.\d+", p.istio_minor):
        raise _FieldError("istio_minor", f"expected MAJOR.MINOR such as 1.28, got {p.istio_minor!r}")
    for name, version in (("istio.version", p.istio.version), ("istio_cni.version", p.istio_cni.version),
                          ("ztunnel.version", p.ztunnel.version)):
        m = VERSION_RE.match(version)
        if not m:
            raise _FieldError(name, f"expected vMAJOR.MINOR.PATCH or vMAJOR.MINOR-latest, got {version!r}")
        if f"{m.group(1)}.{m.group(2)}" != p.istio_minor:
            raise _FieldError(name, f"{version} is not on istio_minor {p.istio_minor}")
    if p.istio.update_strategy not in UPDATE_STRATEGIES:
        raise _FieldError("istio.update_strategy", f"expected one of {', '.join(UPDATE_STRATEGIES)}, got {p.istio.update_strategy!r}")
    if p.istio_cni.name != "default" or p.ztunnel.name != "default":
        raise _FieldError("istio_cni.name" if p.istio_cni.name != "default" else "ztunnel.name",
                          "the sail-operator accepts only the name 'default'")
    if not p.operators:
        raise _FieldError("operators", "at least the servicemeshoperator3 operator is required")
    for i, op in enumerate(p.operators):
        if op.version and not re.fullmatch(r"\d+\.\d+\.\d+", op.version):
            raise _FieldError(f"operators[{i}].version", f"expected X.Y.Z such as 2.22.2, got {op.version!r}")
    seen: set[str] = set()
    for i, t in enumerate(p.tenants):
        where = f"tenants[{i}]"
        if not DNS_LABEL_RE.match(t.namespace):
            raise _FieldError(f"{where}.namespace", f"{t.namespace!r} is not a valid namespace name")
        if t.namespace in seen:
            raise _FieldError(f"{where}.namespace", f"{t.namespace} is listed twice")
        seen.add(t.namespace)
        if t.mode not in TENANT_MODES:
            raise _FieldError(f"{where}.mode", f"expected one of {', '.join(TENANT_MODES)}, got {t.mode!r}")
        if t.mode == "excluded" and not t.reason:
            raise _FieldError(f"{where}.reason", "an excluded tenant needs a reason (it is shown in the report)")
        if t.mode == "ambient+waypoint" and not t.waypoint:
            raise _FieldError(f"{where}.waypoint", "mode ambient+waypoint needs the waypoint Gateway's name")
        if t.waypoint_for not in WAYPOINT_FOR:
            raise _FieldError(f"{where}.waypoint_for", f"expected one of {', '.join(WAYPOINT_FOR)}, got {t.waypoint_for!r}")
        if t.edges and not t.ambient:
            raise _FieldError(f"{where}.edges", f"only ambient tenants have mTLS edges (mode is {t.mode})")
        if t.opt_outs and not t.ambient:
            raise _FieldError(f"{where}.opt_outs", f"only ambient tenants have opt-outs (mode is {t.mode})")
        for j, o in enumerate(t.opt_outs):
            if not o.reason.strip():
                raise _FieldError(f"{where}.opt_outs[{j}].reason", "an opt-out needs a reason (it is shown in the report)")


def _replace_source(p: Profile, source: str) -> Profile:
    from dataclasses import replace
    return replace(p, source=source)
