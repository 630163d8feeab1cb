"""OpenShift prerequisites of ambient: trusted ztunnel namespace, OVN local gateway, Gateway API CRDs."""

import pytest
from objects import PROFILE, cond, find, healthy, remove, run, text

from ossm_conformance.checks import prerequisites


def test_healthy_passes():
    c = healthy()
    assert run(prerequisites.istio_trusts_ztunnel_namespace, c, PROFILE.istio, PROFILE.ztunnel) == []
    assert run(prerequisites.ovn_kubernetes_local_gateway_mode, c) == []
    assert run(prerequisites.gateway_api_crds_installed, c) == []


@pytest.mark.parametrize("value, fragment", [(None, "(unset)"), ("istio-system", "trustedZtunnelNamespace istio-system")])
def test_untrusted_ztunnel_namespace_fails(value, fragment):
    c = healthy()
    pilot = find(c, "istios", "default")["spec"]["values"]["pilot"]
    pilot.pop("trustedZtunnelNamespace") if value is None else pilot.update(trustedZtunnelNamespace=value)
    findings = run(prerequisites.istio_trusts_ztunnel_namespace, c, PROFILE.istio, PROFILE.ztunnel)
    assert fragment in text(findings) and "request impersonation authentication failure" in findings[0].fix


@pytest.mark.parametrize("mutate, fragment", [
    (lambda n: n["spec"]["defaultNetwork"]["ovnKubernetesConfig"]["gatewayConfig"].update(routingViaHost=False),
     "routingViaHost False"),
    (lambda n: n["spec"]["defaultNetwork"]["ovnKubernetesConfig"].pop("gatewayConfig"), "unset: shared gateway mode"),
    (lambda n: n["spec"].update(defaultNetwork={"type": "OpenShiftSDN"}), "spec.defaultNetwork.type OpenShiftSDN"),
], ids=["shared-gateway", "unset", "sdn"])
def test_shared_gateway_mode_fails(mutate, fragment):
    c = healthy()
    mutate(find(c, "networks", "cluster"))
    findings = run(prerequisites.ovn_kubernetes_local_gateway_mode, c)
    assert fragment in text(findings) and "oc patch network.operator.openshift.io cluster" in findings[0].fix


def test_missing_network_config_fails():
    c = healthy()
    remove(c, "networks", "cluster")
    assert "not found" in text(run(prerequisites.ovn_kubernetes_local_gateway_mode, c))


def test_missing_or_conflicting_gateway_api_crd_fails():
    c = healthy()
    remove(c, "customresourcedefinitions", "grpcroutes.gateway.networking.k8s.io")
    find(c, "customresourcedefinitions", "httproutes.gateway.networking.k8s.io")["status"]["conditions"] = [
        cond("Established", "False", "NameConflict")]
    findings = run(prerequisites.gateway_api_crds_installed, c)
    assert "grpcroutes.gateway.networking.k8s.io" in text(findings) and "Established=False (NameConflict)" in text(findings)
    assert [f.settling for f in findings] == [False, False]
