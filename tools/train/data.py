"""Training data generated on the fly from seeds, letterboxed exactly as the SDK's preprocess does.

Each sample is one `tools.scenes.generate_still(seed)` frame, letterboxed with
`edge_sdk.preprocess.letterbox.letterbox_image` (the same code the SDK runs at inference), returned
as uint8 RGB CHW to keep worker-to-GPU traffic small; the GPU divides by 255 (as the SDK does).
With `reuse` > 1 consecutive samples share a scene; odd ones are mirrored left-right (a worker
builds whole batches, so the cached scene is reused, not regenerated). Objects marked ignore (too
hidden or cut) are not targets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from edge_sdk.preprocess.letterbox import letterbox_image
from tools.scenes import generate_still

#: Training seeds live below this; evaluation seeds start at 1_000_000.
MAX_TRAIN_SEED = 1_000_000


class SceneDataset(Dataset):
    """Item i is sample j = first_sample + i: the still of seed `seed_base + j // reuse`."""

    def __init__(self, seed_base: int, first_sample: int, length: int, reuse: int = 1, imgsz: int = 640,
                 frame: tuple[int, int] = (640, 480)) -> None:
        if seed_base + (first_sample + length) // reuse > MAX_TRAIN_SEED:
            raise ValueError(f"training seeds must stay below {MAX_TRAIN_SEED} (held-out seeds start there)")
        self.seed_base, self.first_sample, self.length, self.reuse = seed_base, first_sample, length, reuse
        self.imgsz, self.frame = imgsz, frame
        self._cache: tuple[int, np.ndarray, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.length

    def _scene(self, seed: int) -> tuple[np.ndarray, torch.Tensor]:
        if self._cache is not None and self._cache[0] == seed:
            return self._cache[1], self._cache[2]
        bgr, anns = generate_still(seed, *self.frame)
        padded, info = letterbox_image(bgr, (self.imgsz, self.imgsz))
        rows = []
        for a in anns:
            if a.ignore:
                continue
            x, y, w, h = a.bbox
            x1, y1 = x * info.scale + info.pad_x, y * info.scale + info.pad_y
            rows.append((a.class_id, x1, y1, x1 + w * info.scale, y1 + h * info.scale))
        target = torch.tensor(rows, dtype=torch.float32).view(-1, 5)
        self._cache = (seed, padded, target)
        return padded, target

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = self.first_sample + index
        padded, target = self._scene(self.seed_base + j // self.reuse)
        if j % self.reuse == 1:
            padded = padded[:, ::-1]
            target = target.clone()
            target[:, 1], target[:, 3] = self.imgsz - target[:, 3], self.imgsz - target[:, 1]
        chw = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))
        return torch.from_numpy(chw), target


def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack images; targets become [N, 6]: batch index, class, x1, y1, x2, y2."""
    images = torch.stack([b[0] for b in batch])
    targets = [torch.cat((torch.full((t.shape[0], 1), float(i)), t), 1) for i, (_, t) in enumerate(batch)]
    return images, torch.cat(targets) if targets else torch.zeros(0, 6)
