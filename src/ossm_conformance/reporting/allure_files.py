"""Run-level Allure files, written once by the controlling process at the end of a run:
environment.properties (what was tested), categories.json (why things failed), executor.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# First match wins (Allure's rule). "broken" is Allure's word for a non-assertion error.
CATEGORIES = [
    {"name": "Could not check: cluster/API unreachable", "matchedStatuses": ["broken"],
     "messageRegex": r".*(MaxRetryError|Connection refused|etcdserver|timed out|TLS verification failed|could not reach).*"},
    {"name": "Could not check: forbidden or kind not served", "matchedStatuses": ["broken"],
     "messageRegex": r".*(could not check|403 Forbidden|404 Not Found|401 Unauthorized).*"},
    {"name": "Suite defect", "matchedStatuses": ["broken"], "messageRegex": r".*suite defect.*"},
    {"name": "Suite defect (unexpected exception)", "matchedStatuses": ["broken"]},
    {"name": "Non-conformance", "matchedStatuses": ["failed"]},
]


def write_run_files(alluredir: str, target: dict, profile, extra: dict | None = None) -> None:
    out = Path(alluredir)
    out.mkdir(parents=True, exist_ok=True)
    env = {
        "API.URL": target.get("server", ""),
        "Context": target.get("context", ""),
        "Kubernetes": target.get("kubernetes", ""),
        "OpenShift": target.get("openshift", ""),
        "Profile": target.get("profile", ""),
        **(extra or {}),
    }
    lines = [f"{k}={_escape(str(v))}" for k, v in env.items() if v is not None]
    (out / "environment.properties").write_text("\n".join(lines) + "\n")
    (out / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
    (out / "executor.json").write_text(json.dumps({
        "name": os.environ.get("CI_SERVER_NAME") or ("CI" if os.environ.get("CI") else "local"),
        "type": "gitlab" if os.environ.get("GITLAB_CI") else "local",
        "buildName": os.environ.get("CI_JOB_NAME") or f"ossm-conformance {profile.cluster}",
        "buildUrl": os.environ.get("CI_JOB_URL", ""),
        "reportName": f"ossm-conformance — {profile.cluster}",
    }, indent=2))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", " ")
