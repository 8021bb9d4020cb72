"""tools/gpu/run_all.sh, the one command the GPU machine runs: valid bash whose every step can be asked for by
name, and its summary (the PASS/FAIL/SKIP table and run_all.json) from the steps' records and pytest reports."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools/gpu/run_all.sh"


def summarize() -> ModuleType:
    spec = importlib.util.spec_from_file_location("summarize", ROOT / "tools/gpu/summarize.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_is_valid_bash_and_every_default_step_exists() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    text = SCRIPT.read_text()
    default = re.search(r'ONLY=\$\{ONLY:-([^}]*)\}', text)
    assert default is not None
    defined = set(re.findall(r"^\s*(?:EDGE_SDK_KERNELS=\w+ )?(?:step|pytest_step) (\w+)", text, re.M))
    assert set(default.group(1).split()) == defined
    documented = set(re.findall(r"^#   (\w+)\s{2,}", text, re.M))
    assert defined <= documented


@pytest.mark.parametrize(("counts", "status"), [((5, 0, 0, 1), "PASS"), ((5, 1, 0, 0), "FAIL"), ((4, 0, 0, 4), "SKIP"),
                                                ((3, 0, 1, 0), "FAIL")])
def test_pytest_reports_become_step_results(tmp_path: Path, counts: tuple[int, int, int, int], status: str) -> None:
    tests, failures, errors, skipped = counts
    xml = tmp_path / "r.xml"
    xml.write_text(f'<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" '
                   f'skipped="{skipped}"/></testsuites>')
    assert summarize().junit_status(xml).split("\t")[0] == status
    assert summarize().junit_status(tmp_path / "missing.xml").startswith("FAIL")


def test_summary_writes_the_table_and_json_with_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "steps.tsv").write_text("env\tPASS\t1\tH100\nbench\tFAIL\t60\tpipeline / engine-only 0.85\n"
                                        "runs\tSKIP\t0\tno onnxruntime-gpu\n")
    (tmp_path / "bench_gpu.json").write_text(json.dumps({"engine_fps": 800.0, "pipeline_fps": 680.0,
                                                         "pipeline_over_engine": 0.85}))
    assert summarize().main([str(tmp_path)]) == 1
    report = json.loads((tmp_path / "run_all.json").read_text())
    assert report["ok"] is False and [s["status"] for s in report["steps"]] == ["PASS", "FAIL", "SKIP"]
    assert report["figures"]["bench"]["pipeline_over_engine"] == 0.85
    out = capsys.readouterr().out
    assert "1 PASS, 1 FAIL, 1 SKIP" in out and re.search(r"^bench +FAIL +60 +pipeline", out, re.M)


def test_the_batching_targets_are_judged_from_the_grid(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("batch_targets", ROOT / "tools/gpu/batch_targets.py")
    assert spec and spec.loader
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)

    def cell(cameras: int, batch: int, fps: float, engine: float, fairness: float = 0.97) -> dict[str, object]:
        return {"cameras": cameras, "batch": batch, "fps": fps, "engine_fps": engine, "fairness": fairness,
                "pipeline_over_engine": round(fps / engine, 4)}

    good = [cell(8, 1, 1000, 1050), cell(8, 8, 2500, 2700), cell(2, 8, 900, 2700, 0.95)]
    assert all(ok for _, ok, _ in targets.checks(good))
    bad = [cell(8, 1, 1000, 1050), cell(8, 8, 1900, 2700), cell(2, 1, 500, 1050, 0.8)]
    verdict = {name: ok for name, ok, _ in targets.checks(bad)}
    assert verdict == {"throughput": False, "pipeline/engine batch 1": True, "pipeline/engine batch 8": False,
                       "fairness": False}
    (tmp_path / "grid.json").write_text(json.dumps({"cells": bad}))
    assert targets.main([str(tmp_path / "grid.json")]) == 1
    (tmp_path / "steps.tsv").write_text("batch_bench\tFAIL\t90\tthroughput\n")
    (tmp_path / "batch_gpu.json").write_text(json.dumps({"cells": good}))
    summarize().main([str(tmp_path)])
    report = json.loads((tmp_path / "run_all.json").read_text())
    assert [c["batch"] for c in report["figures"]["batch_gpu"]] == [1, 8, 8]


def test_the_bench_verdict_says_the_ratio_against_the_target_with_the_card(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_verdict", ROOT / "tools/gpu/bench_verdict.py")
    assert spec and spec.loader
    verdict = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verdict)
    bench = {"engine_fps": 843.0, "pipeline_fps": 780.0, "pipeline_over_engine": 0.9253, "pipeline_frames": 1500,
             "info": {"engine": "onnxruntime", "device": "cuda:0", "batch": 1},
             "repeats": [{"engine_fps": 843.0, "pipeline_fps": 780.0, "pipeline_over_engine": 0.9253}],
             "cpu_ms_per_frame": {"capture-cam0": 0.41, "decode-publish": 0.35, "total machine": 2.1}}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    assert verdict.main([str(tmp_path / "bench.json"), "--card", "NVIDIA H100 80GB HBM3"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("RESULT pipeline/engine-only 0.925 (target 0.90: met)") and "H100" in last
    assert "batch 1" in last and "780.0 fps vs engine-only 843.0 fps" in last
    (tmp_path / "bench.json").write_text(json.dumps({**bench, "pipeline_over_engine": 0.69}))
    assert verdict.main([str(tmp_path / "bench.json")]) == 1
    assert "NOT met" in capsys.readouterr().out
    assert verdict.main([str(tmp_path / "missing.json")]) == 1


def test_host_path_runs_with_bench_and_a_step_result_line_becomes_its_detail(tmp_path: Path) -> None:
    """Dry run of the script with ONLY="bench": no GPU here, so env and bench say so; host_path is added (stubbed:
    a fake python3 that only answers the script's own calls) and each step's RESULT line is its detail."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/usr/bin/env bash\ncase "$*" in\n'
                                  '  *bench_host_path.py*) echo "RESULT host ceiling 2500 fps"; exit 0;;\n'
                                  '  *summarize.py*) exec ' + sys.executable + ' "$@";;\n'
                                  '  *) echo 0;;\nesac\n')
    (fake / "python3").chmod(0o755)
    out = tmp_path / "out"
    env = {"PATH": f"{fake}:/usr/bin:/bin", "OUT": str(out), "ONLY": "bench", "HOME": str(tmp_path)}
    subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    rows = [line.split("\t") for line in (out / "steps.tsv").read_text().splitlines()]
    assert [r[0] for r in rows] == ["bench", "host_path"]
    assert rows[0][1] == "SKIP" and rows[1][1] == "PASS" and rows[1][3] == "host ceiling 2500 fps"


