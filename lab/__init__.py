"""The local twin of spoke-dc-v6: a real kube-apiserver + etcd seeded from lab/twin, with faults.

`python -m lab up|down|status|build|fault NAME|fault list|fault reset` (see lab/__main__.py).
"""
