"""Thin on purpose: registers the suite's plugin and fixture modules, nothing else."""

pytest_plugins = [
    "ossm_conformance.plugin",
    "fixtures.cluster",
    "fixtures.conform",
    "fixtures.reporting",
    "fixtures.mtls",
]
