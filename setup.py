"""edge-sdk packaging.

`pip install .` gets the CPU path everywhere. On a Jetson (detected by /etc/nv_tegra_release) or when
EDGE_SDK_SYSTEM_OPENCV=1, OpenCV is NOT installed from pip, so JetPack's GStreamer-enabled OpenCV
(python3-opencv / nvidia-opencv) is never shadowed by a pip wheel without GStreamer.
TensorRT always comes from the system (JetPack's python3-libnvinfer); the `jetson` extra adds pycuda.
"""

import os
from pathlib import Path

from setuptools import Extension, find_namespace_packages, setup

SYSTEM_OPENCV = Path("/etc/nv_tegra_release").exists() or os.environ.get("EDGE_SDK_SYSTEM_OPENCV") == "1"

install_requires = [
    "cryptography>=41",  # Ed25519 signatures of model bundles (edge_sdk/fleet/keys.py); JetPack: python3-cryptography
    "numpy>=1.24",
    "onnx>=1.15",
    "onnxruntime>=1.17",
    "paho-mqtt>=2.0,<3",
    "pycocotools>=2.0.7",  # COCO mAP for the INT8 accuracy gate and evaluation (a kept library, not our own mAP)
    "pydantic>=2.6,<3",
    "pyyaml>=6.0",
    "tqdm>=4.66",
]
if not SYSTEM_OPENCV:
    install_requires.append("opencv-python>=4.8")

# ONNX Runtime custom op for the INT8 CPU form (edge_sdk/engines/ops/byte_lookup.c): a plain shared library that
# ONNX Runtime loads, not a Python module. Optional: without a C compiler the install goes on and the graph
# rewrite that uses it says it is unavailable (INT8 models then run their SiLU in two passes).
byte_lookup = Extension("edge_sdk.engines.ops._byte_lookup", sources=["edge_sdk/engines/ops/byte_lookup.c"],
                        extra_compile_args=["-O2", "-fvisibility=hidden", "-std=c11"], libraries=["pthread"],
                        optional=True)

setup(
    name="edge-sdk",
    version="0.1.0",
    description="Detection models from ONNX to a supervised INT8 TensorRT service on NVIDIA Jetson Orin",
    long_description=Path("README.md").read_text(encoding="utf-8") if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # Namespace discovery, so the data folders (schemas/, cuda/prebuilt/) are packages of their own and setuptools
    # does not warn about each; tools/ and tests/ are not installed.
    packages=find_namespace_packages(include=["edge_sdk", "edge_sdk.*"], exclude=["*.__pycache__"]),
    # The same list is edge_sdk/provision/steps/service_env.py's PACKAGE_DATA (what provision compares to decide
    # whether the service's venv runs this code; a test keeps the two equal). byte_lookup.c is installed so that a
    # change of the native op is seen there too.
    package_data={"edge_sdk": ["py.typed", "schemas/*.json", "cuda/letterbox.cu", "cuda/prebuilt/*",
                               "engines/ops/byte_lookup.c"]},
    include_package_data=True,
    # Device profiles, the demo model and the sample video live at the top of the source tree; installed copies go
    # to <prefix>/share/edge-sdk/, where `edge-sdk selftest` finds the model and video outside a checkout (~13 MB).
    data_files=[("share/edge-sdk/device_configs", sorted(str(p) for p in Path("device_configs").glob("*.yaml"))),
                ("share/edge-sdk/models/demo", ["models/demo/yolo-demo.onnx", "models/demo/MODEL_CARD.md"]),
                ("share/edge-sdk/samples", ["samples/demo.mp4"])],
    ext_modules=[byte_lookup],
    install_requires=install_requires,
    extras_require={
        # pycuda builds against the CUDA toolkit JetPack installs; TensorRT comes from python3-libnvinfer.
        # onnxconverter-common: FP16 conversion of the ONNX for TensorRT 11's strongly typed networks.
        "jetson": ["pycuda>=2024.1", "onnxconverter-common>=1.14"],
        "gpu": ["pycuda>=2024.1"],
        # PyGObject for the GStreamer appsink read path in a virtual environment (JetPack's system Python has
        # python3-gi); <3.50 because 3.50+ needs GLib 2.80's girepository-2.0 (Debian 12, Ubuntu 22.04 lack it).
        "gst": ["PyGObject>=3.42,<3.50"],
        # nvidia-cuda-nvrtc-cu12: NVIDIA's run-time CUDA compiler (a library, no GPU needed), so CI compiles the GPU
        # preprocess kernels (edge_sdk/cuda/letterbox.cu) with the NVRTC the committed fatbin was built with.
        "test": ["pytest>=8", "pytest-timeout>=2.3", "jsonschema>=4.20", "faster-coco-eval>=1.6", "pycocotools>=2.0.7",
                 "PyGObject>=3.42,<3.50", "onnxconverter-common>=1.14",
                 # tracking metrics (MOTA, IDF1, ID switches) for tools/bench_tracking.py and its tests; scipy comes
                 # with it and checks the tracker's own assignment solver
                 "motmetrics>=1.4",
                 # renders the Home Assistant discovery templates as Home Assistant does (tests/events)
                 "Jinja2>=3.1",
                 "nvidia-cuda-nvrtc-cu12==12.2.140; platform_machine == 'x86_64'"],
        "dev": ["mypy>=1.10", "ruff>=0.5", "types-PyYAML"],
        # tools/bench_build.py: NNCF's post-training quantization, the build-time reference (ONNX backend, no torch)
        "bench": ["nncf>=2.12"],
    },
    entry_points={"console_scripts": ["edge-sdk=edge_sdk.cli.main:main"]},
    classifiers=["Programming Language :: Python :: 3", "Operating System :: POSIX :: Linux"],
)
