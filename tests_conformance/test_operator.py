"""OLM operators (servicemeshoperator3, kiali-ossm): Subscription, CSV, operator Deployment."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.operator


def test_subscription_at_latest_known(conform, operator):
    """Subscription is AtLatestKnown (or awaits a Manual approval) on the profiled channel, its catalog healthy"""
    conform(checks.operator.subscription_at_latest_known, operator)


def test_csv_succeeded(conform, operator):
    """The installed CSV in the install namespace is Succeeded / InstallSucceeded"""
    conform(checks.operator.csv_succeeded, operator)


def test_operator_version_pinned(conform, operator):
    """The installed CSV is the version the runbook pins (a plan awaiting approval does not count)"""
    conform(checks.operator.operator_version_pinned, operator)


def test_operator_deployment_available(conform, operator):
    """The operator Deployment is available with every replica updated and ready"""
    conform(checks.operator.operator_deployment_available, operator)
