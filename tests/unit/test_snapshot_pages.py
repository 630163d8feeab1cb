"""The snapshot's reads: paginated lists, decoded into their projection, filtered to the mesh.

The pager is exercised on a stand-in for the client's `get_bytes` (pages as the API server
encodes them); the same code against the real API server is in tests/lab/test_snapshot_on_lab.py.
"""

from __future__ import annotations

import json
import logging

import pytest
from kubernetes.client.exceptions import ApiException

from bench.realistic import pod as openshift_pod
from ossm_conformance.kube.decode import decode_page
from ossm_conformance.kube.projection import project
from ossm_conformance.kube.scope import Scope
from ossm_conformance.kube.snapshot import Read, fetch
from objects import PROFILE


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

    def get_bytes(self, path, query=None):
        self.queries.append(dict(query or []))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


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
