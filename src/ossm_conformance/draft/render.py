"""PURE: a Draft as profile YAML, each value with the comment that says where it came from.

Fields are written from the profile dataclasses themselves (profile.py), so a field added to the
schema (an operator version pin, an opt-out exception list) is drafted as soon as live.py fills
it; optional fields left at their default are omitted, as a person would.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass

import yaml

from ..checks.mesh import DATAPLANE_MODE
from .live import Draft

EXCLUDED_REASON_PLACEHOLDER = "<why it is kept out of the mesh: the cluster cannot tell, ask its owners>"
OPT_OUT_REASON_PLACEHOLDER = "<why this workload may run outside the mesh>"


def render(d: Draft, header: list[str]) -> str:
    p, notes = d.profile, d.notes
    out = [f"# {line}" if line else "#" for line in header]
    for f in fields(p):
        if f.name in ("source", "operators", "istio", "istio_cni", "ztunnel", "tenants"):
            continue
        value = getattr(p, f.name)
        if _is_default(f, value):
            continue
        out.append(_line(f"{f.name}: {_scalar(value)}", notes.get(f.name)))
    out.append("")
    out.append("operators:")
    for op in p.operators:
        out += _item(op, "  ", notes.get(f"operators.{op.package}"))
    for key in ("istio", "istio_cni", "ztunnel"):
        out.append("")
        out.append(_line(f"{key}:", notes.get(key)))
        out += [f"  {line}" for line in _mapping(getattr(p, key))]
    out.append("")
    out.append("tenants:" if p.tenants or d.suggestions else "tenants: []")
    for t in p.tenants:
        out.append(_line(f"  - namespace: {t.namespace}", notes.get(f"tenants.{t.namespace}")))
        out += [f"    {line}" for line in _mapping(t, skip=("namespace", "edges"))]
        if t.edges:
            out.append("    edges:")
            for e in t.edges:
                note = notes.get(f"edges.{e.id(t.namespace)}")
                if note:
                    out.append(f"      # {note}")
                out.append(f"      - {_flow(e)}")
        elif t.ambient:
            out.append(f"    # no mTLS edge {'observed' if d.edges_source else 'drafted (edges not observed)'}: "
                       "add the traffic that must be encrypted, if any")
        out += _pod_level_comments(d, t.namespace)
    if d.suggestions:
        out.append("  # Not enrolled, but they look like tenants. CONFIRM each: an excluded tenant needs a reason,")
        out.append("  # which the cluster cannot tell; delete the ones that are not mesh tenants at all.")
        for s in d.suggestions:
            out.append(f"  # - namespace: {s.namespace}    # {s.why}")
            out.append("  #   mode: excluded")
            out.append(f"  #   reason: {_scalar(EXCLUDED_REASON_PLACEHOLDER)}")
    for note in d.edge_notes:
        out.append(f"  # CONFIRM: {note}")
    return "\n".join(out) + "\n"


def _pod_level_comments(d: Draft, namespace: str) -> list[str]:
    """Opt-outs are left commented: the reason a workload may stay outside the mesh is a person's."""
    facts = d.pods.get(namespace)
    if not facts:
        return []
    out = []
    if facts.opted_out:
        out.append(f"    # CONFIRM: pods of these workloads carry {DATAPLANE_MODE}=none (outside the mesh, plaintext);")
        out.append("    # list them only with the reason they may stay out, or enrol them:")
        out.append("    # opt_outs:")
        out += [f"    #   - {{workload: {w}, reason: {_scalar(OPT_OUT_REASON_PLACEHOLDER)}}}" for w in facts.opted_out]
    if facts.sidecars:
        out.append(f"    # CONFIRM: {', '.join(facts.sidecars)} run(s) an istio-proxy sidecar in this ambient namespace "
                   "(the runbook: pick one mode per namespace)")
    return out


def _item(obj, indent: str, note: str | None) -> list[str]:
    lines = _mapping(obj)
    return [_line(f"{indent}- {lines[0]}", note)] + [f"{indent}  {line}" for line in lines[1:]]


def _mapping(obj, skip: tuple[str, ...] = ()) -> list[str]:
    return [f"{f.name}: {_scalar(getattr(obj, f.name))}" for f in fields(obj)
            if f.name not in skip and not _is_default(f, getattr(obj, f.name))]


def _flow(obj) -> str:
    parts = [f"{f.name}: {_scalar(getattr(obj, f.name))}" for f in fields(obj) if not _is_default(f, getattr(obj, f.name))]
    return "{" + ", ".join(parts) + "}"


def _is_default(f, value) -> bool:
    if f.default is not MISSING:
        return value == f.default
    if f.default_factory is not MISSING:
        return value == f.default_factory()
    return False


def _scalar(value) -> str:
    if is_dataclass(value):
        raise TypeError(f"nested value {value!r} needs its own section")
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def _line(text: str, note: str | None) -> str:
    return f"{text}    # {note}" if note else text
