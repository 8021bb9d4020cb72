"""The last part of tools/gpu/run_all.sh: one PASS/FAIL/SKIP table of its steps, and $OUT/run_all.json with every
step (status, seconds, detail, log) and the figures the steps wrote (bench, host path, runner bench, kernels,
selftest).

    python tools/gpu/summarize.py OUT_DIR        # reads OUT_DIR/steps.tsv and the JSON files the steps wrote
    python tools/gpu/summarize.py --junit X.xml  # one pytest run's result: "PASS|FAIL|SKIP<TAB>counts"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge_sdk.atomic import write_json_atomic

#: the many-camera grids tools/gpu/run_all.sh's batch_bench writes (batch_cpu_dry: BATCH_DRY=cpu, no GPU figure)
GRIDS = ("batch_gpu", "batch_gpu_trt", "batch_cpu_dry")


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def steps(out: Path) -> list[dict[str, Any]]:
    rows = []
    for line in (out / "steps.tsv").read_text(encoding="utf-8").splitlines():
        name, status, seconds, detail = (line.split("\t") + ["", "", "", ""])[:4]
        rows.append({"step": name, "status": status, "seconds": float(seconds or 0), "detail": detail,
                     "log": f"logs/{name}.log"})
    return rows


def figures(out: Path) -> dict[str, Any]:
    """The numbers worth re-recording, from the JSON files the steps wrote (absent ones are left out)."""
    fig: dict[str, Any] = {}
    bench = load(out / "bench_gpu.json")
    if isinstance(bench, dict):
        fig["bench"] = {k: bench.get(k) for k in ("engine_fps", "pipeline_fps", "pipeline_over_engine",
                                                  "engine_ms_p50", "engine_ms_p99", "repeats", "cpu_ms_per_frame")}
        fig["bench"]["info"] = bench.get("info")
    host = load(out / "host_path.json")  # the host side of the GPU path on this machine's CPU (bench_host_path.py)
    if isinstance(host, dict):
        fig["host_path"] = {"machine": host.get("machine"), "host_ceiling_fps": host.get("host_ceiling_fps"),
                            "us_per_frame": [{k: r.get(k) for k in ("stage", "what", "cpu_us", "wall_us")}
                                             for r in host.get("rows", [])]}
    runner = load(out / "runner_bench.json")
    if isinstance(runner, dict) and isinstance(runner.get("demo"), dict):
        demo = runner["demo"]
        fig["runner_demo"] = {k: v for k, v in demo.items() if k.endswith("_fps") or k.endswith("_vs_engine_only")
                              or k == "stage_ms"}
    if isinstance(runner, dict) and isinstance(runner.get("environment"), dict):
        fig["environment"] = runner["environment"]
    selftest = load(out / "selftest.json")
    if isinstance(selftest, dict):
        fig["selftest"] = {s["name"]: s["result"] for s in selftest.get("steps", [])}
        kernels = next((s for s in selftest.get("steps", []) if s["name"] == "GPU kernels"), None)
        if kernels:
            fig["kernels"] = kernels.get("data")
    for name in GRIDS:  # many cameras, batched: one row per (cameras, batch)
        grid = load(out / f"{name}.json")
        if isinstance(grid, dict):
            fig[name] = [{k: c.get(k) for k in ("cameras", "batch", "engine_batch", "batch_size_mean", "fps",
                                                "detections_per_s", "fairness", "latency_ms_p99", "engine_fps",
                                                "pipeline_over_engine")} for c in grid.get("cells", [])]
    runs = {p.stem.removeprefix("run_"): load(p) for p in sorted(out.glob("run_*.json"))}
    if runs:
        fig["runs"] = runs
    return fig


def print_grid(out: Path, name: str) -> None:
    """The grid's table as `edge-sdk bench --cameras` prints it, and #23's targets judged on it."""
    from dataclasses import fields

    from edge_sdk.bench.cameras import TABLE_HEADERS, Cell, table_rows
    from edge_sdk.bench.table import format_table

    grid = load(out / f"{name}.json")
    if not isinstance(grid, dict) or not grid.get("cells"):
        return
    known = {f.name for f in fields(Cell)}
    cells = [Cell(**{k: v for k, v in c.items() if k in known}) for c in grid["cells"]]
    machine = grid.get("machine", {})
    state = "complete" if grid.get("complete", True) else "CUT SHORT (the cells it finished)"
    print(f"\n{name}: {grid.get('engine')} {grid.get('providers')} on {cells[0].device or '?'}; host {machine.get('cpu')} "
          f"({machine.get('cores')} cores, load {machine.get('load_1min_before')}); "
          f"{grid.get('frames_per_camera')} results per camera per cell; {state}")
    print(format_table(TABLE_HEADERS, table_rows(cells)))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from batch_targets import checks

    for check, passed, detail in checks(grid["cells"]):
        print(f"{'SKIP' if passed is None else 'PASS' if passed else 'FAIL'} {check}: {detail}")


def junit_status(path: Path) -> str:
    """PASS (tests ran, none failed), SKIP (all skipped: no GPU, no onnxruntime-gpu), FAIL, with the counts."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        return f"FAIL\tno pytest report ({exc})"
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return "FAIL\tempty pytest report"
    n = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    counts = f"{passed} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped"
    if n["failures"] or n["errors"]:
        return f"FAIL\t{counts}"
    return f"{'PASS' if passed else 'SKIP'}\t{counts}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--junit"]:
        print(junit_status(Path(argv[1])))
        return 0
    out = Path(argv[0]) if argv else Path("out")
    rows = steps(out)
    report = {"ok": all(r["status"] != "FAIL" for r in rows), "steps": rows, "figures": figures(out),
              "gpu": (out / "gpu.txt").read_text(encoding="utf-8").strip() if (out / "gpu.txt").exists() else None}
    write_json_atomic(out / "run_all.json", report)
    bench = report["figures"].get("bench")
    if bench:
        print(f"\nedge-sdk bench (GPU): engine-only {bench.get('engine_fps') or 0:.1f} fps on the runner's sessions, "
              f"pipeline {bench.get('pipeline_fps') or 0:.1f} fps, ratio {bench.get('pipeline_over_engine')}")
    for name in GRIDS:
        print_grid(out, name)
    print()
    width = max([len(r["step"]) for r in rows] + [4])
    print(f"{'step':<{width}}  result  {'s':>5}  detail")
    for r in rows:
        print(f"{r['step']:<{width}}  {r['status']:<6}  {r['seconds']:>5.0f}  {r['detail'][:150]}")
    counts = {s: sum(r["status"] == s for r in rows) for s in ("PASS", "FAIL", "SKIP")}
    print(f"\n{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['SKIP']} SKIP; {out / 'run_all.json'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
