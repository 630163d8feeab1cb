"""ossm-conformance: prove an OpenShift Service Mesh 3 ambient cluster matches its runbook."""

__version__ = "0.1.0"
