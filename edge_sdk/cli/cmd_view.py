"""`edge-sdk view`: watch the live annotated preview of a running daemon (`preview:` in its config)."""

from __future__ import annotations

import argparse
import os
import sys

COMMAND = "view"
HELP = "watch a camera's live annotated preview (MJPEG over HTTP; preview.enabled in the config)"
EPILOG = """examples:
  edge-sdk view --config app.yaml                      a window per the first camera where a display exists
  edge-sdk view --config app.yaml --camera cam1        another camera
  edge-sdk view --url http://127.0.0.1:8090 --save now.jpg     save the latest frame (no display needed)

Without a display it prints the stream's URL (open it in a browser or VLC) unless --save is given."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="the app's YAML config (preview.host, preview.port, cameras)")
    p.add_argument("--url", help="the preview's base URL instead of --config, e.g. http://127.0.0.1:8090")
    p.add_argument("--camera", help="camera name (default: the first)")
    p.add_argument("--save", metavar="FILE.jpg", help="save the latest annotated frame and exit")


def _base(args: argparse.Namespace) -> tuple[str, str]:
    from edge_sdk.errors import ConfigError

    if args.url:
        if not args.camera:
            raise ConfigError("--url needs --camera", fix="e.g. edge-sdk view --url http://127.0.0.1:8090 --camera cam0")
        return args.url.rstrip("/"), args.camera
    if not args.config:
        raise ConfigError("give --config app.yaml or --url", fix="e.g. edge-sdk view --config configs/demo.yaml")
    from edge_sdk.config import load_config

    cfg = load_config(args.config)
    if not cfg.preview.enabled:
        raise ConfigError("the preview is off in this config", where="preview.enabled",
                          fix="set preview: {enabled: true} and restart the daemon")
    host = "127.0.0.1" if cfg.preview.host in ("0.0.0.0", "::") else cfg.preview.host
    return f"http://{host}:{cfg.preview.port}", args.camera or cfg.sources[0].name


def run(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    from edge_sdk.atomic import write_bytes_atomic
    from edge_sdk.errors import EdgeSdkError

    base, camera = _base(args)
    stream = f"{base}/{camera}.mjpg"
    try:
        if args.save:
            with urllib.request.urlopen(f"{base}/{camera}.jpg", timeout=15) as resp:
                write_bytes_atomic(args.save, resp.read())
            print(f"saved {args.save} from {base}/{camera}.jpg", file=sys.stderr)
            return 0
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            print(f"no display here: open {stream} in a browser or VLC (or use --save FILE.jpg)")
            return 0
        import cv2

        cap = cv2.VideoCapture(stream)
        if not cap.isOpened():
            raise EdgeSdkError(f"cannot open {stream}", fix="is the daemon running with preview.enabled?")
        print(f"showing {stream}; press q to quit", file=sys.stderr)
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            cv2.imshow(f"edge-sdk {camera}", frame)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
        cap.release()
        cv2.destroyAllWindows()
        return 0
    except (urllib.error.URLError, OSError) as exc:
        raise EdgeSdkError(f"cannot reach the preview at {base}: {exc}", where=stream,
                           fix="start the daemon with preview.enabled (and check preview.host/port)") from exc
