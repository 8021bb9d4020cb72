"""Camera look: lighting from bright day to dim night, colour cast, light pools, blur, noise, JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Look:
    """Photometric parameters of one camera/scene; `sample_look` draws them."""

    condition: str  # "day", "dusk" or "night"
    gain: float
    gamma: float
    tint: tuple[float, float, float]  # per-channel gain, BGR
    pools: tuple[tuple[float, float, float, float], ...]  # light pools: cx, cy, radius (fractions), strength
    vignette: float
    blur_sigma: float
    motion_len: int
    motion_angle: float
    noise_sigma: float
    jpeg_quality: int | None


CONDITIONS = ("day", "dusk", "night")


def sample_look(rng: np.random.Generator, jpeg: bool = True, condition: str | None = None) -> Look:
    """Random look: half day, a quarter dusk/overcast, a quarter night (or the given `condition`)."""
    if condition is not None and condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    u = rng.random()
    if condition is not None:
        u = {"day": 0.25 * u, "dusk": 0.5 + 0.25 * u, "night": 0.75 + 0.25 * u}[condition]
    if u < 0.5:
        condition, gain, gamma, noise = "day", rng.uniform(0.85, 1.3), rng.uniform(0.8, 1.15), rng.uniform(0.5, 4.0)
    elif u < 0.75:
        condition, gain, gamma, noise = "dusk", rng.uniform(0.45, 0.85), rng.uniform(0.9, 1.25), rng.uniform(2.0, 6.0)
    else:
        condition, gain, gamma, noise = "night", rng.uniform(0.2, 0.45), rng.uniform(1.0, 1.4), rng.uniform(3.0, 9.0)
    if condition == "night":
        tint = (1.0 + rng.uniform(-0.1, 0.25), 1.0, 1.0 + rng.uniform(-0.1, 0.25))
    else:
        tint = (1.0 + rng.uniform(-0.08, 0.08), 1.0, 1.0 + rng.uniform(-0.08, 0.08))
    n_pools = int(rng.integers(1, 4)) if condition == "night" else int(rng.integers(0, 2)) * int(rng.random() < 0.3)
    pools = tuple(
        (float(rng.random()), float(rng.random()), float(rng.uniform(0.1, 0.4)), float(rng.uniform(0.5, 2.0)))
        for _ in range(n_pools)
    )
    r = rng.random()
    blur_sigma = float(rng.uniform(0.4, 1.4)) if r < 0.35 else 0.0
    motion_len = int(rng.integers(3, 8)) if 0.35 <= r < 0.5 else 0
    quality = int(rng.integers(30, 96)) if jpeg and rng.random() < 0.75 else None
    return Look(
        condition=condition,
        gain=float(gain),
        gamma=float(gamma),
        tint=tint,
        pools=pools,
        vignette=float(rng.uniform(0.0, 0.4)) if rng.random() < 0.4 else 0.0,
        blur_sigma=blur_sigma,
        motion_len=motion_len,
        motion_angle=float(rng.uniform(0, 180)),
        noise_sigma=float(noise),
        jpeg_quality=quality,
    )


def _lut(look: Look, gain_scale: float) -> np.ndarray:
    v = np.arange(256, dtype=np.float32) / 255.0
    base = np.power(v, look.gamma) * look.gain * gain_scale
    table = np.stack([base * t for t in look.tint], axis=-1) * 255.0
    return np.clip(np.round(table), 0, 255).astype(np.uint8).reshape(1, 256, 3)


def _gain_map(look: Look, width: int, height: int, shadow: np.ndarray | None) -> np.ndarray | None:
    if not look.pools and look.vignette == 0.0 and shadow is None:
        return None
    gh, gw = 48, 64
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    yy, xx = (yy + 0.5) / gh, (xx + 0.5) / gw
    g: np.ndarray = np.ones((gh, gw), np.float32)
    for cx, cy, rad, strength in look.pools:
        g += strength * np.exp(-(((xx - cx) ** 2) * (width / height) ** 2 + (yy - cy) ** 2) / (2 * rad**2))
    if look.vignette:
        g *= 1.0 - look.vignette * (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2.0)
    if shadow is not None:
        g *= cv2.resize(shadow, (gw, gh), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(g, (width, height), interpolation=cv2.INTER_LINEAR)


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    m = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    k: np.ndarray = cv2.warpAffine(line, m, (length, length))
    return k / max(float(k.sum()), 1e-6)


def apply_look(
    img: np.ndarray,
    look: Look,
    rng: np.random.Generator,
    gain_scale: float = 1.0,
    shadow: np.ndarray | None = None,
) -> np.ndarray:
    """The frame as the camera sees it. `gain_scale` and `shadow` (a small gain map) vary over time in video."""
    h, w = img.shape[:2]
    out: np.ndarray = cv2.LUT(img, _lut(look, gain_scale)).astype(np.float32)
    gmap = _gain_map(look, w, h, shadow)
    if gmap is not None:
        out *= gmap[:, :, None]
    if look.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), look.blur_sigma)
    elif look.motion_len > 0:
        out = cv2.filter2D(out, -1, _motion_kernel(look.motion_len, look.motion_angle))
    luma = rng.standard_normal((h, w), dtype=np.float32) * np.float32(look.noise_sigma)
    out += luma[:, :, None]
    chroma = rng.standard_normal((h // 4, w // 4, 3), dtype=np.float32) * np.float32(look.noise_sigma * 0.5)
    out += cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    np.clip(out, 0, 255, out=out)
    result: np.ndarray = out.astype(np.uint8)
    if look.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode a generated frame")
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError("OpenCV could not decode a JPEG it had just encoded")
        result = decoded
    return result
