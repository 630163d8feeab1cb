"""Attachments for the Allure report: what a check examined, and its findings on failure."""

from __future__ import annotations

import json

import yaml

from .history import object_ref, state_digest
from ..redact import redact_object, redact_text

try:
    import allure
    import allure_commons
except ImportError:  # allure-pytest is a dependency; stay usable without it in unit tests
    allure = allure_commons = None

MAX_OBJECTS = 50  # a cluster-wide check can touch hundreds; the report keeps the first ones
# libyaml when present: the pure-Python emitter spent ~40 ms per test on a 500-tenant twin.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def reporting() -> bool:
    """True when an Allure report is being written (--alluredir). Otherwise allure.attach drops
    what it is given, so rendering the examined objects first would be pure cost: at 500 tenants
    it was most of the suite's wall time (docs/performance.md)."""
    return allure_commons is not None and bool(allure_commons.plugin_manager.hook.attach_data.get_hookimpls())


def examined_objects(recorder, limit: int | None = None) -> list[tuple[str, dict]]:
    """(kind, object) for every object the check read, each read once, at most `limit`."""
    objects: list[tuple[str, dict]] = []
    for read in dict.fromkeys(recorder.used):
        try:
            if read.name:
                obj = recorder.view.get(read.kind, read.name, read.namespace)
                objects += [(read.kind, obj)] if obj else []
            else:
                objects += [(read.kind, o) for o in recorder.view.list(read.kind, read.namespace)]
        except Exception:  # noqa: BLE001 — evidence is best effort; the verdict is already decided
            continue
        if limit is not None and len(objects) >= limit:
            break
    return objects[:limit]


def examined_digest(recorder) -> str:
    """Changes when any object the check read changed (history.py: a flaky outcome is one that
    changed while this did not). An object the check looked for and did not find counts too."""
    refs = [(kind, *object_ref(o)) for kind, o in examined_objects(recorder)]
    return state_digest(refs + [(r.kind, r.namespace or "", r.name or "", "read") for r in dict.fromkeys(recorder.used)])


def attach_examined(recorder) -> None:
    if not reporting():
        return
    objects = [o for _, o in examined_objects(recorder, MAX_OBJECTS)]
    if objects:
        text = yaml.dump_all([redact_object(o) for o in objects], Dumper=_DUMPER, sort_keys=False)
        allure.attach(text, name="examined objects", attachment_type=allure.attachment_type.YAML)


def attach_findings(findings) -> None:
    if not reporting():  # as attach_examined: no rendering for a report nobody writes
        return
    body = json.dumps([f.__dict__ for f in findings], indent=2)
    allure.attach(redact_text(body), name="findings", attachment_type=allure.attachment_type.JSON)


def attach_text(name: str, text: str) -> None:
    if reporting():
        allure.attach(redact_text(text), name=name, attachment_type=allure.attachment_type.TEXT)
