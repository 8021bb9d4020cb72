"""The constant-velocity Kalman filter of SORT/DeepSORT/ByteTrack, on (centre x, centre y, aspect w/h, height).

State: [x, y, a, h, vx, vy, va, vh]. The noise scales with the box height (`std_weight_position` 1/20,
`std_weight_velocity` 1/160, as in ByteTrack), so a box of any size moves with the same relative freedom.
One step is one frame. `predict_many` advances every track at once (one batched matrix product).
"""

from __future__ import annotations

import numpy as np

_POS = 1.0 / 20
_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


def xyxy_to_xyah(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)
    return np.array([x1 + w / 2, y1 + h / 2, w / h, h])


def xyah_to_xyxy(m: np.ndarray) -> np.ndarray:
    x, y, a, h = (float(v) for v in m[:4])
    h = max(h, 1e-3)
    w = max(a, 1e-6) * h
    return np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def initiate(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new track from its first box (zero velocity, wide velocity spread)."""
    z = xyxy_to_xyah(box)
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


def update(mean: np.ndarray, cov: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct one track with a measured box."""
    z = xyxy_to_xyah(box)
    h = mean[3]
    r = np.diag(np.array([_POS * h, _POS * h, 1e-1, _POS * h]) ** 2)
    s = _H @ cov @ _H.T + r
    gain = np.linalg.solve(s, (cov @ _H.T).T).T
    mean = mean + gain @ (z - _H @ mean)
    cov = cov - gain @ s @ gain.T
    return mean, cov
