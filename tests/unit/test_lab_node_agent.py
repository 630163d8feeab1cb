"""The node agent's pure rules (lab/node_agent.py, lab/kubelet_server.py): what it runs, where it
schedules, what it reports. The end-to-end behaviour is in tests/lab/test_node_agent.py."""
from __future__ import annotations

from lab.kubelet_server import select_log
from lab.node_agent import (container_argv, container_env, expand, is_python_container, node_fits,
                            termination_message, untouched)


def test_only_python_commands_are_runnable():
    assert is_python_container({"command": ["python3", "-c", "print(1)"]})
    assert is_python_container({"command": ["/usr/bin/python3.11", "-m", "probe"]})
    assert is_python_container({"command": ["python"]})
    assert not is_python_container({"command": ["sh", "-c", "python3 x"]})
    assert not is_python_container({"args": ["python3"]})  # the image's entrypoint is unknown


def test_env_and_args_expand_like_kubernetes():
    pod = {"metadata": {"name": "probe-1"}}
    container = {"command": ["python3", "-c", "$(PROG)"], "args": ["--node", "$(NODE)", "$$(NODE)", "$(MISSING)"],
                 "env": [{"name": "NODE", "value": "worker-0"}, {"name": "PROG", "value": "print('$(NODE)')"},
                         {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
    env = container_env(pod, container)
    assert env["HOSTNAME"] == "probe-1" and env["NODE"] == "worker-0" and env["PROG"] == "print('worker-0')"
    assert "FROM_FIELD" not in env and "KUBECONFIG" not in env  # no leak of the agent's environment
    argv = container_argv(container, env, "/usr/bin/python3")
    assert argv == ["/usr/bin/python3", "-c", "print('worker-0')", "--node", "worker-0", "$(NODE)", "$(MISSING)"]
    assert expand("a$$b", {}) == "a$b"


def test_termination_message_falls_back_to_the_log_tail_only_on_error():
    log = b"".join(f"line {i}\n".encode() for i in range(200))
    assert termination_message(log, 0, "FallbackToLogsOnError") == ""
    assert termination_message(log, 1, "File") == ""
    message = termination_message(log, 1, "FallbackToLogsOnError")
    assert message.endswith("line 199\n") and message.startswith("line 120\n")  # the last 80 lines
    big = b"x" * 10_000 + b"\nend\n"
    assert len(termination_message(big, 2, "FallbackToLogsOnError")) == 2048  # at most 2048 bytes


def test_scheduling_respects_readiness_taints_tolerations_and_selectors():
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    worker = {"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}, "spec": {}, "status": ready}
    master = {"metadata": {"labels": {"node-role.kubernetes.io/master": ""}},
              "spec": {"taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]}, "status": ready}
    plain = {"spec": {}}
    assert node_fits(plain, worker) and not node_fits(plain, master)
    assert node_fits({"spec": {"tolerations": [{"operator": "Exists"}]}}, master)
    assert not node_fits({"spec": {"nodeSelector": {"node-role.kubernetes.io/master": ""}}}, worker)
    assert not node_fits(plain, {**worker, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})


def test_seeded_pods_are_not_untouched():
    assert untouched({"status": {"phase": "Pending", "qosClass": "BestEffort"}})
    assert untouched({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}})
    assert not untouched({"status": {"phase": "Running"}})
    assert not untouched({"status": {"phase": "Pending", "containerStatuses": [{"name": "c"}]}})
    assert not untouched({"status": {"phase": "Pending",
                                     "conditions": [{"type": "PodScheduled", "status": "False"}]}})


def test_log_selection_tail_then_limit():
    data = b"a\nb\nc\n"
    assert select_log(data, 2, None) == b"b\nc\n"
    assert select_log(data, None, 3) == b"a\nb"
    assert select_log(data, 2, 1) == b"b"
    assert select_log(data, 0, None) == b""
