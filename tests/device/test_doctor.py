"""`edge-sdk doctor` on copies of a Jetson's files (root prefix) and on this machine, with a real Mosquitto.

TensorRT, CUDA and pycuda are absent here: on a Jetson root their checks must FAIL with the fix, elsewhere
WARN. Where a check needs a TensorRT version, it is injected as a plain string (a stand-in for the probe)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from edge_sdk.device import probes
from edge_sdk.device.doctor import Check, DoctorInput, run_doctor
from tests.device.jetson_files import MODELS, make_root
from tests.support.broker import MosquittoBroker, free_port


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def jetson(tmp_path: Path, release: str = "R36.4.3", model: str = MODELS["orin-agx"]) -> Path:
    root = make_root(tmp_path / "root", release, model, videos=2)
    (root / "usr/local/cuda").mkdir(parents=True)
    (root / "usr/local/cuda/version.json").write_text('{"cuda": {"name": "CUDA SDK", "version": "12.6.68"}}')
    return root


def test_jetson_without_tensorrt_fails_with_the_jetpack_fix(tmp_path: Path) -> None:
    checks = by_name(run_doctor(DoctorInput(root=jetson(tmp_path))))
    assert checks["board"].status == "OK" and checks["board"].detail == MODELS["orin-agx"]
    assert checks["L4T/JetPack"].status == "OK" and checks["L4T/JetPack"].detail == "L4T R36.4.3 = JetPack 6.2"
    assert checks["device profile"].status == "OK" and checks["device profile"].detail.startswith("orin-agx")
    assert checks["TensorRT"].status == "FAIL" and "python3-libnvinfer" in (checks["TensorRT"].fix or "")
    assert checks["pycuda"].status == "FAIL" and "[jetson]" in (checks["pycuda"].fix or "")
    assert checks["CUDA"].status == "OK" and "12.6.68" in checks["CUDA"].detail
    assert checks["DLA"].status == "OK" and checks["DLA"].detail.startswith("2 cores (profile)")
    assert checks["cameras"].status == "OK" and "csi://0" in checks["cameras"].detail and "v4l2:///dev/video1" in \
        checks["cameras"].detail
    assert checks["memory"].status == "OK" and "62827 MiB total" in checks["memory"].detail
    if shutil.which("nvpmodel") is None:
        assert checks["power mode"].status == "WARN" and "nvpmodel -m 0" in (checks["power mode"].fix or "")


def test_elsewhere_missing_tensorrt_is_only_a_warning(tmp_path: Path) -> None:
    checks = by_name(run_doctor(DoctorInput(root=tmp_path)))
    assert checks["board"].status == "OK" and "not a Jetson" in checks["board"].detail
    assert checks["TensorRT"].status == "WARN" and "onnxruntime" in (checks["TensorRT"].fix or "")
    assert checks["pycuda"].status == "WARN"
    assert checks["device profile"].detail.startswith("cpu")
    assert checks["cameras"].status == "WARN" and checks["power mode"].detail == "n/a (not a Jetson)"
    assert checks["MQTT broker"].status == "WARN" and "--broker" in (checks["MQTT broker"].fix or "")
    # setup.py built the native op here (CI installs gcc); the code path is what this CPU can run
    vbmi = "avx512vbmi" in Path("/proc/cpuinfo").read_text()
    assert checks["native ops"].status == "OK"
    assert checks["native ops"].data["byte_lookup"] == ("avx512vbmi" if vbmi else "scalar")


def test_an_install_without_the_native_op_is_told_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_sdk.device.doctor import check_native_ops
    from edge_sdk.engines import ops

    monkeypatch.setattr(ops, "byte_lookup_library", lambda: None)
    check = check_native_ops()
    assert check.status == "WARN" and "gcc" in (check.fix or "") and "two passes" in check.detail


@pytest.mark.parametrize(("version", "status", "text"), [
    ("10.3.0.30", "OK", "10.3.0.30 (API path 10)"), ("8.6.2.3", "WARN", "JetPack 6.2 ships 10.3"),
    ("8.5.2.2", "FAIL", "not supported")])
def test_tensorrt_version_is_checked_against_jetpack(version: str, status: str, text: str, tmp_path: Path) -> None:
    check = by_name(run_doctor(DoctorInput(root=jetson(tmp_path), tensorrt_version=lambda: version)))["TensorRT"]
    assert check.status == status and text in check.detail


def test_old_jetpack_and_wrong_profile_are_reported(tmp_path: Path) -> None:
    checks = by_name(run_doctor(DoctorInput(root=jetson(tmp_path, "R35.4.1"), device="orin-nano")))
    assert checks["L4T/JetPack"].status == "FAIL" and "JetPack 5.1.2" in checks["L4T/JetPack"].detail
    assert checks["device profile"].status == "WARN"
    assert "config says orin-nano but this board is orin-agx" in checks["device profile"].detail
    unknown = by_name(run_doctor(DoctorInput(root=jetson(tmp_path / "x", model="NVIDIA Jetson Xavier NX"))))
    assert unknown["device profile"].status == "FAIL" and unknown["DLA"].status == "WARN"


def test_broker_reachable_refused_and_absent(tmp_path: Path, broker: MosquittoBroker) -> None:
    ok = by_name(run_doctor(DoctorInput(root=tmp_path, broker=("127.0.0.1", broker.port))))["MQTT broker"]
    assert ok.status == "OK" and "CONNACK: accepted" in ok.detail
    closed = by_name(run_doctor(DoctorInput(root=tmp_path, broker=("127.0.0.1", free_port()))))["MQTT broker"]
    assert closed.status == "FAIL" and "mosquitto" in (closed.fix or "")
    locked = MosquittoBroker(tmp_path / "locked", extra_conf="allow_anonymous false").start()
    try:
        auth = by_name(run_doctor(DoctorInput(root=tmp_path, broker=("127.0.0.1", locked.port))))["MQTT broker"]
    finally:
        locked.stop()
    assert auth.status == "WARN" and "not authorized" in auth.detail and "mqtt.username" in (auth.fix or "")


def test_low_disk_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "disk_free_mb", lambda path: (path, 512))
    assert by_name(run_doctor(DoctorInput(root=tmp_path)))["disk"].status == "FAIL"
    monkeypatch.setattr(probes, "disk_free_mb", lambda path: (path, 3000))
    assert by_name(run_doctor(DoctorInput(root=tmp_path)))["disk"].status == "WARN"


def test_cli_json_and_exit_status(tmp_path: Path, broker: MosquittoBroker, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json", "--root", str(jetson(tmp_path)), "--broker", f"127.0.0.1:{broker.port}"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["TensorRT"]["status"] == "FAIL" and checks["MQTT broker"]["status"] == "OK"
    assert set(checks) >= {"board", "L4T/JetPack", "TensorRT", "CUDA", "pycuda", "DLA", "OpenCV/GStreamer", "cameras",
                           "MQTT broker", "disk"}
    assert main(["doctor", "--root", str(tmp_path / "plain")]) == 0
    out = capsys.readouterr().out
    assert "WARN  TensorRT" in out and "fix:" in out
    assert main(["doctor", "--broker", "host:notaport"]) == 2


def test_cli_reads_broker_and_device_from_a_config(tmp_path: Path, broker: MosquittoBroker,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device: cpu\nsources:\n  - name: cam0\n    uri: file://v.mp4\nmqtt:\n  host: 127.0.0.1\n"
                   f"  port: {broker.port}\n")
    assert main(["doctor", "--json", "--config", str(cfg), "--root", str(tmp_path / "plain")]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["MQTT broker"]["data"] == {"host": "127.0.0.1", "port": broker.port}
    assert checks["device profile"]["data"]["profile"] == "cpu"


def test_run_checks_for_provisioning_marks_required_failures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edge_sdk.device import doctor

    real = doctor.run_doctor
    monkeypatch.setattr(doctor, "run_doctor", lambda inp: real(DoctorInput(root=jetson(tmp_path), device=inp.device)))
    checks = by_name(doctor.run_checks("orin-agx"))
    assert checks["TensorRT"].required and not checks["TensorRT"].ok
    assert not checks["MQTT broker"].required and checks["MQTT broker"].ok
