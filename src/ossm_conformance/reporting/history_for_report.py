"""`make report`: the history Allure compares the rendered run with.

    python -m ossm_conformance.reporting.history_for_report HISTORY RESULTS_DIR OUT

The suite appends each run to HISTORY itself (history.py), so the file already holds the run
being rendered; Allure must see only the runs before it, or every test would look unchanged.
The run is found by the Run.id the suite wrote to RESULTS_DIR/environment.properties.
allurerc.mjs reads OUT (historyPath) and never appends to it (appendHistory: false).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .history import before_run, load


def run_id(results_dir: Path) -> str | None:
    try:
        lines = (results_dir / "environment.properties").read_text().splitlines()
    except OSError:
        return None
    return next((line.split("=", 1)[1] for line in lines if line.startswith("Run.id=")), None)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 4
    history, results_dir, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    points = before_run(load(history), run_id(results_dir) or "")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(p, separators=(",", ":")) + "\n" for p in points))
    print(f"history for the report: {len(points)} earlier run(s) from {history}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
