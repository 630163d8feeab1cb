"""Thin on purpose: registers the suite's plugin and fixture modules, nothing else."""

pytest_plugins = [
    "ossm_conformance.plugin",
    "fixtures.cluster",
    "fixtures.conform",
    "fixtures.params",
    "fixtures.reporting",
    "fixtures.mtls",
]
