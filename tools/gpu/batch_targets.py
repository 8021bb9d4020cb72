"""The batching targets of issue #23, checked on a grid `edge-sdk bench --cameras ... --batch ... --out X.json` wrote.

    python tools/gpu/batch_targets.py OUT/batch_gpu.json       # prints each check; exit 1 if any fails

- throughput: 8 cameras at the largest batch reach >= 2x the total frames per second of 8 cameras at batch 1;
- pipeline / engine-only >= 0.90 for 8 cameras at every batch (the engine alone at the same batch, same session);
- fairness: with 2 cameras or more (all alike), the slowest camera gets >= 0.9 of the fastest one's frame rate.
A check whose cells are missing from the grid is skipped, and said.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CAMERAS = 8
SPEEDUP, RATIO, FAIRNESS = 2.0, 0.90, 0.9


def checks(cells: list[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """(name, passed or None when not measurable, detail) of each target."""
    out: list[tuple[str, bool | None, str]] = []
    eight = {c["batch"]: c for c in cells if c["cameras"] == CAMERAS}
    if 1 in eight and len(eight) > 1:
        top = max(eight)
        speedup = eight[top]["fps"] / eight[1]["fps"] if eight[1]["fps"] else 0.0
        out.append(("throughput", speedup >= SPEEDUP, f"8 cameras, batch {top}: {eight[top]['fps']:.1f} fps = "
                    f"{speedup:.2f}x batch 1's {eight[1]['fps']:.1f} (target {SPEEDUP}x)"))
    else:
        out.append(("throughput", None, "no 8-camera cells at batch 1 and above in the grid"))
    for batch, cell in sorted(eight.items()):
        ratio = cell["pipeline_over_engine"]
        out.append((f"pipeline/engine batch {batch}", ratio >= RATIO,
                    f"8 cameras: {cell['fps']:.1f} fps against the engine alone's {cell['engine_fps']:.1f} = {ratio:.3f} "
                    f"(target {RATIO})"))
    many = [c for c in cells if c["cameras"] > 1]
    worst = min(many, key=lambda c: c["fairness"], default=None)
    if worst is None:
        out.append(("fairness", None, "no cell with 2 cameras or more"))
    else:
        out.append(("fairness", worst["fairness"] >= FAIRNESS,
                    f"worst: {worst['cameras']} cameras, batch {worst['batch']}: slowest / fastest = {worst['fairness']:.3f} "
                    f"(target {FAIRNESS}; {len(many)} cells)"))
    return out


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    results = checks(data["cells"])
    for name, passed, detail in results:
        print(f"{'SKIP' if passed is None else 'PASS' if passed else 'FAIL'} {name}: {detail}")
    return 1 if any(p is False for _, p, _ in results) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
