"""Which API failures the suite retries (bounded) and which it reports at once, how long it waits
on a 429's Retry-After, and that every reason is one line. Exceptions are built the way the
kubernetes client and urllib3 raise them (the TLS ones were captured from real handshakes)."""

from __future__ import annotations

import email.utils
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from ossm_conformance.kube.client import Api, _server_time
from ossm_conformance.kube.errors import describe, is_transient, retry_after_seconds

VERIFY_FAILED = ("SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                 "unable to get local issuer certificate (_ssl.c:1006)")
HANDSHAKE_EOF = "SSLError\n[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)"


def api_error(status: int, body: str = "", headers: dict | None = None, reason: str = "") -> ApiException:
    exc = ApiException(status=status, reason=reason or "reason")
    exc.body, exc.headers = body, headers
    return exc


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_hiccups_are_transient(status):
    assert is_transient(api_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_answers_are_not_retried(status):
    assert not is_transient(api_error(status, body='{"message": "nope"}'))


def test_curated_messages_make_500_and_403_transient():
    assert is_transient(api_error(500, body='{"message": "etcdserver: leader changed"}'))
    assert is_transient(api_error(403, body='{"message": "... context deadline exceeded"}'))
    assert not is_transient(api_error(403, body='{"message": "User cannot list pods"}'))


@pytest.mark.parametrize("exc", [
    urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
    urllib3.exceptions.ReadTimeoutError(None, "/version", "Read timed out. (read timeout=3)"),
    urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused"),
    urllib3.exceptions.MaxRetryError(None, "/version", urllib3.exceptions.NewConnectionError(None, "refused")),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError("timed out"),
], ids=type)
def test_dropped_refused_and_timed_out_connections_are_transient(exc):
    assert is_transient(exc)


def test_handshake_cut_by_the_network_is_transient_but_a_refused_certificate_is_not():
    # The kubernetes client re-raises urllib3's SSLError as ApiException(status=0, reason="SSLError\n...").
    assert is_transient(api_error(0, reason=HANDSHAKE_EOF))
    assert is_transient(urllib3.exceptions.SSLError(HANDSHAKE_EOF.split("\n")[1]))
    assert not is_transient(api_error(0, reason=VERIFY_FAILED))
    assert not is_transient(urllib3.exceptions.SSLError(VERIFY_FAILED.split("\n")[1]))


def test_bugs_are_never_retried():
    assert not is_transient(KeyError("items")) and not is_transient(TypeError("x"))


def test_reasons_are_one_line():
    tls = describe(api_error(0, reason=VERIFY_FAILED), "GET https://127.0.0.1:6443/version")
    assert "\n" not in tls and "TLS verification failed" in tls and "CERTIFICATE_VERIFY_FAILED" in tls
    cut = describe(api_error(0, reason=HANDSHAKE_EOF), "GET /version")
    assert "\n" not in cut and "TLS verification" not in cut and "connection failed" in cut
    assert "401 Unauthorized" in describe(api_error(401), "list pods")
    assert "\n" not in describe(api_error(500, reason="Internal\nServer Error"), "list pods")


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds(api_error(429, headers={"Retry-After": "8"})) == 8.0
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(api_error(503, headers={"Retry-After": when})) <= 31
    assert retry_after_seconds(api_error(429, headers={"Retry-After": "soon"})) is None
    assert retry_after_seconds(api_error(429, headers={})) is None
    assert retry_after_seconds(ConnectionResetError()) is None


class FakeClient:
    """An ApiClient stand-in: answers from a script and records the arguments of every call."""

    def __init__(self, *script):
        self.script, self.calls = list(script), []
        self.configuration = SimpleNamespace(host="https://127.0.0.1:1")

    def call_api(self, path, method, **kwargs):
        self.calls.append(kwargs)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return SimpleNamespace(data=step)


def test_a_429_waits_at_least_its_retry_after_then_succeeds(naps):
    client = FakeClient(api_error(429, headers={"Retry-After": "3"}), b'{"gitVersion": "v1.34.4"}')
    assert Api(client).get("/version") == {"gitVersion": "v1.34.4"}
    assert len(client.calls) == 2 and naps and naps[0] >= 3


def test_transient_failures_are_retried_within_the_budget_then_reraised(naps):
    client = FakeClient(*[api_error(503)] * 30)
    with pytest.raises(ApiException):
        Api(client, retry_budget=10).get("/version")
    assert 1 < len(client.calls) <= 12 and sum(naps) < 10


def test_an_answer_is_not_retried(naps):
    client = FakeClient(api_error(401))
    with pytest.raises(ApiException):
        Api(client).get("/version")
    assert len(client.calls) == 1 and not naps


def test_every_request_carries_a_timeout():
    client = FakeClient(b"{}", b"{}", b"", b"text")
    api = Api(client, request_timeout=(2.0, 7.0))
    api.get("/a"), api.post("/b", {}), api.delete("/c"), api.get_text("/d")
    assert [c["_request_timeout"] for c in client.calls] == [(2.0, 7.0)] * 4


def test_forbidden_right_after_the_server_was_unreachable_is_a_restart_and_retried(naps):
    # Measured on the lab: a restarted kube-apiserver refuses connections, then answers 403 to allowed
    # requests for ~0.1 s until its RBAC cache syncs, then 200.
    refused = urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused")
    client = FakeClient(refused, api_error(403), b'{"items": []}')
    assert Api(client).get("/api/v1/pods") == {"items": []}
    assert len(client.calls) == 3


def test_forbidden_on_a_healthy_server_is_an_answer(naps):
    client = FakeClient(api_error(403), b"{}")
    with pytest.raises(ApiException):
        Api(client).get("/api/v1/pods")
    assert len(client.calls) == 1


def test_connection_object_reprs_are_left_out():
    refused = urllib3.exceptions.NewConnectionError(
        "<urllib3.connection.HTTPSConnection object at 0x7f1a65e93390>", "Failed to establish a new connection: [Errno 111] Connection refused")
    line = describe(refused, "GET https://127.0.0.1:1/version")
    assert "object at 0x" not in line and "[Errno 111] Connection refused" in line


def test_server_time_comes_from_the_date_header():
    answer = SimpleNamespace(headers={"Date": "Thu, 26 Nov 2026 19:05:30 GMT"})
    assert _server_time(answer) == datetime(2026, 11, 26, 19, 5, 30, tzinfo=timezone.utc)
    assert _server_time(SimpleNamespace(headers={})) is None
    assert _server_time(SimpleNamespace(headers={"Date": "yesterday"})) is None
