"""The package-level import graph, read from the code's own `import` statements (ast), and the
layer rule it must follow: every arrow points down (docs/architecture.md).

    python -m tools.imports          # prints the graph; exit 1 when an arrow points up, two units
                                     # import each other, or a unit imports another's private module (`_name`)

A unit is a package of ossm_conformance (`ossm_conformance.kube`), one of its top-level modules
(`ossm_conformance.profile`), or a top-level directory of the repository (`lab`, `bench`, `tests`).
Every import counts, also those inside functions (a lazy import is still a dependency), and
the conftest's `pytest_plugins` strings (pytest imports them).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ossm_conformance"

# Lowest layer first. An arrow may point to a lower layer or stay inside its layer (never to a
# higher one); two units may not import each other; a module named `_x` is its unit's own.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("model", ("ossm_conformance", "ossm_conformance.profile", "ossm_conformance.findings",
               "ossm_conformance.versions", "ossm_conformance.runbook", "ossm_conformance.exitcodes",
               "ossm_conformance.redact")),
    ("kube", ("ossm_conformance.kube")),
    ("checks", ("ossm_conformance.checks", "ossm_conformance.facts")),
    ("mtls", ("ossm_conformance.mtls",)),
    ("suite", ("ossm_conformance.plugin", "ossm_conformance.params", "ossm_conformance.gate",
               "ossm_conformance.reporting", "ossm_conformance.draft")),
    ("suite files", ("fixtures", "tests_conformance", "conftest")),
    ("lab", ("lab",)),
    ("lab users", ("bench", "reliability")),
    ("tests", ("tests", "tools")),
]
TESTS = ("tests",)  # unit tests may test a unit's private modules
SOURCE_ROOTS = ("src/ossm_conformance", "fixtures", "tests_conformance", "lab", "bench", "reliability",
                "tests", "tools", "conftest.py")


def layer_of(unit: str) -> int:
    for index, (_, units) in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(f"{unit} is in no layer: add it to tools/imports.py LAYERS")


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO / "src" if path.is_relative_to(REPO / "src") else REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str | None:
    """The unit a dotted module belongs to, or None for the standard library and third parties."""
    parts = module.split(".")
    if parts[0] == PACKAGE:
        top = REPO / "src" / PACKAGE / (parts[1] if len(parts) > 1 else "")
        is_module = len(parts) > 1 and (top.is_dir() or top.with_suffix(".py").is_file())
        return ".".join(parts[:2]) if is_module else PACKAGE  # `from .. import __version__`
    if (REPO / parts[0]).is_dir() or (REPO / f"{parts[0]}.py").is_file():
        return parts[0]
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names a file imports: relative imports resolved, bare sibling imports (tests/lab's
    `from lab_helpers import ...`, found through pytest's rootdir insertion) included."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and (path.parent / f"{node.module.split('.')[0]}.py").is_file():
                base = ".".join(package + [node.module])
            else:
                base = node.module
            # `from ..checks import _netpol` reaches _netpol: each imported name is kept as base.name.
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets)
              and isinstance(node.value, (ast.List, ast.Tuple))):
            found.update(e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return found


def source_files() -> list[Path]:
    files = []
    for root in SOURCE_ROOTS:
        path = REPO / root
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if ".venv" not in p.parts)
    return files


def _private_part(module: str) -> str | None:
    """'a.b._c' for 'a.b._c.d' (the private module reached), None when nothing private is."""
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index + 1])
    return None


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """The arrows between units, and the private modules (`_name`) reached from another unit."""
    arrows: dict[str, set[str]] = defaultdict(set)
    private = []
    for path in source_files():
        source = unit_of(module_name(path))
        arrows[source]
        for module in sorted(imported_modules(path)):
            target = unit_of(module)
            if target is not None and target != source:
                arrows[source].add(target)
                reached = _private_part(module)
                if source not in TESTS and reached and f"private: {path.relative_to(REPO)} imports {reached}" not in private:
                    private.append(f"private: {path.relative_to(REPO)} imports {reached}")
    return arrows, private


def problems(arrows: dict[str, set[str]], private: list[str]) -> list[str]:
    found = list(private)
    for source, targets in sorted(arrows.items()):
        for target in sorted(targets):
            if layer_of(target) > layer_of(source):
                found.append(f"up: {source} ({LAYERS[layer_of(source)][0]}) -> {target} ({LAYERS[layer_of(target)][0]})")
            elif source < target and source in arrows.get(target, ()):
                found.append(f"cycle: {source} <-> {target}")
    return found


def main() -> int:
    arrows, private = graph()
    for index, (name, _) in enumerate(LAYERS):
        units = sorted(u for u in arrows if layer_of(u) == index)
        if units:
            print(f"[{index} {name}]")
        for unit in units:
            print(f"  {unit} -> {', '.join(sorted(arrows[unit])) or '(nothing)'}")
    found = problems(arrows, private)
    for line in found:
        print(line)
    print(f"{len(found)} import(s) against the rule" if found else "every arrow points down")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
