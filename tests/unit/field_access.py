"""Which fields of each snapshot object the code under test reads, recorded while it runs.

The snapshot keeps only the fields in kube/projection.py. A check that reads a field the
projection drops would silently see "absent" on a real cluster (where the field exists), so the
unit tests hand every check objects that are both projected and tracked: each read of a path the
projection does not keep is recorded, and `assert_projection_covers()` fails the test naming the
kind and the path. Paths look like `spec.containers[].name`; `*` means "every key of this map"
(iterating it), which only a field kept whole covers.
"""

from __future__ import annotations

from ossm_conformance.kube.projection import covers, project

_uncovered: set[tuple[str, str]] = set()


Path = tuple[str, ...]


def _child(path: Path, key) -> Path:
    return path + (str(key),)


def _note(kind: str, path: Path) -> None:
    if not covers(kind, path):
        _uncovered.add((kind, ".".join(path).replace(".[]", "[]")))


def _wrap(kind: str, path: Path, value):
    if isinstance(value, dict) and not isinstance(value, Tracked):
        return Tracked(kind, path, value)
    if isinstance(value, list) and not isinstance(value, TrackedList):
        return TrackedList(kind, path + ("[]",), value)
    return value


class Tracked(dict):
    """A dict that notes each key read (present or not) and wraps what it hands out."""

    def __init__(self, kind: str, path: Path, data: dict):
        super().__init__({k: _wrap(kind, _child(path, k), v) for k, v in data.items()})
        self._kind, self._path = kind, path

    def _read(self, key) -> None:
        _note(self._kind, _child(self._path, key))

    def __getitem__(self, key):
        self._read(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._read(key)
        return super().__contains__(key)

    def setdefault(self, key, default=None):
        self._read(key)
        return super().setdefault(key, default)

    def pop(self, key, *default):
        self._read(key)
        return super().pop(key, *default)

    def _whole(self):
        _note(self._kind, _child(self._path, "*"))

    def __iter__(self):
        self._whole()
        return super().__iter__()

    def keys(self):
        self._whole()
        return super().keys()

    def items(self):
        self._whole()
        return super().items()

    def values(self):
        self._whole()
        return super().values()

    def __deepcopy__(self, memo):
        import copy
        return Tracked(self._kind, self._path, {k: copy.deepcopy(v, memo) for k, v in dict.items(self)})


class TrackedList(list):
    def __init__(self, kind: str, path: Path, data: list):
        super().__init__(_wrap(kind, path, v) for v in data)


def tracked(kind: str, obj: dict) -> dict:
    """`obj` as the snapshot would keep it (projected), with its reads tracked."""
    return Tracked(kind, (), project(kind, obj))


def reset() -> None:
    _uncovered.clear()


def assert_projection_covers() -> None:
    found = sorted(_uncovered)
    reset()
    assert not found, ("the code read fields that kube/projection.py drops (add them there): "
                       + ", ".join(f"{kind}: {path}" for kind, path in found))


def tracked_snapshot(results, *args, **kwargs):
    """A real Snapshot whose objects are projected and tracked, as the suite's would be projected."""
    from ossm_conformance.kube.snapshot import ReadResult, Snapshot
    return Snapshot([ReadResult(r.read, [tracked(r.read.kind, o) for o in r.items], r.error) for r in results],
                    *args, **kwargs)
