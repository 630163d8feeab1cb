"""The profile drafter and profile-diff, on the unit twin (objects.healthy()) and ztunnel series
shaped as ztunnel writes them (mtls_samples). The lab test (tests/lab/test_profile_draft.py)
drafts from the real twin and compares with profiles/spoke-dc-v6.yaml."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mtls_samples import EDGE, NS, series
from objects import PROFILE, find, healthy, snapshot

from ossm_conformance.draft import diff, edges, live, render
from ossm_conformance.draft.cluster import ambient_namespaces
from ossm_conformance.mtls.observation import CLOSED, OPENED, RECEIVED, Observation, SeriesDelta
from ossm_conformance.profile import Edge, load_profile


def twin() -> dict:
    """The unit twin, with what the drafter reads that the checks' fixture leaves out."""
    c = healthy()
    for csv, deployment in (("servicemeshoperator3.v3.3.7", "servicemesh-operator3"), ("kiali-operator.v2.22.2", "kiali-operator")):
        obj = find(c, "clusterserviceversions", csv, "openshift-operators")
        obj["spec"] = {"version": csv.split(".v", 1)[1], "install": {"spec": {"deployments": [{"name": deployment}]}}}
    for app in ("bff", "chat-backend", "eap-domain-group-a", "eap-domain-group-b"):
        find(c, "pods", f"{app}-0", NS)["spec"]["serviceAccountName"] = app
    return c


def observed(*labelled: tuple[dict, float], window: float = 10, flags: str = "-", data: bool = True) -> Observation:
    """Connections over the window as ztunnel counts them: opened, closed (with `flags`) and, when
    they delivered data, received bytes."""
    obs = Observation("prometheus", window)
    for labels, n in labelled:
        obs.deltas += [SeriesDelta("ztunnel-worker-0", OPENED, labels, n),
                       SeriesDelta("ztunnel-worker-0", CLOSED, {**labels, "response_flags": flags}, n)]
        if data:
            obs.deltas.append(SeriesDelta("ztunnel-worker-0", RECEIVED, labels, 600 * n))
    return obs


def drafted(cluster: dict | None = None, obs: Observation | None = None) -> live.Draft:
    view = snapshot(cluster or twin())
    if obs is None:
        return live.draft(view, "spoke-dc-v6")
    found, not_drafted = edges.observed_edges(obs, view, set(ambient_namespaces(view)), "cluster.local", live.waypoints(view))
    return live.draft(view, "spoke-dc-v6", found, "10s (prometheus)", not_drafted)


def test_tenants_operators_and_control_plane_are_read_from_the_cluster():
    d = drafted()
    p = d.profile
    assert {(t.namespace, t.mode, t.waypoint) for t in p.tenants} == {
        (NS, "ambient", ""), ("ossm3-demo", "ambient", ""), ("apps-team-x", "ambient+waypoint", "waypoint")}
    assert [(o.package, o.channel, o.deployment, o.csv_prefix) for o in p.operators] == [
        ("servicemeshoperator3", "stable", "servicemesh-operator3", ""), ("kiali-ossm", "stable", "kiali-operator", "kiali-operator")]
    assert "installed servicemeshoperator3.v3.3.7 (version 3.3.7), installPlanApproval Automatic" in d.notes["operators.servicemeshoperator3"]
    assert (p.istio, p.istio_cni, p.ztunnel, p.istio_minor, p.trust_domain) == (
        PROFILE.istio, PROFILE.istio_cni, PROFILE.ztunnel, "1.28", "cluster.local")
    # bank-payment is not enrolled: only a person knows why, so it is a suggestion, never a tenant.
    assert [s.namespace for s in d.suggestions] == ["bank-payment"]


def test_an_edge_is_what_the_destination_ztunnel_counted_as_mutual_tls():
    d = drafted(obs=observed((series(), 14), (series(destination="eap-domain-group-a"), 3)))
    pilot = d.profile.tenant(NS)
    assert pilot.edges == (EDGE, replace(EDGE, destination="eap-domain-group-a", destination_service_account="eap-domain-group-a"))
    assert "seen over 10s (prometheus): mutual_tls, data delivered" in d.notes[f"edges.{EDGE.id(NS)}"]


