"""The cluster snapshot: each needed kind read once, shared by every test and xdist worker.

A `Read` names one request (a cluster-wide list, a namespaced list, or one named object).
The snapshot answers the checks' questions (`list`, `get`) from those reads only, so the API
cost of a run is the number of reads in the plan, whatever the number of tests or tenants.
A read that failed is kept with its one-line reason: a check that needs it becomes an *error*
("could not check"), never a pass.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

from kubernetes.client.exceptions import ApiException

from ..findings import CouldNotCheck
from .client import Api
from .errors import describe
from .kinds import KINDS
from .pager import ContinueExpired, pages
from .projection import project
from .scope import Scope

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # kubectl's --chunk-size: what API Priority and Fairness and etcd are tuned for


@dataclass(frozen=True)
class Read:
    kind: str
    namespace: str | None = None
    name: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def query(self) -> list[tuple[str, str]]:
        """The list request's query parameters (selectors), empty when it has none."""
        return [(key, value) for key, value in (("labelSelector", self.label_selector),
                                                 ("fieldSelector", self.field_selector)) if value]

    def describe(self) -> str:
        k = KINDS[self.kind]
        where = f" in namespace {self.namespace}" if self.namespace else (" cluster-wide" if k.namespaced and not self.name else "")
        if self.name:
            return f"get {k.resource()} {self.name}{where}"
        return f"list {k.resource()}{where}"


@dataclass
class ReadResult:
    read: Read
    items: list[dict] = field(default_factory=list)
    error: str | None = None


@contextmanager
def _gc_paused():
    """Decoding a cluster's lists builds millions of containers that all stay alive; the cyclic
    GC would re-scan them again and again while they are built, for nothing (reference counting
    frees the garbage). Measured at 500 tenants: ~40% of the decode's CPU (docs/performance.md)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fetch(api: Api, reads: Iterable[Read], workers: int = 8, scope: Scope | None = None,
          page_size: int = PAGE_SIZE) -> "Snapshot":
    """Every read, concurrently (`read_each`), in a snapshot that answers in the plan's order."""
    reads = list(dict.fromkeys(reads))
    started = time.time()
    order = {r: i for i, r in enumerate(reads)}
    results = sorted(read_each(api, reads, workers, scope, page_size), key=lambda res: order[res.read])
    return Snapshot(results, taken_at=started)


def read_each(api: Api, reads: Iterable[Read], workers: int = 8, scope: Scope | None = None,
              page_size: int = PAGE_SIZE) -> Iterator["ReadResult"]:
    """Each read's result as it completes. With a `scope`, the namespace list is read first so that
    the scope knows the mesh's namespaces, then objects outside it are dropped page by page. Nothing
    here keeps a result once it is handed on: the snapshot reader (kube/background.py) sends each
    one to the suite and lets go of it, so the two processes never both hold the whole snapshot."""
    reads = list(dict.fromkeys(reads))
    first = [r for r in reads if scope is not None and r == Read("namespaces")]
    with _gc_paused(), ThreadPoolExecutor(max_workers=max(1, min(workers, len(reads) or 1))) as pool:
        for read in first:
            result = _fetch_one(api, read, None, page_size)
            scope.learn(result.items)
            yield result
        # as_completed drops its reference to each future it yields, and no list of them is kept
        # here; nor is the last future or result while the next one is awaited.
        pending = (pool.submit(_fetch_one, api, r, scope, page_size) for r in reads if r not in first)
        for future in as_completed(list(pending)):
            result, future = future.result(), None
            yield result
            result = None


def _fetch_one(api: Api, read: Read, scope: Scope | None, page_size: int = PAGE_SIZE) -> ReadResult:
    kind = KINDS[read.kind]
    try:
        if read.name:
            try:
                obj = api.get(kind.object_path(read.name, read.namespace))
                return ReadResult(read, [_with_kind(project(kind.key, obj), kind)])
            except ApiException as exc:
                if exc.status == 404 and _kind_is_served(api, kind):
                    return ReadResult(read, [])  # the kind exists; this object does not
                raise
        return ReadResult(read, _list_pages(api, read, scope, page_size))
    except Exception as exc:  # noqa: BLE001 — every failure becomes the read's one-line reason
        return ReadResult(read, error=describe(exc, read.describe()))


