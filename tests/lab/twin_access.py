"""How the gate and deploy self-tests reach a twin: the lab fixture of tests/lab/conftest.py when
there is one, else the lab already running in $OSSM_LAB_DIR (`python -m lab up`); and a fault
applied for the length of one block, the twin restored in every case."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from lab import faults
from lab.control_plane import running
from lab.paths import LabPaths


def twin_kubeconfig(request: pytest.FixtureRequest) -> Path:
    try:
        lab = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        paths = LabPaths()
        if "kube-apiserver" not in running(paths):
            pytest.fail(f"no lab running in {paths.root}: `python -m lab up` (or set OSSM_LAB_DIR)")
        return paths.kubeconfig
    return Path(getattr(lab, "kubeconfig", lab))


@contextmanager
def fault(kubeconfig: Path, name: str):
    faults.apply(name, kubeconfig)
    try:
        yield
    finally:
        faults.reset(kubeconfig)
