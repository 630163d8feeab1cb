"""The snapshot plan reads exactly the kinds something declares with @reads: every kind a check
(or the report header) reads, nothing else, and what the mTLS judge reads is among them."""

from __future__ import annotations

from objects import PROFILE

from ossm_conformance.checks.plan import declared_kinds, snapshot_plan
from ossm_conformance.mtls import placement, policies


def planned_kinds() -> set[str]:
    return {read.kind for read in snapshot_plan(PROFILE)}


def test_the_plan_reads_exactly_the_declared_kinds():
    assert planned_kinds() == declared_kinds()


def test_what_the_mtls_judge_reads_is_in_the_snapshot():
    for reader in (placement.edge_nodes, policies.enforced_by_ztunnel):
        assert set(reader.reads) <= planned_kinds(), reader.__name__


def test_events_are_read_for_stuck_pods_and_only_pod_warnings():
    events = [r for r in snapshot_plan(PROFILE) if r.kind == "events"]
    assert [r.field_selector for r in events] == ["involvedObject.kind=Pod,type=Warning"]


def test_only_the_crds_a_check_inspects_are_read():
    names = {r.name for r in snapshot_plan(PROFILE) if r.kind == "customresourcedefinitions"}
    assert "istiorevisiontags.sailoperator.io" not in names and "istios.sailoperator.io" in names
