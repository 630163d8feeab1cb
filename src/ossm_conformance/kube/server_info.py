"""What the report header says about the cluster: Kubernetes and OpenShift versions."""

from __future__ import annotations

from .client import Api
from .views import reads


def kubernetes_version(api: Api) -> str:
    return api.get("/version").get("gitVersion", "unknown")


@reads("clusterversions")
def openshift_version(snapshot) -> str | None:
    """The ClusterVersion's desired version, when the cluster is OpenShift and we could read it."""
    try:
        cv = snapshot.get("clusterversions", "version")
    except Exception:  # noqa: BLE001 — not OpenShift, or not readable: the header says so
        return None
    if not cv:
        return None
    return (cv.get("status", {}).get("desired") or {}).get("version") or cv.get("spec", {}).get("desiredUpdate", {}).get("version")
