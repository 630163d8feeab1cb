"""The snapshot against the real API server: pages of any size give the same objects as one
big page, and the scope keeps every mesh object while dropping the rest of the cluster."""

from __future__ import annotations

from ossm_conformance.kube.client import Api, build_api_client
from ossm_conformance.checks.plan import snapshot_plan
from ossm_conformance.kube.scope import Scope, profile_namespaces
from ossm_conformance.kube.snapshot import fetch
from ossm_conformance.profile import load_profile

PROFILE = load_profile("profiles/spoke-dc-v6.yaml")


def _api(lab) -> Api:
    client, _ = build_api_client(str(lab.kubeconfig), None)
    return Api(client)


def _objects(snapshot) -> dict:
    return {(r.read.kind, r.read.namespace, r.read.name): r.items for r in snapshot.results}


def test_small_pages_read_the_same_objects_as_one_page(lab):
    api = _api(lab)
    plan = snapshot_plan(PROFILE)
    one = fetch(api, plan, page_size=5000)
    before = api.requests["GET"]
    paged = fetch(api, plan, page_size=7)
    assert _objects(paged) == _objects(one)
    assert not paged.errors({r.kind for r in plan})
    pods = len(one.list("pods"))
    assert pods > 7 and api.requests["GET"] - before >= len(plan) + pods // 7  # it really paged


def test_the_scope_keeps_every_object_of_the_twin_that_is_the_meshs(lab):
    api = _api(lab)
    plan = snapshot_plan(PROFILE)
    whole = fetch(api, plan)
    scoped = fetch(api, plan, scope=Scope.of(PROFILE))
    kept = {p["metadata"]["uid"] for p in scoped.list("pods")}
    dropped = [p for p in whole.list("pods") if p["metadata"]["uid"] not in kept]
    assert dropped, "the twin has pods outside the mesh (bank-reporting): the scope must drop them"
    mesh_namespaces = profile_namespaces(PROFILE) | {
        n["metadata"]["name"] for n in whole.list("namespaces") if "istio.io/dataplane-mode" in (n["metadata"].get("labels") or {})}
    for p in dropped:
        assert p["metadata"]["namespace"] not in mesh_namespaces, p["metadata"]["name"]
        assert not any(k.startswith("istio.io/") for k in p["metadata"].get("labels") or {}), p["metadata"]["name"]
    assert len(scoped.list("pods", "bank-employees-jboss-chat")) == len(whole.list("pods", "bank-employees-jboss-chat"))
