"""OLM operators (servicemeshoperator3, kiali-ossm): Subscription, CSV, operator Deployment."""

import pytest

from ossm_conformance import checks

pytestmark = pytest.mark.operator


@pytest.mark.reads("subscriptions")
def test_subscription_at_latest_known(conform, operator):
    """Subscription is AtLatestKnown on the profiled channel, installedCSV == currentCSV"""
    conform(checks.operator.subscription_at_latest, operator)


@pytest.mark.reads("subscriptions", "clusterserviceversions")
def test_csv_succeeded(conform, operator):
    """The installed CSV in the install namespace is Succeeded / InstallSucceeded"""
    conform(checks.operator.csv_succeeded, operator)


@pytest.mark.reads("deployments")
def test_operator_deployment_available(conform, operator):
    """The operator Deployment is available with every replica updated and ready"""
    conform(checks.operator.operator_deployment_available, operator)
