"""What `lab fault reset` treats as the twin's state, and what it leaves to the API server."""

from lab.reconcile import managed


def _event(**fields) -> dict:
    return {"kind": "Event", "metadata": {"name": "waypoint.18ed", "namespace": "apps-team-x"}, **fields}


def test_the_api_servers_own_repair_events_are_not_twin_state_however_they_are_written():
    # core/v1 writers fill source.component; events.k8s.io/v1 writers (the ipallocator repair loop
    # of kube-apiserver 1.34) leave source empty and fill reportingComponent.
    assert not managed(_event(source={"component": "ipallocator-repair-controller"}))
    assert not managed(_event(source={}, reportingComponent="ipallocator-repair-controller"))


def test_other_events_in_a_tenant_are_twin_state():
    assert managed(_event(source={"component": "kubelet"}, reason="FailedCreatePodSandBox"))
