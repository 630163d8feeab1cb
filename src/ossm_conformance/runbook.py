"""The runbook's remedies, quoted or paraphrased, as the `fix` of each finding.

Source: "OpenShift Service Mesh 3 — ambient mode" (spoke-dc-v6, last reviewed 2026-05-12): its
failure-mode table, its bank-payment rollback and its Validation section. Kept in one place so a
runbook revision is one edit, and so every message a user sees can be traced back to the page.
"""

# -- failure-mode table -----------------------------------------------------------------------
PLAINTEXT = ("Traffic between two ambient pods is plaintext: CNI plugin not active on the node; "
             "or namespace not labelled. Verify oc get ds -n istio-cni; relabel ns "
             "(oc label namespace <ns> istio.io/dataplane-mode=ambient).")
L7_WITHOUT_WAYPOINT = ("L7 policies have no effect: the namespace has no Waypoint Gateway. "
                       "Add a Gateway of class istio-waypoint (listener mesh, port 15008, protocol HBONE) "
                       "and label the namespace istio.io/use-waypoint=<gateway>; bind L7 AuthorizationPolicies "
                       "with targetRefs to that Gateway or to Services that use it (waypoints ignore selectors).")
ISTIOD_NETWORK_POLICY = ("istiod cannot push xDS: a network policy in istio-system blocks it. "
                         "oc get networkpolicy -n istio-system; allow the controller's traffic as it flows: "
                         "ztunnel/waypoints/gateways → istiod 15012 (xDS, CA), API server → istiod 15017 (webhook: "
                         "from: namespaceSelector policy-group.network.openshift.io/host-network: \"\", the host network "
                         "it calls from on OVN-Kubernetes), "
                         "istiod → the Kubernetes API (kubernetes endpoints, 6443) and DNS (5353). Don't change "
                         "istio-system policies without rerunning the conformance set.")
ZTUNNEL_NETWORK_POLICY = ("istiod cannot push xDS when ztunnel cannot reach it: oc get networkpolicy -n ztunnel; "
                          "admit ztunnel's egress to istiod 15012 (xDS, CA) and DNS (5353). Without it ztunnel has no "
                          "certificates and every ambient pod's traffic fails.")
def gateway_network_policy(namespace: str, gateway: str) -> str:
    return (f"istiod cannot push xDS to a waypoint or gateway its namespace's egress policy cuts off: oc get "
            f"networkpolicy -n {namespace}; admit egress from its pods (gateway.networking.k8s.io/gateway-name="
            f"{gateway}) to istiod in istio-system on 15012 (xDS, CA) and to DNS (5353). Without it the Envoy has no "
            "listeners or certificate: L7 traffic through it fails.")


MIXED_MODE = ("Sidecar-mode workload coexists badly: mixed mode on the same ns. Pick one mode per ns "
              "(ambient: istio.io/dataplane-mode=ambient and no istio-injection/istio.io/rev label).")

# -- ztunnel workload identity: the bank-payment rollback --------------------------------------
WORKLOAD_IDENTITY_RBAC = (
    "Without it \"istiod returns request impersonation authentication failure on the CSR\" "
    "(bank-payment rollback, ad0c652) and every pod's kubelet probes fail. Ship the namespace-scoped "
    "pattern from bank-employees-jboss-chat: Role ztunnel-workload-identity (\"\": serviceaccounts/token "
    "create; serviceaccounts impersonate) and RoleBinding ztunnel-workload-identity to ServiceAccount "
    "ztunnel/ztunnel (platform-gitops .../tenants/ossm3-demo/ztunnel-workload-identity-rbac.yaml).")
WORKLOAD_IDENTITY_LEAST_PRIVILEGE = (
    "Ship the pattern exactly as the runbook does: Role ztunnel-workload-identity with only (\"\": "
    "serviceaccounts/token create; serviceaccounts impersonate), bound by RoleBinding ztunnel-workload-identity "
    "to ServiceAccount ztunnel/ztunnel alone (platform-gitops .../tenants/ossm3-demo/ztunnel-workload-identity-rbac.yaml).")
WORKLOAD_IDENTITY_SCOPE = (
    "ztunnel's workload-identity grant \"is namespace-scoped — not cluster-wide — so each tenant that joins "
    "ambient ships its own RoleBinding to the ztunnel SA\". Delete the ClusterRoleBinding (or the RoleBinding "
    "outside the ambient tenants) and ship the Role/RoleBinding in each ambient tenant instead.")
ZTUNNEL_EXTRA_GRANTS = (
    "ztunnel \"needs serviceaccounts/token create + serviceaccounts impersonate on that namespace\" and nothing "
    "more: every other rule bound to its ServiceAccount (or to a group it is in) lets a compromised node proxy "
    "do more than mint certificates. Remove the binding, or ServiceAccount ztunnel/ztunnel (or the group) from "
    "its subjects; keep only RoleBinding ztunnel-workload-identity per tenant.")
POD_NOT_READY = ("Pods of an enrolled namespace failing probes are the bank-payment symptom: ztunnel intercepts "
                 "the kubelet probe and the CSR fails. Check the ztunnel-workload-identity Role/RoleBinding, "
                 "then the probes (convert them to localhost exec as the pilot did).")

