"""Which GStreamer path this machine has, for the readers and for `edge-sdk doctor`.

Three ways to read a GStreamer pipeline, tried in this order:
- `opencv`: `cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)`: needs an OpenCV built with GStreamer (JetPack's
  python3-opencv / nvidia-opencv; the pip wheels have none);
- `gi`: PyGObject's appsink in this process (python3-gi and gir1.2-gstreamer-1.0 for the system Python, or
  `pip install "PyGObject<3.50"` with libgirepository1.0-dev in a virtual environment);
- `launch`: `gst-launch-1.0 ... ! fdsink` as a child process, raw BGR frames read from a pipe: needs only the
  gstreamer1.0-tools package, no Python bindings at all.
OpenCV 4.6's GStreamer backend takes no open/read timeouts (a stalled camera blocks it forever); where the
probe finds that, `auto` tries gi and gst-launch first. `probe()` reports all of it as a dict, with warnings
such as a pip OpenCV without GStreamer that shadows JetPack's. Results are cached for the process.
"""

from __future__ import annotations

import functools
import importlib.machinery
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from edge_sdk.errors import DependencyMissing
from edge_sdk.lazy import missing

log = logging.getLogger(__name__)

BACKEND_ORDER = ("opencv", "gi", "launch")
ELEMENTS = ("appsink", "fdsink", "videoconvert", "videotestsrc", "v4l2src", "rtspsrc", "decodebin", "avdec_h264",
            "avdec_h265", "nvarguscamerasrc", "nvvidconv", "nvv4l2decoder")
JETSON_RELEASE = Path("/etc/nv_tegra_release")
SYSTEM_SITE_DIRS = ("/usr/lib/python3/dist-packages", f"/usr/lib/python3.{sys.version_info.minor}/dist-packages",
                    f"/usr/local/lib/python3.{sys.version_info.minor}/dist-packages")


@functools.lru_cache(maxsize=1)
def opencv_info() -> dict[str, Any]:
    """OpenCV's version, location and video backends (`gstreamer`, `ffmpeg`, `v4l2`)."""
    try:
        import cv2
        import cv2.videoio_registry as registry
    except ImportError as exc:
        return {"available": False, "error": str(exc)}
    info: dict[str, Any] = {"available": True, "version": cv2.__version__, "path": str(Path(cv2.__file__).parent)}
    for key, api in (("gstreamer", cv2.CAP_GSTREAMER), ("ffmpeg", cv2.CAP_FFMPEG), ("v4l2", cv2.CAP_V4L2)):
        info[key] = bool(registry.hasBackend(api))
    info["pip_package"] = _pip_opencv()
    return info