@pytest.mark.parametrize("obs", [
    observed((series(policy="unknown", principal="unknown"), 9)),   # plaintext: the suite's judge fails it
    observed((series(), 9), data=False, flags="DENY"),                # opened, then denied by a policy: no data
    observed((series(), 9), data=False, flags="CONNECT"),             # identity failure: opens, no bytes
    observed((series(), 0)),                                          # no growth in the window
], ids=["plaintext", "denied", "identity-failure", "flat"])
def test_what_the_suite_would_not_pass_is_not_drafted(obs):
    assert drafted(obs=obs).profile.tenant(NS).edges == ()


def test_a_denied_edge_is_left_as_a_note_saying_why():
    d = drafted(obs=observed((series(), 9), data=False, flags="DENY"))
    assert d.edge_notes and d.edge_notes[0].startswith(f"{EDGE.id(NS)} seen with mutual_tls but not drafted (fail:")


def test_an_edge_through_a_waypoint_is_drafted_from_the_clients_side():
    """Behind apps-team-x's waypoint the destination sees the waypoint's identity; the client is the
    source ztunnel's series into the waypoint. Judged hop by hop, as the suite judges it."""
    to_waypoint = series(reporter="source", principal="spiffe://cluster.local/ns/apps-team-x/sa/frontend", source="frontend",
                         source_namespace="apps-team-x", destination="web", namespace="apps-team-x",
                         destination_workload="waypoint")
    from_waypoint = series(principal="spiffe://cluster.local/ns/apps-team-x/sa/waypoint", source="waypoint",
                           source_namespace="apps-team-x", destination="web", namespace="apps-team-x")
    c = twin()
    find(c, "pods", "web-0", "apps-team-x")["spec"]["serviceAccountName"] = "web"
    d = drafted(c, observed((to_waypoint, 4), (from_waypoint, 4)))
    edge = Edge(source="frontend", source_service_account="frontend", destination="web", destination_service_account="web")
    assert d.profile.tenant("apps-team-x").edges == (edge,)
    assert "through waypoint apps-team-x/waypoint" in d.notes[f"edges.{edge.id('apps-team-x')}"]
    assert not any(e.source == "waypoint" for t in d.profile.tenants for e in t.edges)  # never a client itself


def test_the_draft_renders_to_a_valid_profile_with_its_notes(tmp_path):
    d = drafted(obs=observed((series(), 14)))
    text = render.render(d, ["header"])
    path = tmp_path / "spoke-dc-v6.yaml"
    path.write_text(text)
    assert replace(load_profile(path), source="") == d.profile
    assert "# - namespace: bank-payment" in text and "mode: excluded" in text and "cannot tell" in text
    assert "    # seen over 10s (prometheus): mutual_tls, data delivered" in text


def test_no_difference_between_the_twin_and_its_profile():
    profiled = [(series(), 1), (series(destination="eap-domain-group-a"), 1), (series(destination="eap-domain-group-b"), 1),
                ({**series(source="demo-client", destination="demo-server", namespace="ossm3-demo",
                           principal="spiffe://cluster.local/ns/ossm3-demo/sa/demo-client"),
                  "source_workload_namespace": "ossm3-demo"}, 1)]
    profiled += [(series(reporter="source", principal="spiffe://cluster.local/ns/apps-team-x/sa/frontend", source="frontend",
                         source_namespace="apps-team-x", destination="web", namespace="apps-team-x",
                         destination_workload="waypoint"), 1),
                 (series(principal="spiffe://cluster.local/ns/apps-team-x/sa/waypoint", source="waypoint",
                         source_namespace="apps-team-x", destination="web", namespace="apps-team-x"), 1)]
    c = twin()
    for app in ("demo-client", "demo-server"):
        find(c, "pods", f"{app}-0", "ossm3-demo")["spec"]["serviceAccountName"] = app
    find(c, "pods", "web-0", "apps-team-x")["spec"]["serviceAccountName"] = "web"
    assert diff.differences(PROFILE, drafted(c, observed(*profiled))) == []
    assert diff.differences(PROFILE, drafted(c)) == []  # edges not observed: not compared


