"""A publisher in its own process, for tests that kill it: publishes a paced synthetic stream and prints
`published <camera> <frame_id>` once the message is committed to the spool (`wait_spooled`).

    python -m tests.publish.publisher_proc --port P --spool FILE [--frames N] [--fps 30] [--first-frame K]

Ends after N frames per camera (then closes cleanly: drain, offline) or when killed.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spool", type=Path, required=True)
    p.add_argument("--device", default="dev1")
    p.add_argument("--cameras", default="cam0")
    p.add_argument("--frames", type=int, default=10**9)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--first-frame", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="publisher_proc %(levelname)s %(message)s")
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda s, _f: stop.append(s))
    pub = open_test_publisher(publisher_settings(args.port, args.spool, device_id=args.device))
    print("started", flush=True)
    with pub:
        next_t = time.monotonic()
        for frame_id in range(args.first_frame, args.first_frame + args.frames):
            if stop:
                break
            for cam in args.cameras.split(","):
                pub.publish_result(frame_result(cam, frame_id))
                if pub.wait_spooled(5.0):  # committed: from here on it must survive a SIGKILL
                    print(f"published {cam} {frame_id}", flush=True)
            next_t += 1.0 / args.fps
            time.sleep(max(0.0, next_t - time.monotonic()))
    print("closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
