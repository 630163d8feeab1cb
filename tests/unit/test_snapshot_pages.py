"""The snapshot's reads: paginated lists, decoded into their projection, filtered to the mesh.

The pager is exercised on a stand-in for the client's `open` (pages as the API server encodes
them); the same code against the real API server is in tests/lab/test_snapshot_on_lab.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref

import pytest
from kubernetes.client.exceptions import ApiException

from bench.realistic import pod as openshift_pod
from ossm_conformance.kube.decode import decode_page
from ossm_conformance.kube.pager import continue_token
from ossm_conformance.kube.projection import project
from ossm_conformance.kube.scope import Scope
from ossm_conformance.kube.snapshot import Read, fetch, read_each
from objects import PROFILE
from responses import Body


def _pod(ns: str, name: str, labels=None, annotations=None, init=()):
    o = openshift_pod(ns, name, "worker-1", "10.128.2.7", {"app": name, **(labels or {})}, annotations)
    o["metadata"]["managedFields"] = [{"manager": "kubelet", "operation": "Update", "fieldsType": "FieldsV1",
                                       "fieldsV1": {"f:status": {"f:phase": {}}}, "subresource": "status"}]
    o["spec"]["initContainers"] = [{"name": n, "image": "x", "restartPolicy": "Always"} for n in init]
    return o


def _page(items, token=None) -> bytes:
    meta = {"resourceVersion": "42", **({"continue": token} if token else {})}
    return json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}).encode()


class Pages:
    """Answers list requests from a script of pages (or exceptions), recording each query."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.queries = []
        self.opened: list[Body] = []
        self.read_before: list[list[bool]] = []  # at each request: was each earlier response read whole?

    def open(self, path, query=None):
        self.queries.append(dict(query or []))
        self.read_before.append([b.read_whole for b in self.opened])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        self.opened.append(Body(answer))
        return self.opened[-1]


def _expired():
    return ApiException(status=410, reason="Gone: The provided continue parameter is too old")


def test_a_list_is_read_in_pages_with_continue_tokens():
    api = Pages(_page([_pod("t", "a")], "tok1"), _page([_pod("t", "b")], "tok2"), _page([_pod("t", "c")]))
    snap = fetch(api, [Read("pods")], page_size=1)
    assert [p["metadata"]["name"] for p in snap.list("pods")] == ["a", "b", "c"]
    assert [q.get("continue") for q in api.queries] == [None, "tok1", "tok2"]
    assert {q["limit"] for q in api.queries} == {"1"}


def test_an_expired_continue_token_restarts_the_list_once_and_says_so(caplog):
    api = Pages(_page([_pod("t", "a")], "tok1"), _expired(), _page([_pod("t", "a")], "tok3"), _page([_pod("t", "b")]))
    with caplog.at_level(logging.WARNING):
        snap = fetch(api, [Read("pods")], page_size=1)
    assert [p["metadata"]["name"] for p in snap.list("pods")] == ["a", "b"]  # no duplicate from the first try
    assert [q.get("continue") for q in api.queries] == [None, "tok1", None, "tok3"]
    assert "continue token expired" in caplog.text


def test_a_second_expiry_is_the_reads_error_not_a_partial_list():
    api = Pages(_page([_pod("t", "a")], "tok1"), _expired(), _page([_pod("t", "a")], "tok3"), _expired())
    snap = fetch(api, [Read("pods")], page_size=1)
    assert snap.errors(["pods"]) == ["list pods cluster-wide: HTTP 410 Gone: The provided continue parameter is too old"]


def test_the_next_page_is_asked_for_as_soon_as_this_pages_head_has_arrived():
    api = Pages(_page([_pod("t", "a")], "tok1"), _page([_pod("t", "b")], "tok2"), _page([_pod("t", "c")]))
    fetch(api, [Read("pods")], page_size=1)
    # Each continue request went out while the page before it was still arriving (kube/pager.py) ...
    assert [earlier[-1] for earlier in api.read_before[1:]] == [False, False]
    # ... and every page was then read to its end and its connection given back, none cut.
    assert [(b.read_whole, b.released, b.cut) for b in api.opened] == [(True, True, False)] * 3


def _custom_resource_page(names, token=None) -> bytes:
    """A custom resource's list as the API server encodes it: keys sorted, so the items come first."""
    meta = {"resourceVersion": "42", **({"continue": token} if token else {})}
    items = [{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
              "metadata": {"name": n, "namespace": "t"}, "spec": {"mtls": {"mode": "STRICT"}}} for n in names]
    return json.dumps({"apiVersion": "security.istio.io/v1", "items": items, "kind": "PeerAuthenticationList",
                       "metadata": meta}, sort_keys=True).encode()


def test_a_list_whose_token_follows_its_items_is_read_whole_before_the_next_page():
    api = Pages(_custom_resource_page(["a"], "tok1"), _custom_resource_page(["b"]))
    snap = fetch(api, [Read("peerauthentications")], page_size=1)
    assert [p["metadata"]["name"] for p in snap.list("peerauthentications")] == ["a", "b"]
    assert [q.get("continue") for q in api.queries] == [None, "tok1"]
    assert api.read_before[1] == [True]