def _pip_opencv() -> str | None:
    """The pip distribution that installed OpenCV (opencv-python, ...), or None (a system or source build)."""
    from importlib import metadata

    for name in ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _gcc_unwinder_first() -> None:
    """Put GCC's unwinder (libgcc_s) in the process's global symbol scope before GStreamer loads.

    GObject loads libgstreamer with RTLD_GLOBAL, and libgstreamer needs libunwind, whose _Unwind_Resume then
    serves every C++ library loaded later: ONNX Runtime's first exception after that (a graph refused at
    batch 2, a bad model) aborted the process in libunwind instead of raising (provision --device orin
    died with SIGABRT). With libgcc_s global first, exceptions unwind through it as the libraries were built."""
    import ctypes

    try:
        ctypes.CDLL("libgcc_s.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:  # not a glibc system; nothing to order
        pass


@functools.lru_cache(maxsize=1)
def gi_info() -> dict[str, Any]:
    """Whether PyGObject with the Gst 1.0 typelib imports in this interpreter, and GStreamer's version."""
    _gcc_unwinder_first()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    if not Gst.is_initialized():
        Gst.init(None)
    return {"available": True, "pygobject": ".".join(map(str, gi.version_info)), "gst_version": Gst.version_string()}


@functools.lru_cache(maxsize=1)
def launch_info() -> dict[str, Any]:
    """Where gst-launch-1.0 is and which GStreamer it runs."""
    path = shutil.which("gst-launch-1.0")
    if path is None:
        return {"available": False, "error": "gst-launch-1.0 not on PATH"}
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": False, "path": path, "error": str(exc)}
    version = next((ln.strip() for ln in out.splitlines() if ln.startswith("GStreamer")), out.strip())
    return {"available": True, "path": path, "gst_version": version}


@functools.lru_cache(maxsize=64)
def has_element(name: str) -> bool:
    """Whether the GStreamer element factory `name` is installed (via gi if present, else gst-inspect-1.0)."""
    if gi_info()["available"]:
        from gi.repository import Gst

        return Gst.ElementFactory.find(name) is not None
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is None:
        return False
    try:
        return subprocess.run([inspect, "--exists", name], capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def backend_available(name: str) -> bool:
    if name == "opencv":
        return bool(opencv_info().get("gstreamer"))
    if name == "gi":
        return bool(gi_info()["available"])
    return bool(launch_info()["available"])


@functools.lru_cache(maxsize=1)
def opencv_gst_timeouts() -> bool:
    """Whether OpenCV's GStreamer backend takes open/read timeouts (OpenCV 4.6 refuses them: its reads on a
    stalled stream block forever, so it is then tried after gi and gst-launch, which have their own)."""
    if not opencv_info().get("gstreamer"):
        return False
    import cv2

    cap = cv2.VideoCapture("videotestsrc num-buffers=1 ! videoconvert ! appsink name=probe_appsink", cv2.CAP_GSTREAMER,
                           [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 2000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 2000])
    ok = bool(cap.isOpened())
    cap.release()
    return ok


def backend_order() -> tuple[str, ...]:
    """The order `auto` tries: OpenCV first where it has GStreamer with timeouts, else after gi and gst-launch."""
    return BACKEND_ORDER if opencv_gst_timeouts() or not opencv_info().get("gstreamer") else ("gi", "launch", "opencv")


def choose_backend(requested: str = "auto") -> str:
    """The GStreamer path to use: `requested` if available (else `DependencyMissing`), or the first available."""
    if requested != "auto":
        if not backend_available(requested):
            raise _missing(requested)
        return requested
    for name in backend_order():
        if backend_available(name):
            return name
    raise _missing("launch")


def _missing(name: str) -> DependencyMissing:
    if name == "opencv":
        return DependencyMissing("OpenCV with GStreamer", needed_for="backend=opencv",
                                 jetson="sudo apt install nvidia-opencv (and pip uninstall opencv-python)",
                                 elsewhere="use backend=gi or backend=launch; pip's OpenCV has no GStreamer")
    if name == "gi":
        return missing("gi", needed_for="backend=gi")
    return DependencyMissing("GStreamer (gst-launch-1.0)", needed_for="csi://, gst:// and GStreamer RTSP sources",
                             jetson="sudo apt install gstreamer1.0-tools (part of JetPack)",
                             elsewhere="sudo apt install gstreamer1.0-tools gstreamer1.0-plugins-base "
                                       "gstreamer1.0-plugins-good gstreamer1.0-libav")


def other_opencv_installs(search_dirs: list[str] | None = None, include_system: bool = False) -> list[str]:
    """Folders holding a cv2 package other than the one Python imports (e.g. JetPack's, hidden behind pip's):
    `search_dirs`, or this interpreter's path plus, with `include_system`, the system Python's dist-packages."""
    current = opencv_info().get("path")
    found = []
    if search_dirs is None:
        search_dirs = list(dict.fromkeys(sys.path + (list(SYSTEM_SITE_DIRS) if include_system else [])))
    for folder in search_dirs:
        spec = importlib.machinery.PathFinder.find_spec("cv2", [folder]) if folder else None
        if spec is None or not spec.origin:
            continue
        location = str(Path(spec.origin).parent)
        if location != current and location not in found:
            found.append(location)
    return found


def opencv_warnings(jetson: bool, others: list[str]) -> list[str]:
    """Warnings about the OpenCV Python imports: a pip wheel without GStreamer shadowing another install."""
    cv = opencv_info()
    if not cv["available"] or cv["gstreamer"]:
        return []
    warnings = []
    if others:
        warnings.append(f"the OpenCV that Python imports ({cv['path']}) has no GStreamer and shadows another OpenCV at "
                        f"{', '.join(others)}; fix: pip uninstall opencv-python opencv-python-headless, then reinstall "
                        "edge-sdk with EDGE_SDK_SYSTEM_OPENCV=1")
    elif jetson:
        warnings.append(f"the OpenCV that Python imports ({cv['path']}) has no GStreamer; CSI and hardware-decoded RTSP "
                        "use the gi or gst-launch path instead; fix: sudo apt install nvidia-opencv and pip uninstall "
                        "opencv-python")
    return warnings


def probe(jetson: bool | None = None) -> dict[str, Any]:
    """Everything `edge-sdk doctor` shows about video input: OpenCV's backends, PyGObject, gst-launch-1.0, the
    elements that matter, the GStreamer path readers will use (`backend`, None if none) and `warnings`."""
    on_jetson = JETSON_RELEASE.exists() if jetson is None else jetson
    has_gst = launch_info()["available"] or gi_info()["available"]
    elements = {name: has_element(name) for name in ELEMENTS} if has_gst else dict.fromkeys(ELEMENTS, False)
    backend = next((name for name in backend_order() if backend_available(name)), None)
    warnings = opencv_warnings(on_jetson, other_opencv_installs(include_system=on_jetson))
    notes = []
    if opencv_info().get("gstreamer") and not opencv_gst_timeouts():
        notes.append(f"OpenCV {opencv_info()['version']}'s GStreamer backend takes no read timeout, so a stalled camera "
                     "would block it: GStreamer sources use the gi or gst-launch path first (backend=opencv forces it)")
    if backend is None:
        warnings.append("no GStreamer path: csi:// and gst:// sources cannot open; fix: " + (_missing("launch").fix or ""))
    for element, effect in (("nvv4l2decoder", "RTSP decodes on the CPU"), ("nvarguscamerasrc", "CSI cameras cannot open")):
        if on_jetson and has_gst and not elements[element]:
            warnings.append(f"{element} missing on a Jetson: {effect}; fix: sudo apt install nvidia-l4t-gstreamer")
    opencv = {**opencv_info(), "gstreamer_timeouts": opencv_gst_timeouts()}
    return {"jetson": on_jetson, "opencv": opencv, "gi": gi_info(), "gst_launch": launch_info(),
            "elements": elements, "backend": backend, "rtsp_backend": _rtsp_default(elements), "warnings": warnings,
            "notes": notes}


def _rtsp_default(elements: dict[str, bool]) -> str:
    if elements.get("nvv4l2decoder") and elements.get("rtspsrc"):
        return "gst+nvv4l2decoder"
    if opencv_info().get("ffmpeg"):
        return "ffmpeg"
    return "gst+decodebin" if elements.get("rtspsrc") else "none"
