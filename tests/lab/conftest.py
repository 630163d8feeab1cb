"""The lab for the lab self-tests: one per session.

If a lab already runs in $OSSM_LAB_DIR (or <repo>/.lab), it is reused and left running. Otherwise
one is started in a temporary OSSM_LAB_DIR with `python -m lab up` (the way a user starts it) and
stopped with `python -m lab down` at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import control_plane, faults
from lab.kubeapi import Api
from lab.paths import REPO, LabPaths


@dataclass
class Lab:
    dir: Path
    kubeconfig: Path
    api_url: str
    env: dict[str, str]     # the lab's env file, parsed
    started_here: bool

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Runs `python -m lab ...` against this lab."""
        return run_cli(self.dir, *args, timeout=timeout)


def run_cli(lab_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "OSSM_LAB_DIR": str(lab_dir)})


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    existing = LabPaths()
    if "kube-apiserver" in control_plane.running(existing):
        paths, started = existing, False
    else:
        paths, started = LabPaths(tmp_path_factory.mktemp("lab")), True
        up = run_cli(paths.root, "up")
        if up.returncode != 0:
            run_cli(paths.root, "down")
            pytest.fail(f"`python -m lab up` failed ({up.returncode}): {up.stdout}{up.stderr}", pytrace=False)
    env = control_plane.read_env(paths)
    yield Lab(paths.root, paths.kubeconfig, env["LAB_API_URL"], env, started)
    if started:
        run_cli(paths.root, "down")


@pytest.fixture(scope="session")
def api(lab) -> Api:
    client = Api(lab.kubeconfig)
    yield client
    client.close()


@pytest.fixture
def twin(lab, api):
    """The healthy twin for one test, restored afterwards whatever the test did to it."""
    yield api
    faults.reset(lab.kubeconfig)
