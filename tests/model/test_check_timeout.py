"""A model whose inference never ends on real images (a spinning Loop) must not hang the model check that a
start or a reload runs: ONNX Runtime is told to stop after the check's time limit, and the check reports it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest

from edge_sdk.model.verify import CheckTimeout, run_graph, sample_input
from tests.support.onnx_models import never_ending_model


def test_a_check_inference_that_never_ends_is_stopped(tmp_path: Path) -> None:
    model = onnx.load(str(never_ending_model(tmp_path / "hang.onnx", input_shape=[1, 3, 32, 32],
                                             output_shape=[1, 6, 16])))
    # a uniform input answers at once (the loop runs zero times): the limit does not stop what finishes
    assert run_graph(model, np.zeros((1, 3, 32, 32), np.float32), timeout_s=5)[0].shape == (1, 6, 16)
    t0 = time.monotonic()
    with pytest.raises(CheckTimeout, match="within 1 s"):
        run_graph(model, sample_input((1, 3, 32, 32), "float32"), timeout_s=1.0)
    assert time.monotonic() - t0 < 30, "stopped by the limit, not by finishing"


def test_the_batch_check_of_a_never_ending_model_keeps_batch_1_and_says_why(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_sdk.model import verify
    from edge_sdk.model.prepare import PrepareRequest, prepare_model

    monkeypatch.setattr(verify, "CHECK_TIMEOUT_S", 1.0)
    path = never_ending_model(tmp_path / "hang.onnx", input_shape=[1, 3, 32, 32], output_shape=[1, 6, 16])
    prepared = prepare_model(path, PrepareRequest(batch=2), cache_dir=tmp_path / "cache")
    assert any("did not finish one check inference within 1 s" in n for n in prepared.notes), prepared.notes
