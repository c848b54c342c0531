from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def vampy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vampy", *args], capture_output=True, text=True, timeout=60)


def test_shipped_vdsr_file_is_described() -> None:
    proc = vampy("vdsp", str(REPO / "vdsp_params" / "official-vdsr-vdsp_params.json"))
    assert proc.returncode == 0, proc.stderr
    assert "ok (FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR)" in proc.stdout
    assert "resize to 256x256" in proc.stdout and "x / 255" in proc.stdout


def test_bad_files_are_listed_and_good_ones_still_described(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"OpType": "FUSION_OP_RGB_RESIZE_CVTCOLOR_NORM_TENSOR", "OpConfig": {"NormaType": "DIV256"}}')
    missing = tmp_path / "missing.json"
    proc = vampy("vdsp", str(bad), str(REPO / "vdsp_params" / "official-vdsr-vdsp_params.json"), str(missing))
    assert proc.returncode == 3
    assert "bad.json: INVALID" in proc.stdout and "DIV256" in proc.stdout
    assert "missing.json: INVALID" in proc.stdout
    assert "official-vdsr-vdsp_params.json: ok" in proc.stdout
    assert "2 of 3 vdsp file(s) invalid" in proc.stderr and "Traceback" not in proc.stderr
