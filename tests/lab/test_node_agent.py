"""The lab's node agent (lab/node_agent.py) through the real API: python3 pods get scheduled, run
for real, report like a kubelet, and their output comes back through the apiserver's pods/log."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lab.wait import polling

pytestmark = pytest.mark.lab

NAMESPACE = "lab-node-agent-test"
LABEL = {"lab.ossm-conformance.io/test": "node-agent"}
WAIT_S = 30


@pytest.fixture(scope="module")
def core(lab) -> client.CoreV1Api:
    kubeconfig: Path = lab.kubeconfig
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig), persist_config=False))
    try:
        api.create_namespace({"metadata": {"name": NAMESPACE, "labels": LABEL}})
    except ApiException as e:
        if e.status != 409:
            raise
    yield api
    # No namespace controller in the lab: remove the pods, then the namespace and its finalizer.
    api.delete_collection_namespaced_pod(NAMESPACE, grace_period_seconds=0)
    api.delete_namespace(NAMESPACE)
    try:
        api.api_client.call_api(f"/api/v1/namespaces/{NAMESPACE}/finalize", "PUT", body={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}, "spec": {"finalizers": []}},
            auth_settings=["BearerToken"], _preload_content=False)
    except ApiException as e:
        if e.status != 404:
            raise


def python_pod(name: str, program: str, *, args=(), env=None, deadline=None, policy=None, node=None) -> dict:
    container = {"name": "probe", "image": "registry.access.redhat.com/ubi9/python-311",
                 "command": ["python3", "-c", program], "args": list(args),
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    if policy:
        container["terminationMessagePolicy"] = policy
    spec = {"restartPolicy": "Never", "containers": [container]}
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": LABEL}, "spec": spec}


def wait_for(core, name: str, condition, seconds: float = WAIT_S):
    for attempt in polling(seconds, every=0.3):
        with attempt:
            pod = core.read_namespaced_pod(name, NAMESPACE)
            assert condition(pod), f"{name}: phase {pod.status.phase}, reason {pod.status.reason}"
    return pod


def terminal(pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


# ~450 KB of output, as a probe reporting on 500 tenants would print.
BIG_PROGRAM = """
import os, sys
for i in range(int(os.environ["LINES"])):
    print(f"{os.environ['TAG']} line {i:05d} " + "x" * 80)
print("args", *sys.argv[1:])
"""


def test_python_pod_is_scheduled_runs_and_its_logs_come_back_through_the_apiserver(core):
    core.create_namespaced_pod(NAMESPACE, python_pod("runs-ok", BIG_PROGRAM, args=["--node", "$(TAG)"],
                                                     env={"LINES": "5000", "TAG": "probe-42"}))
    pod = wait_for(core, "runs-ok", terminal)
    assert pod.status.phase == "Succeeded"
    assert pod.spec.node_name.startswith("spoke-dc-v6-worker-")  # workers only: masters are tainted
    assert pod.status.pod_ip.startswith("127.30.") and pod.status.start_time
    state = pod.status.container_statuses[0].state.terminated
    assert (state.exit_code, state.reason) == (0, "Completed")
    logs = core.read_namespaced_pod_log("runs-ok", NAMESPACE)
    lines = logs.splitlines()
    assert len(lines) == 5001 and lines[0].startswith("probe-42 line 00000 ")
    assert lines[-1] == "args --node probe-42"  # args with $(VAR) expanded from env
    assert len(logs) > 400_000
    assert core.read_namespaced_pod_log("runs-ok", NAMESPACE, tail_lines=1) == "args --node probe-42\n"
    assert len(core.read_namespaced_pod_log("runs-ok", NAMESPACE, limit_bytes=100)) == 100


def test_failing_pod_reports_its_exit_code_and_the_log_tail_as_termination_message(core):
    program = "import sys\nfor i in range(100): print('step', i)\nsys.exit(3)"
    core.create_namespaced_pod(NAMESPACE, python_pod("exits-3", program, policy="FallbackToLogsOnError"))
    pod = wait_for(core, "exits-3", terminal)
    assert pod.status.phase == "Failed"
    state = pod.status.container_statuses[0].state.terminated
    assert (state.exit_code, state.reason) == (3, "Error")
    # kubelet: the last 80 lines of the log (at most 2048 bytes).
    assert state.message.startswith("step 20\n") and state.message.endswith("step 99\n")


def test_active_deadline_kills_the_pod(core):
    core.create_namespaced_pod(NAMESPACE, python_pod("too-slow", "import time\ntime.sleep(120)", deadline=2))
    started = time.monotonic()
    pod = wait_for(core, "too-slow", terminal, seconds=20)
    assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")
    assert time.monotonic() - started < 15
    assert pod.status.container_statuses[0].state.terminated.exit_code == 137  # SIGKILL


def test_deleted_running_pod_disappears(core):
    core.create_namespaced_pod(NAMESPACE, python_pod("long-runner", "import time\nprint('up', flush=True)\n"
                                                                    "time.sleep(300)"))
    wait_for(core, "long-runner", lambda p: p.status.phase == "Running")
    # Logs while it runs, through the apiserver.
    for attempt in polling(10, every=0.3):
        with attempt:
            assert core.read_namespaced_pod_log("long-runner", NAMESPACE) == "up\n"
    core.delete_namespaced_pod("long-runner", NAMESPACE)  # default grace: the agent must confirm it
    for attempt in polling(15, every=0.3):
        with attempt:
            assert_gone(core, "long-runner")


def assert_gone(core, name: str) -> None:
    # An AssertionError, not pytest.raises: tenacity retries Exceptions, and pytest's Failed is not one.
    try:
        pod = core.read_namespaced_pod(name, NAMESPACE)
    except ApiException as e:
        if e.status == 404:
            return
        raise
    raise AssertionError(f"{name} still there (deletionTimestamp {pod.metadata.deletion_timestamp})")


def test_a_pod_the_lab_cannot_run_fails_with_a_clear_reason(core):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "an-image", "labels": LABEL},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "quay.io/curl/curl"}]}}
    core.create_namespaced_pod(NAMESPACE, pod)
    pod = wait_for(core, "an-image", terminal)
    assert (pod.status.phase, pod.status.reason) == ("Failed", "LabCannotRunImage")
    assert "python3" in pod.status.message and "quay.io/curl/curl" in pod.status.message


def test_seeded_twin_pods_are_left_alone(core):
    before = {(p.metadata.namespace, p.metadata.name): p.metadata.resource_version
              for p in core.list_pod_for_all_namespaces(label_selector="app=ztunnel").items}
    time.sleep(2)
    after = {(p.metadata.namespace, p.metadata.name): p.metadata.resource_version
             for p in core.list_pod_for_all_namespaces(label_selector="app=ztunnel").items}
    assert before == after and before
