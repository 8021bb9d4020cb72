"""The constant-velocity Kalman filter of SORT/DeepSORT/ByteTrack, on (centre x, centre y, aspect w/h, height).

State: [x, y, a, h, vx, vy, va, vh]. The noise scales with the box height (`std_weight_position` 1/20,
`std_weight_velocity` 1/160, as in ByteTrack), so a box of any size moves with the same relative freedom.
One step is one frame. `predict_many` and `update_many` work on every track at once (batched matrix products:
on the publish thread, per-track numpy calls cost more than the arithmetic).
"""

from __future__ import annotations

import numpy as np

_POS = 1.0 / 20
_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """N x 4 boxes (x1, y1, x2, y2) as N x 4 (centre x, centre y, aspect w/h, height)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.maximum(b[:, 2] - b[:, 0], 1e-3)
    h = np.maximum(b[:, 3] - b[:, 1], 1e-3)
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_xyxy(means: np.ndarray) -> np.ndarray:
    """The boxes (N x 4, x1 y1 x2 y2) of N states (N x 8, or N x 4 measurements)."""
    m = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
    h = np.maximum(m[:, 3], 1e-3)
    w = np.maximum(m[:, 2], 1e-6) * h
    return np.stack([m[:, 0] - w / 2, m[:, 1] - h / 2, m[:, 0] + w / 2, m[:, 1] + h / 2], axis=1)


def initiate(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new track from its first box (zero velocity, wide velocity spread)."""
    z = xyxy_to_xyah(box)[0]
    mean = np.concatenate([z, np.zeros(4)])
    h = z[3]
    std = np.array([2 * _POS * h, 2 * _POS * h, 1e-2, 2 * _POS * h,
                    10 * _VEL * h, 10 * _VEL * h, 1e-5, 10 * _VEL * h])
    return mean, np.diag(std**2)


def predict_many(means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead for N tracks: means N x 8, covariances N x 8 x 8."""
    if len(means) == 0:
        return means, covs
    h = means[:, 3]
    std = np.stack([_POS * h, _POS * h, np.full_like(h, 1e-2), _POS * h,
                    _VEL * h, _VEL * h, np.full_like(h, 1e-5), _VEL * h], axis=1)
    q = np.zeros((len(means), 8, 8))
    idx = np.arange(8)
    q[:, idx, idx] = std**2
    means = means @ _F.T
    covs = _F @ covs @ _F.T + q
    return means, covs


def update_many(means: np.ndarray, covs: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct N tracks (means N x 8, covariances N x 8 x 8) with one measured box each (N x 4), at once."""
    if len(means) == 0:
        return means, covs
    z = xyxy_to_xyah(boxes)
    h = means[:, 3]
    idx = np.arange(4)
    s = covs[:, :4, :4].copy()  # H P H^T: the measurement is the first 4 state entries
    s[:, idx, idx] += np.stack([_POS * h, _POS * h, np.full_like(h, 1e-1), _POS * h], axis=1) ** 2
    pht = covs[:, :, :4]  # P H^T, N x 8 x 4
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)  # P H^T S^-1 (S symmetric)
    means = means + np.einsum("nij,nj->ni", gain, z - means[:, :4])
    covs = covs - gain @ s @ gain.transpose(0, 2, 1)
    return means, covs
