"""A decoder plugin for CenterNet-style heatmap detectors (CenterFace and the like): a complete example of the
plugin API (docs/models.md, "Decoder plugins").

The model gives, at 1/4 of the input resolution (any stride works: it is read from the shapes):
- `heatmap` [1, C, h, w]: per-class centre probabilities (after a sigmoid);
- `scale` [1, 2, h, w]: log box height and width, in stride units (CenterFace; `exp(s) * stride` pixels);
- `offset` [1, 2, h, w]: the centre's sub-cell offset (y, x);
- optionally `landmarks` [1, 2K, h, w]: K points as (y, x) fractions of the box from its top left (CenterFace's
  five face points). Detections carry boxes, scores and classes; `landmarks_in_frame` shows how a plugin uses
  `ctx.placement` (the letterbox parameters) to put such points into frame pixels.

Use it with:

    model:
      path: centerface.onnx
      preprocess: {size: [480, 640], resize: letterbox, align: top-left, pad_value: 0, scale: 1.0,
                   channel_order: bgr}      # CenterFace is fed 0..255 BGR
      labels: [face]
    decode:
      type: apps.centernet_decoder:decode

Outputs are told apart by their names (heatmap/hm, scale/wh/size, offset/reg, landmarks/lm), else by channel
count (C = the number of labels, 2, 2 in model order, 2K). A contract: every output is one image's (batch 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_sdk.decode import DecodeContext, Detections, filter_classes, nms

ROLES = {"heatmap": ("heatmap", "hm", "heat"), "scale": ("scale", "wh", "size"), "offset": ("offset", "reg", "off"),
         "landmarks": ("landmark", "lm", "kps")}


def _roles(names: Sequence[str], outputs: Sequence[np.ndarray], num_classes: int | None) -> dict[str, int]:
    """Which output plays which part: by name, else by channel count."""
    found: dict[str, int] = {}
    for role, words in ROLES.items():
        hits = [i for i, n in enumerate(names) if any(w in n.lower() for w in words)]
        if len(hits) == 1:
            found[role] = hits[0]
    if {"heatmap", "scale", "offset"} <= found.keys():
        return found
    channels = [int(o.shape[1]) if o.ndim == 4 else -1 for o in outputs]
    twos = [i for i, c in enumerate(channels) if c == 2]
    heat = [i for i, c in enumerate(channels) if c == (num_classes or 1) and i not in twos]
    if len(heat) != 1 or len(twos) != 2:
        raise ValueError(f"cannot tell heatmap/scale/offset apart among outputs {list(names)} with channels "
                         f"{channels}: name them, or give model.labels")
    return {"heatmap": heat[0], "scale": twos[0], "offset": twos[1],
            **({"landmarks": channels.index(max(channels))} if max(channels) > 2 and len(outputs) > 3 else {})}


def _peaks(heat: np.ndarray, threshold: float, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(class, row, col, score) of local maxima over 3x3 above `threshold`, best `top` first."""
    padded = np.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h, w = heat.shape[1:]
    neighbourhood = np.max([padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    cls, row, col = np.nonzero((heat == neighbourhood) & (heat > threshold))
    score = heat[cls, row, col]
    order = np.argsort(-score, kind="stable")[:top]
    return cls[order], row[order], col[order], score[order]


def decode(outputs: Sequence[np.ndarray], ctx: DecodeContext) -> Detections:
    """Boxes x1,y1,x2,y2 in model-input pixels (the pipeline maps them to the frame)."""
    names = ctx.model.output_names or tuple(f"output{i}" for i in range(len(outputs)))
    roles = _roles(names, outputs, ctx.model.num_classes)
    heat = outputs[roles["heatmap"]][0]
    in_h, _ = ctx.input_size("centernet")
    stride = in_h / heat.shape[1]
    cls, row, col, score = _peaks(heat, ctx.params.conf_thres, ctx.params.max_candidates)
    if score.size == 0:
        return Detections()
    scale = outputs[roles["scale"]][0][:, row, col]
    offset = outputs[roles["offset"]][0][:, row, col]
    box_h, box_w = np.exp(scale[0]) * stride, np.exp(scale[1]) * stride
    cy, cx = (row + offset[0] + 0.5) * stride, (col + offset[1] + 0.5) * stride
    boxes = np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2], axis=1).astype(np.float32)
    dets = Detections(boxes, score.astype(np.float32), cls.astype(np.int64))
    return nms(filter_classes(dets, ctx.params), ctx.params)


def landmarks_in_frame(outputs: Sequence[np.ndarray], ctx: DecodeContext, dets: Detections) -> np.ndarray:
    """The landmarks of each detection [N, K, 2] (x, y) in original-frame pixels, using `ctx.placement`: what a
    plugin can do with the letterbox parameters it is given. Empty when the model has no landmarks output."""
    names = ctx.model.output_names or tuple(f"output{i}" for i in range(len(outputs)))
    roles = _roles(names, outputs, ctx.model.num_classes)
    if "landmarks" not in roles or len(dets) == 0 or ctx.placement is None:
        return np.zeros((0, 0, 2), np.float32)
    lm = outputs[roles["landmarks"]][0]
    heat = outputs[roles["heatmap"]][0]
    stride = ctx.input_size("centernet")[0] / heat.shape[1]
    boxes = dets.boxes
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    col, row = np.clip((cx / stride).astype(int), 0, heat.shape[2] - 1), np.clip((cy / stride).astype(int), 0,
                                                                                 heat.shape[1] - 1)
    k = lm.shape[0] // 2
    raw = lm[:, row, col].T.reshape(-1, k, 2)  # (y, x) pairs, in box units
    bw, bh = (boxes[:, 2] - boxes[:, 0])[:, None], (boxes[:, 3] - boxes[:, 1])[:, None]
    pts = np.stack([boxes[:, 0:1] + raw[..., 1] * bw, boxes[:, 1:2] + raw[..., 0] * bh], axis=-1)
    return ctx.placement.points_to_original(pts)