def _list_pages(api: Api, read: Read, scope: Scope | None, page_size: int) -> list[dict]:
    """A list in pages of `page_size` (kube/pager.py), each projected and filtered as it arrives, so
    only the kept objects of the pages read so far are alive. A continue token that expired mid-list
    (410 Gone: the list took longer than etcd's compaction window) restarts that list once, from the
    top, as kubectl's pager does; a second expiry is the read's error."""
    query = read.query() + [("limit", str(page_size))]
    items: list[dict] = []
    try:
        return _collect(api, read, scope, query, items)
    except ContinueExpired:
        log.warning("%s: the continue token expired after %d objects; listing again from the start (once)",
                    read.describe(), len(items))
    try:
        return _collect(api, read, scope, query, [])
    except ContinueExpired as expired:
        raise expired.cause from None


def _collect(api: Api, read: Read, scope: Scope | None, query: list[tuple[str, str]], items: list[dict]) -> list[dict]:
    kind = KINDS[read.kind]
    for page in pages(api, kind.list_path(read.namespace), query, kind.key):
        items.extend(_with_kind(project(kind.key, obj), kind) for obj in page if scope is None or scope.keeps(kind.key, obj))
    return items


def _kind_is_served(api: Api, kind) -> bool:
    """Tell "object absent" from "kind not served" after a 404 on a named get."""
    try:
        resources = api.get(kind.base()).get("resources") or []
        return any(r.get("name") == kind.key for r in resources)
    except ApiException:
        return False


def _with_kind(obj: dict, kind) -> dict:
    # Items of a list carry no kind/apiVersion; the checks and the reports want them.
    obj.setdefault("kind", kind.kind)
    obj.setdefault("apiVersion", f"{kind.group}/{kind.version}" if kind.group else kind.version)
    return obj


