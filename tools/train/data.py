"""Training data generated on the fly from seeds, letterboxed exactly as the SDK's preprocess does.

Each sample is one `edge_sdk.scenes.generate_still(seed)` frame, letterboxed with
`edge_sdk.preprocess.letterbox.letterbox_image` (the same code the SDK runs at inference), returned
as uint8 RGB CHW to keep worker-to-GPU traffic small; the GPU divides by 255 (as the SDK does).
Objects marked ignore (too hidden or cut) are not targets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from edge_sdk.preprocess.letterbox import letterbox_image
from edge_sdk.scenes import generate_still

#: Training seeds live below this; evaluation seeds start at 1_000_000.
MAX_TRAIN_SEED = 1_000_000


class SceneDataset(Dataset):
    """Samples `index` -> still of seed `first_seed + index`, letterboxed to `imgsz` x `imgsz`."""

    def __init__(self, first_seed: int, length: int, imgsz: int = 640, frame: tuple[int, int] = (640, 480)) -> None:
        if first_seed + length > MAX_TRAIN_SEED:
            raise ValueError(f"training seeds must stay below {MAX_TRAIN_SEED} (held-out seeds start there)")
        self.first_seed, self.length, self.imgsz, self.frame = first_seed, length, imgsz, frame

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        seed = self.first_seed + index
        bgr, anns = generate_still(seed, *self.frame)
        padded, info = letterbox_image(bgr, (self.imgsz, self.imgsz))
        chw = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))
        rows = []
        for a in anns:
            if a.ignore:
                continue
            x, y, w, h = a.bbox
            x1, y1 = x * info.scale + info.pad_x, y * info.scale + info.pad_y
            rows.append((a.class_id, x1, y1, x1 + w * info.scale, y1 + h * info.scale))
        target = torch.tensor(rows, dtype=torch.float32).view(-1, 5)
        return torch.from_numpy(chw), target


def collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack images; targets become [N, 6]: batch index, class, x1, y1, x2, y2."""
    images = torch.stack([b[0] for b in batch])
    targets = [torch.cat((torch.full((t.shape[0], 1), float(i)), t), 1) for i, (_, t) in enumerate(batch)]
    return images, torch.cat(targets) if targets else torch.zeros(0, 6)
