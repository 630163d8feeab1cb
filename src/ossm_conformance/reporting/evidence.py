"""Attachments for the Allure report: what a check examined, and its findings on failure."""

from __future__ import annotations

import json

import yaml

from .redact import redact_object, redact_text

try:
    import allure
except ImportError:  # allure-pytest is a dependency; stay usable without it in unit tests
    allure = None

MAX_OBJECTS = 50  # a cluster-wide check can touch hundreds; the report keeps the first ones


def attach_examined(recorder) -> None:
    if allure is None:
        return
    objects = []
    for read in dict.fromkeys(recorder.used):
        try:
            if read.name:
                obj = recorder.view.get(read.kind, read.name, read.namespace)
                objects += [obj] if obj else []
            else:
                objects += recorder.view.list(read.kind, read.namespace)
        except Exception:  # noqa: BLE001 — evidence is best effort; the verdict is already decided
            continue
        if len(objects) >= MAX_OBJECTS:
            break
    if objects:
        text = yaml.safe_dump_all([redact_object(o) for o in objects[:MAX_OBJECTS]], sort_keys=False)
        allure.attach(text, name="examined objects", attachment_type=allure.attachment_type.YAML)


def attach_findings(findings) -> None:
    if allure is None:
        return
    body = json.dumps([f.__dict__ for f in findings], indent=2)
    allure.attach(redact_text(body), name="findings", attachment_type=allure.attachment_type.JSON)


def attach_text(name: str, text: str) -> None:
    if allure is not None:
        allure.attach(redact_text(text), name=name, attachment_type=allure.attachment_type.TEXT)