# -- tenants ----------------------------------------------------------------------------------
PEER_AUTHENTICATION = ("Pin PeerAuthentication 'default' at the namespace level with spec.mtls.mode: STRICT "
                       "(no selector) and remove PERMISSIVE/DISABLE overrides: it is what an auditor looks for.")
HBONE_NETWORK_POLICY = ("Adjust the namespace's NetworkPolicies to permit intra-namespace mesh traffic, "
                        "including the HBONE port 15008 (TCP), as the bank-employees-jboss-chat pilot did.")
EXCLUDED_TENANT = "Remove the istio.io/dataplane-mode label until the tenant is re-enrolled (oc label namespace <ns> istio.io/dataplane-mode-)."
EXCLUDED_TENANT_POD = ("A pod label istio.io/dataplane-mode=ambient enrols the pod without the namespace label: the "
                       "rollback's cause (no workload-identity RBAC) still applies to it. Remove the label from the "
                       "pod and its Deployment template (oc label pod <pod> istio.io/dataplane-mode-) until the tenant "
                       "is re-enrolled.")
EXCLUDED_TENANT_SIDECAR = ("An excluded tenant is out of the mesh in sidecar mode too: remove istio-injection/"
                           "istio.io/rev from the namespace and sidecar.istio.io/inject from the pods, then restart them.")
POD_OPTED_OUT = ("Ambient by default in an enrolled namespace: remove the pod label istio.io/dataplane-mode=none "
                 "(and from its Deployment template), or record the exception with its reason under the tenant's "
                 "opt_outs in the profile.")
BYPASS_INBOUND_CAPTURE = ("Remove the annotation ambient.istio.io/bypass-inbound-capture from the pod template: with it "
                          "istio-cni captures only outbound traffic, so the tenant's PeerAuthentication STRICT is not "
                          "enforced on this pod's inbound (\"STRICT rejects any plaintext that somehow reaches a "
                          "workload pod\").")
POD_NOT_STARTED = ("A pod that never starts: read its events (oc -n <ns> describe pod <pod>). A FailedCreatePodSandBox "
                   "naming istio-cni is the runbook's \"CNI plugin not active on the node\": verify oc get ds -n "
                   "istio-cni and the istio-cni-node pod on that node.")
UNKNOWN_AMBIENT_NAMESPACE = ("Enrol the namespace as a profiled tenant (with its ztunnel-workload-identity "
                             "RBAC and PeerAuthentication), list it under ignored_namespaces, or remove the label.")
SIDECAR_TENANT = "Label the namespace istio-injection=enabled and remove istio.io/dataplane-mode. " + MIXED_MODE
MISSING_NAMESPACE = "Create the tenant namespace from platform-gitops, or correct the profile."

# -- operator, CRDs, control plane, data plane (Validation section) ---------------------------
def operator(package: str, namespace: str = "openshift-operators") -> str:
    """The runbook's operator check ("oc -n openshift-operators get sub,csv | grep -i servicemesh"),
    for the operator at hand (kiali-ossm's CSVs are kiali-operator.*, so grep its own name)."""
    word = "servicemesh" if package.startswith("servicemesh") else package.split("-")[0]
    return (f"oc -n {namespace} get sub,csv | grep -i {word}; the operator is installed from the mirrored "
            "app-catalog, pinned by version, before the operand CRs (sync-wave 8).")

OPERATOR_PIN = ("Both operators are mirrored into the cluster's app-catalog and pinned by version (runbook: "
                "servicemeshoperator3 stable, kiali-ossm OSSM v2.22.2): set installPlanApproval: Manual, approve only "
                "the pinned version's InstallPlan, and update the profile's pin together with the runbook.")
OPERATOR_PIN_APPROVED = ("Someone approved a plan off the pin: an approval cannot be taken back, and once it completes the "
                         "operator runs the new version. Either move the pin (profile and runbook) to that version in a "
                         "reviewed change, or reinstall the pinned one: delete the Subscription and the new CSV, recreate "
                         "the Subscription with startingCSV <pinned CSV> and installPlanApproval Manual.")
CATALOG = ("The Subscription's own CatalogSource is unhealthy: oc -n openshift-marketplace get catalogsource; "
           "check the mirrored app-catalog's registry pod and image, then let OLM re-resolve.")
CRDS = ("The sail-operator CRDs ship with the servicemeshoperator3 bundle: check the operator's CSV "
        "(oc -n openshift-operators get csv) and reinstall it if its CRDs are missing.")
CONTROL_PLANE_READY = ("Istio, IstioCNI, ZTunnel must all be Ready=True: oc -n istio-system get istio default; "
                       "oc -n istio-cni get istiocni default; oc -n ztunnel get ztunnel default; read the "
                       "condition reasons and the sail-operator's log.")
CONTROL_PLANE_SPEC = ("Set the CR as in the runbook's operand CRs (platform-gitops .../platform-services/service-mesh/): "
                      "Istio default {namespace istio-system, profile openshift-ambient, version v1.28-latest, "
                      "updateStrategy InPlace, grace 30}, IstioCNI default {istio-cni, openshift-ambient}, "
                      "ZTunnel default {ztunnel}.")
