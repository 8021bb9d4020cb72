"""The accuracy table printed by `python -m tools.evaluate`, and its JSON form."""

from __future__ import annotations

from typing import Any

from edge_sdk.evaluate.metrics import MapResult, RecallResult


def _f(v: float | None) -> str:
    return "   -  " if v is None else f"{v:6.3f}"


def accuracy_table(title: str, m: MapResult, r: RecallResult, min_score: float) -> str:
    """Per-class and overall AP50, AP50-95 and recall, one row each."""
    lines = [
        title,
        f"{'class':<10} {'objects':>7} {'AP50':>6} {'AP50-95':>7} {f'recall@{r.iou:g} (conf>={min_score:g})':>24}",
    ]
    for c in m.per_class:
        lines.append(f"{c.name:<10} {c.n_gt:>7d} {_f(c.ap50)} {_f(c.ap50_95):>7} {_f(r.per_class.get(c.name)):>24}")
    lines.append(f"{'all':<10} {m.n_gt:>7d} {_f(m.map50)} {_f(m.map50_95):>7} {_f(r.recall):>24}")
    lines.append(f"({m.n_images} images, {m.n_dets} detections scored by {m.backend}; recall {r.matched}/{r.total})")
    return "\n".join(lines)


def accuracy_json(meta: dict[str, Any], m: MapResult, r: RecallResult) -> dict[str, Any]:
    return {**meta, "map": m.to_dict(), "recall": r.to_dict()}