def run_batch_bench(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The batch_bench step alone, as the GPU machine runs it, with this venv's python as python3."""
    import os

    out = tmp_path / "out"
    environ = {**os.environ, "OUT": str(out), "ONLY": "batch_bench", "PATH": f"{Path(sys.executable).parent}:"
               f"{os.environ['PATH']}", **env}
    res = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)
    return res, (out / "steps.tsv").read_text().strip().split("\t")


def test_the_batch_grid_without_a_gpu_onnxruntime_skips_and_says_it_measured_nothing(tmp_path: Path) -> None:
    res, (name, status, _, detail) = run_batch_bench(tmp_path)
    assert (name, status) == ("batch_bench", "SKIP") and res.returncode == 0, res.stdout + res.stderr
    assert "no CUDAExecutionProvider" in detail and "NOT measured" in detail
    assert not list((tmp_path / "out").glob("batch_*.json"))


def test_the_batch_grid_dry_run_on_the_cpu_goes_through_the_whole_step_and_still_skips(tmp_path: Path,
                                                                                        sample_video: Path) -> None:
    """BATCH_DRY=cpu: the batch-taking copy, the configs, the grid, its JSON, the targets and the summary's table,
    on ONNX Runtime's CPU provider and a tiny model; SKIP (a CPU figure is never a GPU result)."""
    from tests.support.onnx_models import per_image_model

    model = per_image_model(tmp_path / "per-image.onnx")
    res, (name, status, _, detail) = run_batch_bench(
        tmp_path, BATCH_DRY="cpu", MODEL=str(model), VIDEO=str(sample_video), BATCH_CAMERAS="1,2", BATCH_SIZES="1,2",
        BATCH_FRAMES="6")
    assert (name, status) == ("batch_bench", "SKIP") and "DRY RUN on the CPU" in detail, res.stdout + res.stderr
    grid = json.loads((tmp_path / "out" / "batch_cpu_dry.json").read_text())
    assert grid["complete"] and grid["providers"] == ["CPUExecutionProvider"]
    assert [(c["cameras"], c["batch"], c["engine_batch"]) for c in grid["cells"]] == [(1, 1, 1), (2, 1, 1), (1, 2, 2),
                                                                                     (2, 2, 2)]
    log = (tmp_path / "out" / "logs" / "batch_bench.log").read_text()
    assert re.search(r"^(PASS|FAIL) throughput: 8 cameras|^SKIP throughput", log, re.M)  # the targets were judged
    assert "batch_cpu_dry: onnxruntime ['CPUExecutionProvider'] on cpu" in res.stdout  # the summary's table
    assert re.search(r"^2 +2 +2 ", res.stdout, re.M)
