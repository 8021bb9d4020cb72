"""Command line: `python -m tools.scenes stills --out DIR --seeds A:B` or `... video --out F.mp4 --seed S`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tools.scenes.background import SCENE_KINDS
from tools.scenes.encode import CODECS
from tools.scenes.photometric import CONDITIONS
from tools.scenes.still import write_still_set
from tools.scenes.video import write_video


def parse_seeds(text: str) -> range:
    """`A:B` (B excluded) or a single seed `A`."""
    try:
        if ":" in text:
            a, b = (int(v.replace("_", "")) for v in text.split(":", 1))
        else:
            a = int(text.replace("_", ""))
            b = a + 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 1000:1500 or 7, got {text!r}") from None
    if b <= a or a < 0:
        raise argparse.ArgumentTypeError(f"seed range {text!r} is empty or negative")
    return range(a, b)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480, got {text!r}") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError(f"size must be at least 64x64, got {text!r}")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.scenes", description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    stills = sub.add_parser("stills", help="write still frames (PNG) and annotations.coco.json")
    stills.add_argument("--out", required=True, help="output folder")
    stills.add_argument("--seeds", required=True, type=parse_seeds, help="seed range A:B (B excluded)")
    stills.add_argument("--size", type=parse_size, default=(640, 480), help="frame size WxH (default 640x480)")
    video = sub.add_parser("video", help="write a video and its COCO ground truth (<name>.coco.json)")
    video.add_argument("--out", required=True, help="output video file, .mp4")
    video.add_argument("--seed", required=True, type=int)
    video.add_argument("--seconds", type=float, default=15.0)
    video.add_argument("--fps", type=float, default=15.0)
    video.add_argument("--size", type=parse_size, default=(640, 480), help="frame size WxH (default 640x480)")
    video.add_argument("--condition", choices=CONDITIONS, help="force the light; random from the seed by default")
    video.add_argument("--scene", choices=SCENE_KINDS, help="force the background kind; random from the seed by default")
    video.add_argument("--codec", choices=CODECS, default="h264", help="h264 needs the ffmpeg program; mp4v only OpenCV")
    video.add_argument("--crf", type=int, default=23, help="x264 constant rate factor (h264 only; lower is larger)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.mode == "stills":
            path = write_still_set(args.out, args.seeds, *args.size)
        else:
            path = write_video(
                args.out,
                args.seed,
                args.seconds,
                args.fps,
                args.size,
                args.condition,
                args.scene,
                args.codec,
                args.crf,
            )
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
