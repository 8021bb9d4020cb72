"""Optional heavy dependencies, imported where they are used: the one helper edge-sdk uses.

`--help`, config validation and the CPU path must work where TensorRT, pycuda, GStreamer or paho-mqtt are
absent. A missing one raises `DependencyMissing` that says what needs it and how to install it on a Jetson
and elsewhere; the install lines live here, once, in `INSTALL`.

    cuda = lazy_import("pycuda.driver", needed_for="the CUDA-stream runner (GPU engines)")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from edge_sdk.errors import DependencyMissing


@dataclass(frozen=True)
class Install:
    """How to get one optional dependency."""

    package: str  # what the user installs (the PyPI or Debian name)
    jetson: str
    elsewhere: str


_ORT = Install("onnxruntime", jetson="pip install onnxruntime-gpu from the Jetson AI Lab index for your JetPack",
               elsewhere="pip install onnxruntime")
_PYCUDA = Install("pycuda", jetson="pip install 'edge-sdk[jetson]' (builds pycuda against JetPack's CUDA; put "
                                   "/usr/local/cuda/bin on PATH for the build)",
                  elsewhere="install the CUDA toolkit and an NVIDIA driver, then pip install 'edge-sdk[gpu]'")

#: top-level module -> how to install it
INSTALL: dict[str, Install] = {
    "onnxruntime": _ORT,
    "pycuda": _PYCUDA,
    "tensorrt": Install("tensorrt", jetson="sudo apt-get install python3-libnvinfer python3-libnvinfer-dev (JetPack's "
                                           "TensorRT), then use a venv made with --system-site-packages so it sees them",
                        elsewhere="x86_64 with an NVIDIA GPU: pip install tensorrt (from NVIDIA's package index); "
                                  "without an NVIDIA GPU use engine type onnxruntime"),
    "paho": Install("paho-mqtt", jetson="pip install 'paho-mqtt>=2'", elsewhere="pip install 'paho-mqtt>=2'"),
    "gi": Install("PyGObject (gi) with Gst 1.0",
                  jetson="sudo apt install python3-gi gir1.2-gstreamer-1.0 (system Python, or a venv made with "
                         "--system-site-packages)",
                  elsewhere='apt install libgirepository1.0-dev libcairo2-dev gir1.2-gstreamer-1.0 '
                            '&& pip install "PyGObject<3.50"'),
    "onnxconverter_common": Install("onnxconverter-common", jetson="pip install onnxconverter-common",
                                    elsewhere="pip install onnxconverter-common"),
    "pycocotools": Install("pycocotools", jetson="pip install pycocotools",
                           elsewhere="pip install pycocotools (or pip install 'edge-sdk[test]')"),
    "faster_coco_eval": Install("faster-coco-eval", jetson="pip install faster-coco-eval",
                                elsewhere="pip install faster-coco-eval (or pip install 'edge-sdk[test]')"),
    "cv2": Install("OpenCV", jetson="sudo apt-get install python3-opencv (JetPack's, with GStreamer) and a venv made "
                                    "with --system-site-packages",
                   elsewhere="pip install opencv-python-headless"),
}


def missing(module: str, *, needed_for: str, detail: str | None = None) -> DependencyMissing:
    """The error for an optional dependency that cannot be used (also for one that imports but is unusable)."""
    top = module.split(".")[0]
    how = INSTALL.get(top, Install(top, jetson=f"pip install {top}", elsewhere=f"pip install {top}"))
    name = how.package if detail is None else f"{how.package} ({detail})"
    return DependencyMissing(name, needed_for=needed_for, jetson=how.jetson, elsewhere=how.elsewhere)


def lazy_import(module: str, *, needed_for: str) -> ModuleType:
    """Import `module` (dotted names allowed), or raise `DependencyMissing` with the install lines.

    OSError counts as missing too: a Python package whose shared library is absent (libnvinfer.so behind a
    tensorrt wheel, libcuda.so behind pycuda) fails with it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise missing(module, needed_for=needed_for) from exc
    except (ImportError, OSError) as exc:
        raise missing(module, needed_for=needed_for, detail=f"import failed: {exc}") from exc
