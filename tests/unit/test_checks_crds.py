"""CRD checks: sail-operator CRDs present, Established, serving and storing v1."""

import pytest
from objects import broken, cond, find, healthy, remove, run, text

from ossm_conformance.checks import crds


@pytest.mark.parametrize("name", crds.SAIL_CRDS)
def test_healthy_crds_pass(name):
    assert run(crds.sail_crd_serves_v1, healthy(), name) == []


def _ztunnels(c):
    return find(c, "customresourcedefinitions", "ztunnels.sailoperator.io")


@pytest.mark.parametrize("mutate, fragment, settling", [
    (lambda c: remove(c, "customresourcedefinitions", "ztunnels.sailoperator.io"), "not found", False),
    (lambda c: _ztunnels(c)["status"].update(conditions=[cond("Established", "False", "NotAccepted", "name conflict")]),
     "Established=False (NotAccepted: name conflict)", False),
    (lambda c: _ztunnels(c)["status"].update(conditions=[]), "Established condition absent", True),
    # OSSM 3.0/3.1: ZTunnel only at v1alpha1.
    (lambda c: _ztunnels(c)["spec"].update(versions=[{"name": "v1alpha1", "served": True, "storage": True}]),
     "v1alpha1(served=True, storage=True)", False),
    (lambda c: _ztunnels(c)["spec"]["versions"][0].update(served=False), "v1(served=False", False),
], ids=["missing", "not-established", "establishing", "v1alpha1-only", "v1-not-served"])
def test_crd_findings(mutate, fragment, settling):
    findings = broken(mutate, crds.sail_crd_serves_v1, "ztunnels.sailoperator.io")
    assert fragment in text(findings)
    assert findings[0].settling == settling