def test_a_failure_of_the_page_ahead_cuts_the_page_being_read_and_is_the_reads_error():
    api = Pages(_page([_pod("t", "a")], "tok1"), ApiException(status=500, reason="Internal Server Error"))
    snap = fetch(api, [Read("pods")], page_size=1)
    assert snap.errors(["pods"]) == ["list pods cluster-wide: HTTP 500 Internal Server Error"]
    assert (api.opened[0].cut, api.opened[0].released) == (True, True)  # no connection kept half-read


@pytest.mark.parametrize("head, token", [
    (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"eyJ2"},"items":[{"meta', "eyJ2"),
    (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}', None),     # the last page
    (b'{"apiVersion":"security.istio.io/v1","items":[{"apiVersion"', None),                            # token after the items
    (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","contin', None),          # head cut short
], ids=["built-in", "last-page", "custom-resource", "short"])
def test_the_continue_token_is_read_from_a_pages_head_only_when_it_is_there(head, token):
    assert continue_token(head) == token


def test_a_result_handed_on_is_not_kept_while_the_next_read_is_awaited():
    """The snapshot reader sends each result and lets go of it (kube/background.py): if read_each kept
    it while waiting for the next read, the reader would hold a second copy of the suite's snapshot."""
    handed_on, asked_again, seen = [], threading.Event(), {}

    class Slow(Pages):
        def open(self, path, query=None):
            if "/namespaces/u/" in path:       # the second read answers once the first was let go
                asked_again.wait(5)
                time.sleep(0.2)                # the generator is back waiting for this read by now
                seen["first kept"] = handed_on[0]() is not None
            return super().open(path, query)

    each = read_each(Slow(_page([_pod("t", "a")]), _page([_pod("u", "b")])),
                     [Read("pods", namespace="t"), Read("pods", namespace="u")], workers=1)
    handed_on.append(weakref.ref(next(each)))
    asked_again.set()
    assert [p["metadata"]["name"] for p in next(each).items] == ["b"]
    assert seen == {"first kept": False}, "read_each held a result it had handed on while awaiting the next"


def test_typed_decoding_gives_exactly_the_projection():
    pods = [_pod("t", "a", annotations={"ambient.istio.io/redirection": "enabled"}, init=["istio-proxy"]),
            _pod("t", "b")]
    items, token = decode_page("pods", _page(pods, "more"))
    assert token == "more"
    assert [project("pods", o) for o in items] == [project("pods", o) for o in pods]
    assert "managedFields" not in items[0]["metadata"] and "env" not in items[0]["spec"]["containers"][0]


def test_an_object_that_does_not_fit_the_schema_is_decoded_untyped_not_dropped():
    odd = _pod("t", "odd")
    odd["status"]["containerStatuses"] = "not-a-list"   # a shape the schema does not expect
    items, _ = decode_page("pods", _page([odd, _pod("t", "b")]))
    assert [project("pods", o) for o in items] == [project("pods", odd), project("pods", _pod("t", "b"))]


def test_projection_keeps_a_fraction_of_an_openshift_pod():
    whole = _pod("t", "a")
    assert len(json.dumps(project("pods", whole))) < len(json.dumps(whole)) / 3


@pytest.mark.parametrize("obj, kept", [
    (_pod("bank-employees-jboss-chat", "bff"), True),                                    # a profiled tenant
    (_pod("app-0042", "app"), False),                                                    # the rest of the cluster
    (_pod("app-0042", "app", labels={"istio.io/dataplane-mode": "ambient"}), True),      # enrolled by its own label
    (_pod("app-0042", "app", annotations={"sidecar.istio.io/status": "{}"}), True),      # an injected sidecar
    (_pod("app-0042", "app", init=["istio-proxy"]), True),                               # a native sidecar
    (_pod("ztunnel", "ztunnel-abcde"), True),                                            # the data plane itself
    (_pod("team-new", "web"), True),                                                     # namespace labelled ambient (learned)
], ids=["tenant", "outside", "pod-label", "sidecar-annotation", "native-sidecar", "ztunnel", "labelled-namespace"])
def test_scope_keeps_what_a_check_can_need(obj, kept):
    scope = Scope.of(PROFILE)
    scope.learn([{"metadata": {"name": "team-new", "labels": {"istio.io/dataplane-mode": "ambient"}}},
                 {"metadata": {"name": "app-0042", "labels": {"team": "x"}}}])
    assert scope.keeps("pods", obj) is kept


def test_with_a_scope_the_namespaces_are_read_first_and_outside_pods_dropped():
    namespaces = json.dumps({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": [
        {"metadata": {"name": "team-new", "labels": {"istio.io/dataplane-mode": "ambient"}}}]}).encode()
    api = Pages(namespaces, _page([_pod("team-new", "web"), _pod("app-1", "app")]))
    snap = fetch(api, [Read("pods"), Read("namespaces")], scope=Scope.of(PROFILE), workers=1)
    assert [p["metadata"]["name"] for p in snap.list("pods")] == ["web"]
    assert [r.read.kind for r in snap.results] == ["pods", "namespaces"]   # the plan's order is kept
