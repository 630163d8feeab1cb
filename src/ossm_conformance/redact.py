"""Keep secrets out of every report, attachment and log line.

The snapshot never lists Secrets, but other objects can still carry credentials: literal env
values, ConfigMap-like data, annotations holding tokens, certificate data. Anything shaped like
that is replaced before an object is attached or printed.
"""

from __future__ import annotations

import copy
import re

REDACTED = "<redacted>"
_SENSITIVE_KEY = re.compile(r"(token|password|passwd|secret|private|credential|-key$|key-data|certificate-data|client-key|bearer)", re.I)
_SENSITIVE_TEXT = re.compile(
    r"(-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----.*?-----END [A-Z ]*-----"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"   # JWTs (service-account tokens)
    r"|sha256~[A-Za-z0-9_-]{20,})",                                   # OpenShift OAuth tokens
    re.S,
)


def redact_text(text: str) -> str:
    return _SENSITIVE_TEXT.sub(REDACTED, text)


def redact_object(obj):
    """A deep copy of an API object with credentials removed."""
    obj = copy.deepcopy(obj)
    _walk(obj)
    return obj


def _walk(node):
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            if key in ("data", "binaryData", "stringData") and isinstance(value, dict):
                node[key] = {k: REDACTED for k in value}
            elif key == "env" and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and "value" in item:
                        item["value"] = REDACTED
            elif isinstance(value, str) and _SENSITIVE_KEY.search(str(key)):
                node[key] = REDACTED
            elif isinstance(value, str):
                node[key] = redact_text(value)
            else:
                _walk(value)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, str):
                node[i] = redact_text(item)
            else:
                _walk(item)