def test_diff_names_each_change_in_one_line():
    c = twin()
    find(c, "namespaces", NS)["metadata"]["labels"] = {}                                   # unenrolled
    find(c, "namespaces", "ossm3-demo")["metadata"]["labels"]["istio-injection"] = "enabled"  # mixed mode
    find(c, "namespaces", "bank-payment")["metadata"]["labels"] = {"istio.io/dataplane-mode": "ambient"}
    find(c, "subscriptions", "kiali-ossm", "openshift-operators")["spec"]["channel"] = "candidate"
    find(c, "ztunnels", "default")["spec"]["version"] = "v1.28.4"
    c["namespaces"].append({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "team-new", "labels": {"istio.io/dataplane-mode": "ambient"}}})
    lines = diff.differences(PROFILE, drafted(c))
    assert lines == [
        "ztunnel.version: profile 'v1.28-latest', cluster 'v1.28.4'",
        "operator kiali-ossm.channel: profile 'stable', cluster 'candidate'",
        f"tenant {NS}: profile ambient, cluster not enrolled",
        "tenant ossm3-demo: profile ambient, cluster ambient, also sidecar-labelled",
        "tenant bank-payment: profile excluded, cluster ambient",
        "tenant team-new: in the cluster (ambient), not in the profile",
    ]


def test_diff_reports_a_profiled_edge_not_seen_and_an_unprofiled_one():
    extra = Edge(source="bff", source_service_account="bff", destination="reporting", destination_service_account="reporting")
    lines = diff.differences(PROFILE, drafted(obs=observed((series(destination="reporting"), 2))))
    assert f"edge {EDGE.id(NS)}: in the profile, not seen as mutual_tls in the cluster over 10s (prometheus)" in lines
    assert f"edge {extra.id(NS)}: seen as mutual_tls in the cluster over 10s (prometheus), not in the profile" in lines


def test_bad_invocation_is_exit_4_before_any_cluster_access(tmp_path, capsys):
    from ossm_conformance.draft.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["-o", str(tmp_path / "a.yaml"), "--diff", str(tmp_path / "b.yaml")])
    assert stopped.value.code == 4
    existing = tmp_path / "spoke.yaml"
    existing.write_text("keep me\n")
    assert main(["--kubeconfig", str(tmp_path / "absent"), "-o", str(existing)]) == 4
    assert "pass --force" in capsys.readouterr().err and existing.read_text() == "keep me\n"
    assert main(["--kubeconfig", str(tmp_path / "absent"), "-o", str(tmp_path / "new.yaml")]) == 4  # no such kubeconfig


def test_diff_judges_pod_level_enrolment_as_istio_cni_does():
    from objects import pod

    from ossm_conformance.profile import OptOut

    c = twin()
    find(c, "pods", "demo-client-0", "ossm3-demo")["metadata"]["labels"]["istio.io/dataplane-mode"] = "none"
    c["pods"].append(pod("payment-api-0", "bank-payment", {"app": "payment-api", "istio.io/dataplane-mode": "ambient"}))
    c["pods"].append(pod("legacy-0", NS, {"app": "legacy"}, containers=["legacy", "istio-proxy"]))
    d = drafted(c)
    assert diff.differences(PROFILE, d) == [
        f"tenant {NS}: workload legacy-0 runs an istio-proxy sidecar in an ambient namespace",
        "tenant ossm3-demo: workload demo-client-0 opts out (istio.io/dataplane-mode=none), not in the profile's opt_outs",
        "namespace bank-payment (profile excluded): workload payment-api-0 enrolled by its pod label istio.io/dataplane-mode=ambient",
    ]
    demo = PROFILE.tenant("ossm3-demo")
    allowed = replace(PROFILE, tenants=tuple(replace(t, opt_outs=(OptOut("demo-client-0", "batch window"),)) if t is demo else t
                                             for t in PROFILE.tenants))
    assert not any("demo-client" in line for line in diff.differences(allowed, d))
    text = render.render(d, [])
    assert "    # opt_outs:\n    #   - {workload: demo-client-0, reason: <why this workload may run outside the mesh>}" in text
    assert "legacy-0 run(s) an istio-proxy sidecar" in text