ISTIOD = "istiod Deployment 1/1: oc -n istio-system get deploy/istiod; see the Istio CR's Ready reason."
CNI_DAEMONSET = "istio-cni DaemonSet at full readiness on every node. " + PLAINTEXT
ZTUNNEL_DAEMONSET = ("ztunnel DaemonSet at full readiness on every node: oc -n ztunnel get ds; a node without a "
                     "ready ztunnel carries no mTLS for its ambient pods.")
WAYPOINT_DEPLOYMENT = ("The waypoint runs as a single Envoy Pod (Deployment) named after its Gateway: "
                       "oc -n <ns> get deploy,pods -l gateway.networking.k8s.io/gateway-name=<gateway>; until it is "
                       "ready, L7 policies have no effect (the Gateway may still say Programmed).")
WAYPOINT_FOR = ("The runbook's waypoint carries service traffic: label the Gateway istio.io/waypoint-for: service "
                "(workload would let service-addressed traffic, hence its L7 policies, bypass it).")
ISTIOD_REJECTED = ("istiod reports that it could not apply this as written (istioctl analyze: IST0171). Read the "
                   "condition's message; bind L7 policies with targetRefs to the waypoint Gateway or to Services "
                   "bound to it (istio.io/use-waypoint).")
SIDECAR_IN_AMBIENT = ("A Sidecar resource configures sidecar proxies only; in an ambient namespace it has no effect "
                      "(istioctl analyze: IST0167). Remove it, or use a waypoint for L7 and egress control.")
WAYPOINT = ("A waypoint is a Gateway of class istio-waypoint with listener {name: mesh, port: 15008, protocol: HBONE}; "
            "the namespace (or its services) opts in with istio.io/use-waypoint=<gateway>.")

# -- live mTLS evidence (upstream facts, cited where each is judged: mtls/evidence.py, checks/) --
TRUSTED_ZTUNNEL_NAMESPACE = ("With ZTunnel outside istio-system (OSSM: namespace ztunnel) the Istio CR must set "
                             "spec.values.pilot.trustedZtunnelNamespace: ztunnel, else istiod rejects every CSR "
                             "with \"request impersonation authentication failure\".")
AUTHORIZATION_DENY = ("An AuthorizationPolicy enforced by ztunnel refuses this traffic: oc get authorizationpolicy "
                      "-n <ns> and -n istio-system (selector-bound or namespace-wide, without targetRefs); allow "
                      "the profiled source principal or correct the profile. An ALLOW policy with HTTP rules "
                      "(methods, paths) reaches ztunnel without them and then allows nothing: bind L7 policies "
                      "with targetRefs to the waypoint Gateway or its Services instead of a selector.")
STRICT_VIOLATION = ("PeerAuthentication STRICT \"rejects any plaintext that somehow reaches a workload pod\": a "
                    "workload- or port-level PERMISSIVE/DISABLE override, or the pod annotation "
                    "ambient.istio.io/bypass-inbound-capture, lets it in. " + PEER_AUTHENTICATION)
WAYPOINT_BYPASSED = ("Traffic that should pass the waypoint went straight to the destination, so its L7 policies "
                     "have no effect. A destination uses a waypoint only while the Gateway exists, the Service "
                     "or its namespace is labelled istio.io/use-waypoint=<gateway> (a Service label "
                     "istio.io/use-waypoint=none opts it out) and the Gateway is istio.io/waypoint-for: service: "
                     "oc -n <ns> get gateway,svc --show-labels; oc get ns <ns> --show-labels.")
WAYPOINT_DOWN = ("ztunnel drops a connection to a Service whose waypoint has no ready endpoint without counting it: "
                 "oc -n <ns> get deploy,pods -l gateway.networking.k8s.io/gateway-name=<waypoint> (the Gateway "
                 "stays Programmed while its pods are gone).")

# -- OpenShift prerequisites of ambient mode (Red Hat OSSM 3.x, "Installing Istio ambient mode") -
TRUSTED_ZTUNNEL_NAMESPACE_STEP = ("Red Hat's ambient install step (istiod trusts ztunnel's certificate requests only "
                                  "from CA_TRUSTED_NODE_ACCOUNTS, set from this value): " + TRUSTED_ZTUNNEL_NAMESPACE)
OVN_LOCAL_GATEWAY = (
    "Red Hat's ambient prerequisite: OVN-Kubernetes in local gateway mode, so traffic reaches ztunnel: "
    "oc patch network.operator.openshift.io cluster --type=merge -p "
    "'{\"spec\":{\"defaultNetwork\":{\"ovnKubernetesConfig\":{\"gatewayConfig\":{\"routingViaHost\":true}}}}}' "
    "(the Cluster Network Operator rolls out ovnkube-node).")
GATEWAY_API_CRDS = (
    "Red Hat's ambient prerequisite: the Gateway API CRDs (OpenShift 4.19+ installs and manages them; otherwise "
    "install the standard channel: oc apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/"
    "v1.3.0/standard-install.yaml). Waypoints are Gateways of class istio-waypoint.")