class Snapshot:
    """Answers list/get from a fixed set of reads. Raises CouldNotCheck when the read failed."""

    def __init__(self, results: list[ReadResult], server: dict | None = None, taken_at: float | None = None,
                 incoming=None):
        self._results = list(results)
        self.server = server or {}
        self.taken_at = time.time() if taken_at is None else taken_at  # epoch seconds: when reading began
        # Reads still on their way (kube/background.py `Incoming`): every question first waits
        # for the reads of the kinds it asks about, so no answer is ever given from a partial read.
        self._incoming = incoming
        # Keyed without the label selector: a filtered list (e.g. CSVs without copies) answers
        # the questions about that kind in that namespace.
        self._by_read = {(r.read.kind, r.read.namespace, r.read.name): r for r in self._results}
        # Per-tenant questions against cluster-wide lists: indexed once per read, built on first
        # use, so a check per tenant costs a lookup instead of a scan of every pod of 2,000
        # namespaces (which made the suite quadratic in tenants × pods).
        self._by_namespace: dict[int, dict[str, list[dict]]] = {}
        self._by_name: dict[int, dict[tuple[str | None, str], dict]] = {}

    @property
    def results(self) -> list[ReadResult]:
        """Every read's result, in the plan's order (all of them arrived first)."""
        self._arrive(lambda read: True)
        return self._results

    def _arrive(self, wanted) -> None:
        """Takes in the reads still on their way until none that `wanted` picks is missing."""
        if self._incoming is None:
            return
        with _gc_paused():
            for result in self._incoming.until(wanted):
                self._results.append(result)
                self._by_read[(result.read.kind, result.read.namespace, result.read.name)] = result
        if self._incoming.done:
            self._results.sort(key=lambda r: self._incoming.order[r.read])
            self._incoming = None
            gc.freeze()  # read-only from here on: see plugin/session.py preflight

    def _arrive_kinds(self, kinds) -> None:
        kinds = {kinds} if isinstance(kinds, str) else set(kinds)
        self._arrive(lambda read: read.kind in kinds)

    def stop_reading(self) -> None:
        """The run is over (or interrupted): reads still on their way are not wanted."""
        if self._incoming is not None:
            self._incoming.stop()

    # -- queries -----------------------------------------------------------------------------
    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        self._arrive_kinds(kind)
        result = self._covering_list(kind, namespace)
        if result is None:
            raise CouldNotCheck(f"suite defect: no read covers list {kind}" + (f" in {namespace}" if namespace else ""))
        if result.error:
            raise CouldNotCheck(result.error)
        if namespace and result.read.namespace is None and KINDS[kind].namespaced:
            return list(self._namespace_index(result).get(namespace, ()))
        return list(result.items)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        self._arrive_kinds(kind)
        exact = self._by_read.get((kind, namespace if KINDS[kind].namespaced else None, name))
        if exact is not None:
            if exact.error:
                raise CouldNotCheck(exact.error)
            return exact.items[0] if exact.items else None
        ns = namespace if KINDS[kind].namespaced else None
        result = self._covering_list(kind, ns)
        if result is None or result.error:
            self.list(kind, ns)  # raises the right CouldNotCheck
        if KINDS[kind].namespaced and ns is None:  # "any namespace": rare, a scan is fine
            return next((o for o in result.items if o["metadata"]["name"] == name), None)
        return self._name_index(result).get((ns, name))

    def covers(self, kind: str, namespace: str | None = None) -> bool:
        self._arrive_kinds(kind)
        return self._covering_list(kind, namespace) is not None

    def errors(self, kinds) -> list[str]:
        """Why the reads of these kinds failed: a check that needs them cannot be judged."""
        self._arrive_kinds(kinds)
        return [r.error for r in self._results if r.error and r.read.kind in kinds]

    def _namespace_index(self, result: ReadResult) -> dict[str, list[dict]]:
        index = self._by_namespace.get(id(result))
        if index is None:
            index = {}
            for obj in result.items:
                index.setdefault(obj["metadata"].get("namespace"), []).append(obj)
            self._by_namespace[id(result)] = index
        return index

    def _name_index(self, result: ReadResult) -> dict[tuple[str | None, str], dict]:
        """(namespace, name) -> object; namespace None for cluster-scoped kinds. First wins, as
        the scan it replaces did."""
        index = self._by_name.get(id(result))
        if index is None:
            index = {}
            namespaced = KINDS[result.read.kind].namespaced
            for obj in result.items:
                meta = obj["metadata"]
                index.setdefault((meta.get("namespace") if namespaced else None, meta["name"]), obj)
            self._by_name[id(result)] = index
        return index

    def _covering_list(self, kind: str, namespace: str | None) -> ReadResult | None:
        if namespace:
            hit = self._by_read.get((kind, namespace, None))
            if hit is not None:
                return hit
        return self._by_read.get((kind, None, None))

    # -- sharing with xdist workers ----------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "server": self.server,
            "taken_at": self.taken_at,
            "results": [{"read": asdict(r.read), "items": r.items, "error": r.error} for r in self.results],
        })

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        with _gc_paused():
            data = json.loads(text)
        return cls([ReadResult(Read(**r["read"]), r["items"], r["error"]) for r in data["results"]], data.get("server"),
                   data.get("taken_at"))


class Overlay:
    """A fresh partial snapshot in front of the shared one: used when one failing check re-reads
    exactly the objects it looked at, within --settle-timeout."""

    def __init__(self, fresh: Snapshot, base: Snapshot):
        self.fresh, self.base = fresh, base
        self.server = base.server

    def list(self, kind, namespace=None):
        if self.fresh.covers(kind, namespace):
            return self.fresh.list(kind, namespace)
        return self.base.list(kind, namespace)

    def get(self, kind, name, namespace=None):
        ns = namespace if KINDS[kind].namespaced else None
        if (kind, ns, name) in self.fresh._by_read or self.fresh.covers(kind, ns):
            return self.fresh.get(kind, name, namespace)
        return self.base.get(kind, name, namespace)


class RecordingView:
    """Wraps a snapshot and records which reads a check used, so exactly those can be re-read."""

    def __init__(self, view):
        self.view = view
        self.server = view.server
        self.used: list[Read] = []

    def list(self, kind, namespace=None):
        self.used.append(Read(kind, namespace if KINDS[kind].namespaced else None))
        return self.view.list(kind, namespace)

    def get(self, kind, name, namespace=None):
        self.used.append(Read(kind, namespace if KINDS[kind].namespaced else None, name))
        return self.view.get(kind, name, namespace)
