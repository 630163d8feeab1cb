"""Makes a seeded benchmark twin weigh what a real spoke weighs: OpenShift-sized pods, most of them
outside the mesh, and the RoleBindings OpenShift creates in every namespace.

`lab up --extra-tenants T --extra-namespaces K` seeds the mesh's structure (tenants with their
client/server workloads and traffic, namespaces outside the mesh); this adds, through the API as
the controllers would, pods shaped like bench/realistic.py until the twin holds `pods` pods of
which `mesh_pods` are in ambient tenants (enrolled, Ready, as istio-cni annotates them). Each pod
is created, then its status written through the status subresource (a second managedFields
entry, as the kubelet's is).
"""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.realistic import openshift_rolebindings, pod
from lab import seed
from lab.kubeapi import KINDS, Api

WRITERS = 8
_KIND = {k.kind: k for k in KINDS}


@dataclass
class Padding:
    mesh_pods: int = 0       # pods added to ambient tenants
    other_pods: int = 0      # pods added outside the mesh
    rolebindings: int = 0


def plan(tenants: list[str], outside: list[str], existing_pods: int, existing_mesh_pods: int,
         pods: int, mesh_pods: int) -> list[tuple[str, int]]:
    """(namespace, pods to add) so the twin reaches `pods` pods, `mesh_pods` of them in tenants."""
    add_mesh = max(0, mesh_pods - existing_mesh_pods)
    add_other = max(0, pods - existing_pods - add_mesh)
    out = []
    for namespaces, count in ((tenants, add_mesh), (outside, add_other)):
        if not namespaces:
            continue
        per, extra = divmod(count, len(namespaces))
        out += [(ns, per + (1 if i < extra else 0)) for i, ns in enumerate(namespaces)]
    return [(ns, n) for ns, n in out if n]


def pad(api: Api, tenants: list[str], outside: list[str], pods: int, mesh_pods: int, log=print) -> Padding:
    nodes = [n["metadata"]["name"] for n in api.list(_KIND["Node"])
             if "node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})]
    existing = api.list(_KIND["Pod"])
    per_namespace = Counter(p["metadata"]["namespace"] for p in existing)
    tenant_set = set(tenants)
    existing_mesh = sum(1 for p in existing if p["metadata"]["namespace"] in tenant_set)
    work = plan(tenants, outside, len(existing), existing_mesh, pods, mesh_pods)
    if pods - len(existing) > mesh_pods - existing_mesh and not outside:
        raise ValueError("padding outside the mesh needs namespaces outside it (lab up --extra-namespaces)")
    ips = (f"10.{128 + (i >> 16) % 64}.{(i >> 8) & 255}.{i & 255}" for i in itertools.count(1))
    node_of = itertools.cycle(nodes)
    objs = []
    for ns, count in work:
        ambient = ns in tenant_set
        for i in range(per_namespace[ns], per_namespace[ns] + count):  # after what is there: padding again adds
            name = f"worker-{i % 3}" if ambient else f"svc-{i}"
            labels = {"app": name, "app.kubernetes.io/part-of": ns, "pod-template-hash": "5d8f7c9b4d"}
            annotations = {"ambient.istio.io/redirection": "enabled"} if ambient else None
            objs.append(pod(ns, f"{name}-5d8f7c9b4d-{i:05d}", next(node_of), next(ips), labels, annotations))
    have = {(rb["metadata"]["namespace"], rb["metadata"]["name"]) for rb in api.list(_KIND["RoleBinding"])}
    rolebindings = [rb for ns in tenants + outside for rb in openshift_rolebindings(ns)
                    if (ns, rb["metadata"]["name"]) not in have]
    log(f"  padding: {len(objs)} pods ({sum(n for ns, n in work if ns in tenant_set)} in tenants), "
        f"{len(rolebindings)} RoleBindings")
    uids: dict = {}
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(lambda o: seed.create(api, o, uids), rolebindings + objs))
    mesh = sum(n for ns, n in work if ns in tenant_set)
    return Padding(mesh_pods=mesh, other_pods=len(objs) - mesh, rolebindings=len(rolebindings))
