"""Video mode: objects that move, enter and leave over a panning, changing background.

The world is a panorama wider than the frame; the camera pans across it, the light drifts and cloud
shadows move. Static things (signs, parcels, parked cars) live in the world; actors (people, cars,
bicycles, dogs) walk or drive through it, entering and leaving at the frame edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.scenes.background import make_background, value_noise
from tools.scenes.clutter import draw_background_clutter, occluder_sprite
from tools.scenes.coco import CocoBuilder
from tools.scenes.compose import annotate, draw_scene, opaque_pixels
from tools.scenes.encode import VideoFileWriter
from tools.scenes.objects import render_sprite, sample_object
from tools.scenes.photometric import apply_look, sample_look
from tools.scenes.types import Annotation, ObjectParams, PlacedObject, Sprite

_VIDEO_STREAM = 0x71DE0
_ACTOR_CLASSES = (0, 1, 2, 5)
_ACTOR_WEIGHTS = np.array([0.35, 0.25, 0.2, 0.2])
_SPEED = {0: (0.35, 0.9), 1: (0.6, 1.6), 2: (0.7, 1.5), 5: (0.5, 1.4)}  # nominal long sides per second
_STRIDE = {0: 0.9, 1: 1.2, 2: 1.0, 5: 0.7}  # long sides travelled per animation cycle
#: Like a mounted camera looking down a street: objects at the far edge of the ground are still about
#: 0.08 x half the frame height times 0.6..1.1 (17..32 px at 480 rows); the nearest up to half the frame.
_FAR_SCALE = 0.08


@dataclass
class Actor:
    """An object in world coordinates: centre (x, y), velocity (vx, vy) px/s, scale growth per second."""

    params: ObjectParams
    x: float
    y: float
    vx: float
    vy: float
    growth: float
    born: float
    track_id: int
    travelled: float = 0.0


def _ground_y(rng: np.random.Generator, horizon: int, height: int) -> tuple[float, float]:
    """A bottom y on the ground and the perspective factor (0.1 near the horizon, 1 at the bottom)."""
    bottom = rng.uniform(horizon + 0.1 * (height - horizon), height * 1.02)
    return bottom, float(np.clip((bottom - horizon) / (height - horizon), 0.1, 1.0))


class _World:
    def __init__(self, rng: np.random.Generator, width: int, height: int, seconds: float, scene: str | None) -> None:
        self.rng, self.width, self.height = rng, width, height
        self.pan_speed = 0.0 if rng.random() < 0.3 else float(rng.uniform(8, 30) * rng.choice([-1, 1]))
        span = int(abs(self.pan_speed) * seconds) + 2
        bg = make_background(rng, width + span, height, scene)
        self.panorama = bg.image
        draw_background_clutter(rng, self.panorama, int(rng.integers(6, 30)))
        self.horizon = bg.horizon if bg.horizon is not None else int(0.35 * height)
        self.pan_start = 0.0 if self.pan_speed >= 0 else float(span - 1)
        self.actors: list[Actor] = []
        self.next_track = 0
        self.occluders = [
            (occluder_sprite(rng, height), float(rng.uniform(0, width + span))) for _ in range(int(rng.integers(0, 3)))
        ]
        # Every class shows up: a sign and a parcel in the world, one actor of each moving class at the
        # start, then random extras.
        statics = [3, 4] + [int(rng.choice([3, 4, 1])) for _ in range(int(rng.integers(0, 3)))]
        for cls in statics:
            self._spawn(static=True, t=0.0, x=float(rng.uniform(0, width + span)), cls=cls)
        movers = [int(c) for c in rng.permutation(_ACTOR_CLASSES)]
        movers += [int(rng.choice(_ACTOR_CLASSES, p=_ACTOR_WEIGHTS)) for _ in range(int(rng.integers(0, 3)))]
        for cls in movers:
            self._spawn(static=False, t=0.0, x=float(rng.uniform(0, width)) + self.pan_start, cls=cls)

    def offset(self, t: float) -> float:
        return self.pan_start + self.pan_speed * t

    def _spawn(self, static: bool, t: float, x: float | None = None, cls: int | None = None) -> None:
        rng = self.rng
        if cls is None:
            cls = int(rng.choice([3, 4, 1])) if static else int(rng.choice(_ACTOR_CLASSES, p=_ACTOR_WEIGHTS))
        bottom, depth = _ground_y(rng, self.horizon, self.height)
        scale = _FAR_SCALE + (1.0 - _FAR_SCALE) * depth
        long_side = max(12.0, min(0.5 * self.height, scale * 0.5 * self.height * rng.uniform(0.6, 1.1)))
        params = sample_object(rng, cls, long_side)
        angle = float(np.clip(rng.normal(0, 3), -8, 8))
        speed = 0.0 if static else rng.uniform(*_SPEED[cls]) * long_side * rng.choice([-1.0, 1.0])
        if cls in (1, 2) and not static:
            params = _with(params, style=min(params.style, 1))
        params = _with(params, angle=angle, flip=bool(speed < 0) if not static else params.flip)
        if x is None:  # enter at the edge the actor walks away from
            x = self.offset(t) + (-params.width / 2 if speed > 0 else self.width + params.width / 2)
        growth = 0.0 if static else float(rng.uniform(-0.04, 0.04))
        self.actors.append(
            Actor(params, x, bottom - params.height / 2, float(speed), float(rng.normal(0, 3)), growth, t, self.next_track)
        )
        self.next_track += 1

    def step(self, t: float, dt: float) -> None:
        if self.rng.random() < 0.5 * dt:
            self._spawn(static=False, t=t)
        left, right = self.offset(t), self.offset(t) + self.width
        alive = []
        for a in self.actors:
            a.x += a.vx * dt
            a.y += a.vy * dt
            a.travelled += abs(a.vx) * dt
            half = 0.5 * max(a.params.width, a.params.height) * (1 + a.growth * (t - a.born))
            leaving = (a.vx > 0 and a.x - half > right + 5) or (a.vx < 0 and a.x + half < left - 5)
            if a.vx == 0 or not leaving:
                alive.append(a)
        self.actors = alive

    def render(self, t: float) -> tuple[np.ndarray, list[Annotation]]:
        off = self.offset(t)
        x0 = int(round(off))
        frame = self.panorama[:, x0 : x0 + self.width].copy()
        placed = []
        for a in self.actors:
            scale = max(0.2, 1.0 + a.growth * (t - a.born))
            cycle = _STRIDE.get(a.params.class_id, 1.0) * max(a.params.width, a.params.height)
            sprite = render_sprite(a.params, phase=(a.travelled / cycle) % 1.0, scale=scale)
            sx, sy = round(a.x - x0 - sprite.width / 2), round(a.y - sprite.height / 2)
            placed.append(PlacedObject(a.params, sprite, sx, sy, opaque_pixels(sprite), track_id=a.track_id))
        occluders: list[tuple[Sprite, int, int]] = [
            (s, round(wx - x0), self.height - s.height + int(0.1 * s.height)) for s, wx in self.occluders
        ]
        owner = draw_scene(frame, placed, occluders)
        return frame, annotate(owner, placed)


def _with(p: ObjectParams, **changes: object) -> ObjectParams:
    fields = dict(p.__dict__)
    fields.update(changes)
    return ObjectParams(**fields)


def generate_video_frames(
    seed: int,
    seconds: float = 15.0,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    condition: str | None = None,
    scene: str | None = None,
) -> Iterator[tuple[int, np.ndarray, list[Annotation]]]:
    """(frame index, BGR frame, annotations) for every frame of the seeded video; size is (width, height).

    `condition` forces the light (day, dusk, night) and `scene` the background kind (street, indoor,
    park, texture); both are random from the seed when None.
    """
    width, height = size
    if seconds <= 0 or fps <= 0:
        raise ValueError(f"seconds and fps must be positive, got {seconds} and {fps}")
    rng = np.random.default_rng([_VIDEO_STREAM, int(seed)])
    look = sample_look(rng, jpeg=False, condition=condition)
    world = _World(rng, width, height, seconds, scene)
    n_frames = int(round(seconds * fps))
    light_amp, light_period, light_phase = rng.uniform(0.0, 0.2), rng.uniform(6, 20), rng.uniform(0, 2 * math.pi)
    cloud = value_noise(rng, 64 * 3, 48, 12) if look.condition == "day" and rng.random() < 0.6 else None
    for i in range(n_frames):
        t = i / fps
        frame, anns = world.render(t)
        gain = 1.0 + light_amp * math.sin(2 * math.pi * t / light_period + light_phase)
        shadow = None
        if cloud is not None:
            c0 = int(t * 6) % (cloud.shape[1] - 64)
            shadow = 1.0 - 0.35 * np.clip(cloud[:, c0 : c0 + 64] * 2 - 0.8, 0, 1)
        yield i, apply_look(frame, look, rng, gain_scale=gain, shadow=shadow), anns
        world.step(t, 1.0 / fps)


def video_coco_path(video_path: str | Path) -> Path:
    """Ground truth path beside a video: `demo.mp4` -> `demo.coco.json`."""
    p = Path(video_path)
    return p.with_name(p.stem + ".coco.json")


def write_video(
    path: str | Path,
    seed: int,
    seconds: float = 15.0,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    condition: str | None = None,
    scene: str | None = None,
    codec: str = "h264",
    crf: int = 23,
) -> Path:
    """Write the seeded video and its COCO ground truth beside it (`x.mp4` -> `x.coco.json`).

    `codec` is "h264" (needs the ffmpeg program; small files) or "mp4v" (OpenCV alone; large files).
    Image ids are frame indices; file names are `frame_000123`. Returns the COCO JSON path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    coco = CocoBuilder(
        "edge-sdk generated video",
        {
            "video": path.name,
            "seed": seed,
            "fps": fps,
            "seconds": seconds,
            "width": size[0],
            "height": size[1],
            "condition": condition,
            "scene": scene,
            "codec": codec,
            "crf": crf if codec == "h264" else None,
        },
    )
    try:
        with VideoFileWriter(tmp, fps, size, codec=codec, crf=crf) as writer:
            for i, frame, anns in generate_video_frames(seed, seconds, fps, size, condition, scene):
                writer.write(frame)
                coco.add_image(i, f"frame_{i:06d}", size[0], size[1], anns, frame_index=i, timestamp_s=round(i / fps, 4))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return coco.write(video_coco_path(path))
