"""Onboarding a cluster: a profile drafted from the live cluster, and what differs from one (issue 15).

live.py and edges.py read (pure), render.py writes the YAML, diff.py compares, cluster.py does the
reads, __main__.py is `python -m ossm_conformance.draft` (make profile / make profile-diff).
"""
