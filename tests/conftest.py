"""Shared fixtures: a real Mosquitto broker, paths to the bundled model and sample."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "models" / "demo" / "yolo-demo.onnx"
SAMPLE_VIDEO = ROOT / "samples" / "demo.mp4"
SAMPLE_GT = ROOT / "samples" / "demo.coco.json"


def _terminate_as_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """A test run stopped with SIGTERM (`timeout`, a CI runner) tears down like Ctrl-C: fixtures stop the brokers,
    daemons and servers they started, instead of leaving them running (SIGTERM's default ends Python at once)."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh Mosquitto on a free loopback port, stopped after the test."""
    b = MosquittoBroker(tmp_path / "broker").start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def demo_model() -> Path:
    if not DEMO_MODEL.exists():
        pytest.fail(f"the bundled demo model is missing: {DEMO_MODEL}")
    return DEMO_MODEL


@pytest.fixture(scope="session")
def sample_video() -> Path:
    if not SAMPLE_VIDEO.exists():
        pytest.fail(f"the bundled sample video is missing: {SAMPLE_VIDEO}")
    return SAMPLE_VIDEO
