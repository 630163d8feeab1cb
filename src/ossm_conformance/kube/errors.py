"""How an API failure is classified: transient (retry, bounded) or final (a finding or an error).

The transient list follows what large OpenShift test suites learned to retry (RedHatQE/
openshift-python-wrapper `ocp_resources/utils/constants.py`; tenacity's own pitfalls, jd/tenacity
#24 and #373): throttling, server-side hiccups, dropped connections and time-outs. 401, RBAC 403 and 404 are never retried: they are answers.
"""

from __future__ import annotations

import re
import socket
import ssl
from email.utils import parsedate_to_datetime
from time import time

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
TRANSIENT_MESSAGES = (
    "etcdserver: leader changed",
    "etcdserver: request timed out",
    "failed calling webhook",
    "rpc error:",
    "context deadline exceeded",
    "the server is currently unable to handle the request",
)
# A TLS handshake cut short by the network (apiserver restarting, a proxy or load balancer dropping
# the connection) is a hiccup; a certificate the client refuses is a configuration problem.
INTERRUPTED_HANDSHAKE = (
    "EOF occurred in violation of protocol",
    "UNEXPECTED_EOF_WHILE_READING",
    "Connection reset by peer",
    "Broken pipe",
    "operation timed out",
)


# urllib3 puts "<urllib3.connection.HTTPSConnection object at 0x7f...>: " before the cause; noise to a reader.
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:? ?")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        if exc.status in TRANSIENT_STATUSES:
            return True
        if exc.status == 0:  # the kubernetes client turns urllib3's SSLError into ApiException(status=0)
            return _interrupted_handshake(exc)
        body = str(exc.body or "")
        return exc.status == 403 and "context deadline exceeded" in body or (
            exc.status == 500 and any(m in body for m in TRANSIENT_MESSAGES)
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False  # a TLS verification failure is a configuration problem, not a hiccup
    if isinstance(exc, urllib3.exceptions.SSLError):
        return _interrupted_handshake(exc)
    return isinstance(exc, (
        urllib3.exceptions.MaxRetryError,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.TimeoutError,
        urllib3.exceptions.NewConnectionError,
        ConnectionError,
        socket.timeout,
        TimeoutError,
    )) and not _is_tls_failure(exc)


def is_unreachable(exc: BaseException) -> bool:
    """The server could not be reached or dropped the connection (no HTTP answer at all)."""
    if isinstance(exc, ApiException):
        return exc.status == 0 and _interrupted_handshake(exc)
    return is_transient(exc)


def is_startup_answer(exc: BaseException) -> bool:
    """What a kube-apiserver answers to allowed requests in the moment after it starts, before its
    RBAC and CRD caches sync (measured on the lab: ~0.1 s of 403s after a restart). Only meaningful
    right after the server was unreachable; any other time these are final answers."""
    return isinstance(exc, ApiException) and exc.status in (403, 404)


def _is_tls_failure(exc: BaseException) -> bool:
    """A certificate or handshake the client refuses (not a handshake the network cut short)."""
    if _interrupted_handshake(exc):
        return False
    reason = getattr(exc, "reason", None)
    return (isinstance(reason, (urllib3.exceptions.SSLError, ssl.SSLError)) or "CERTIFICATE_VERIFY_FAILED" in str(exc)
            or (isinstance(exc, ApiException) and exc.status == 0 and str(exc.reason or "").startswith("SSLError")))


def _interrupted_handshake(exc: BaseException) -> bool:
    text = str(exc.reason or "") if isinstance(exc, ApiException) else str(exc)
    return "CERTIFICATE_VERIFY_FAILED" not in text and any(m in text for m in INTERRUPTED_HANDSHAKE)


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After on a 429/503 (API Priority and Fairness sets it), if any: delay
    seconds, or an HTTP date (RFC 9110 allows both)."""
    if not (isinstance(exc, ApiException) and exc.headers):
        return None
    value = exc.headers.get("Retry-After") or exc.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def describe(exc: BaseException, what: str) -> str:
    """One line saying why `what` could not be read, naming the permission or resource."""
    if _is_tls_failure(exc):
        return f"{what}: TLS verification failed ({_short(exc)})"
    if isinstance(exc, ApiException):
        if exc.status == 0:
            return f"{what}: connection failed ({_short(exc)})"
        if exc.status == 401:
            return f"{what}: 401 Unauthorized (the kubeconfig's credentials were refused: expired or invalid token/certificate)"
        if exc.status == 403:
            return f"{what}: 403 Forbidden (the suite's user lacks this permission)"
        if exc.status == 404:
            return f"{what}: 404 Not Found (the kind is not served: is its CRD installed?)"
        return f"{what}: HTTP {exc.status} {_short(exc)}"
    return f"{what}: {type(exc).__name__}: {_short(exc)}"


def _short(exc: BaseException) -> str:
    """One line: the client's reasons can span lines (e.g. "SSLError\\n[SSL: ...]")."""
    text = OBJECT_REPR.sub("", " ".join(str(getattr(exc, "reason", None) or exc).split()))
    return text if len(text) < 300 else text[:297] + "..."
