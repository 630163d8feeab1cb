"""Where the lab keeps its state and where its binaries live.

The state directory is per lab (env OSSM_LAB_DIR, default <repo>/.lab) so that several labs can run
side by side (helpers, parallel test sessions), each on its own free ports. The binaries are a build
cache shared by every lab: always <repo>/.lab/bin, never removed by `down`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN_DIR = REPO / ".lab" / "bin"
BUILD_SCRIPT = REPO / "lab" / "build.sh"
TWIN_DIR = REPO / "lab" / "twin"
CONTEXT = "spoke-dc-v6-lab"


def lab_dir() -> Path:
    return Path(os.environ.get("OSSM_LAB_DIR") or REPO / ".lab").resolve()


def crds_dir() -> Path:
    return Path(os.environ.get("OSSM_CRDS_DIR") or REPO.parent / "shared" / "crds").resolve()


class LabPaths:
    """Every file of one lab's state, derived from its directory."""

    def __init__(self, root: Path | None = None):
        self.root = (root or lab_dir()).resolve()
        self.kubeconfig = self.root / "kubeconfig"
        self.env = self.root / "env"
        self.pids = self.root / "pids.json"
        self.pki = self.root / "pki"
        self.etcd_data = self.root / "etcd"
        self.logs = self.root / "logs"
        self.audit_policy = self.root / "audit-policy.yaml"
        self.audit_log = self.root / "logs" / "audit.log"
        self.baseline = self.root / "twin-baseline.json"
        self.seed_params = self.root / "twin-params.json"
        self.crd_names = self.root / "twin-crds.json"   # the CRDs installed at `up`, restored by reset

    def binary(self, name: str) -> Path:
        return BIN_DIR / name
