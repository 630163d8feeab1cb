"""Pre-upgrade gate: is a patch bump to --target-version safe to start now?

Selected only with --target-version (deselected otherwise). The verdict itself (gate.json and
the exit code) also weighs every other test of the run: see ossm_conformance/gate.py.
"""

import pytest

from ossm_conformance.checks import upgrade

pytestmark = pytest.mark.preupgrade


@pytest.fixture
def target(pytestconfig) -> str:
    """The Istio patch version about to be rolled out (--target-version)."""
    return pytestconfig.option.ossm_target_version


def test_target_is_a_newer_patch_of_the_running_minor(conform, profile, target):
    """The target is a patch of the profile's minor, newer than IstioRevision.spec.version"""
    conform(upgrade.target_is_a_newer_patch_of_the_running_minor, profile, target)


def test_target_is_offered_by_the_operator(conform, profile, target):
    """The installed operator offers the target (the Istio CRD's enum), or a same-minor operator update awaits"""
    conform(upgrade.target_is_offered_by_the_operator, profile, target)


def test_no_inactive_revision_pending_deletion(conform, profile):
    """Only the active IstioRevision exists: the previous upgrade has finished"""
    conform(upgrade.no_inactive_revision_pending_deletion, profile)


def test_no_pending_installplan_to_another_minor(conform, profile):
    """No InstallPlan still to run moves the mesh operator to another OSSM minor"""
    conform(upgrade.no_pending_installplan_to_another_minor, profile)
