"""A real RTSP server for the source tests: GStreamer's gst-rtsp-server serving a live H.264 test pattern.

Run as its own process (the tests kill, stop and restart it): `python serve_rtsp.py PORT [WIDTH HEIGHT FPS]`.
Prints `ready PORT` once listening on 127.0.0.1. Needs PyGObject with the Gst and GstRtspServer typelibs
(gir1.2-gst-rtsp-server-1.0), and x264enc (gstreamer1.0-plugins-ugly). Standalone: imports nothing of edge_sdk,
so it also runs under Debian's /usr/bin/python3 with python3-gi.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port = sys.argv[1]
    width, height, fps = (sys.argv[2:5] + ["320", "240", "15"][len(sys.argv[2:5]):])[:3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},"
                       f"framerate={fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
                       "! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
