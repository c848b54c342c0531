#!/usr/bin/env bash
# The GPU path measured on a real NVIDIA GPU (issue 26; docs/engines.md, "Running the GPU check").
# One script, run ONCE on a lent GPU machine from the repo root with $OUT set. It:
#   1. installs the onnxruntime-gpu wheel (joined from work/gpu_carry/wheel.part* + wheel.name, or --wheel PATH)
#      into a venv that sees the image's packages (--system-site-packages --without-pip, plus a .pth to the image
#      python's own site-packages when that python is itself a venv, as /opt/torch/.venv is; the image's pip and
#      setuptools do the installs), after `pip uninstall onnxruntime` in that venv (pip leaves the image's copy
#      alone, "outside environment"; the venv's onnxruntime comes first on sys.path);
#      then `pip install -e . --no-deps` (falls back to PYTHONPATH=. if that fails: there is no network);
#      lists in one line what vampy, the wheel and the tests need that the image lacks; checks the CUDA
#      provider loads and runs a tiny model (plain, after onnxruntime.preload_dlls(), and with the NVIDIA
#      wheels' lib folders on LD_LIBRARY_PATH: the first that works is used for the rest, and reported);
#   2. pytest tests/integration/test_gpu.py;
#   3. the VDSR reference: vampy run --provider cuda -i 1 -p 1 -b 1, -i 2, -b 4 (zoo VDSR, 3x256x256, --json);
#   4. the Set5 x4 PSNR through --provider cuda for the zoo, compiled fp32 and compiled fp16 models
#      (build/official_vdsr_fp{32,16}.yaml), and the fp32 ones on --provider cpu (fp32 must match within 0.01 dB);
#   5. the model split (host-to-device / compute / device-to-host) from the run reports.
# Into $OUT: summary.json (every figure), reports.json (every run/eval/diff/compile report), pytest.xml,
# gpu_check.log. Each step's failure is recorded and the rest go on; the whole run stays inside BUDGET_S.
#
# The data: ../shared does NOT travel to the device. `scripts/gpu_check.sh --prepare` (here) copies the VDSR
# weights and Set5 x4 into work/gpu_carry/data (ignored via .gitignore's work/); carry that folder.
#
# Usage:
#   scripts/gpu_check.sh                 on the GPU machine ($OUT set): the whole check
#   scripts/gpu_check.sh --wheel W.whl   the same with a wheel file instead of work/gpu_carry's parts
#   scripts/gpu_check.sh --dry_run       print the plan (every command, in order) and exit 0
#   scripts/gpu_check.sh --rehearse_cpu  the whole flow here with --provider cpu and this checkout's .venv
#                                        (no wheel, no GPU; small iterations): checks the script, not the GPU
#   scripts/gpu_check.sh --prepare       copy ../shared/data's VDSR weights and Set5 x4 into work/gpu_carry/data
# Env: BUDGET_S (420), ITERATIONS (2000) and DURATION_S (10) per perf run, CARRY (work/gpu_carry),
#      W (work/gpu_check: scratch), BASE_PY (python3: the image's python), VENV (/tmp/gpu_check_venv).
# Exit: 0 all steps passed; 1 some step failed (see summary.json); 3 no GPU / no CUDA provider / no wheel.
set -euo pipefail

MODE=gpu WHEEL=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry_run) MODE=dry ;;
        --rehearse_cpu) MODE=rehearse ;;
        --prepare) MODE=prepare ;;
        --wheel) WHEEL=${2:?--wheel needs a path}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

CARRY=${CARRY:-work/gpu_carry}
W=${W:-work/gpu_check}
BUDGET_S=${BUDGET_S:-420}
ITERATIONS=${ITERATIONS:-2000}
DURATION_S=${DURATION_S:-10}
BASE_PY=${BASE_PY:-python3}
VENV=${VENV:-/tmp/gpu_check_venv}
VDSP=vdsp_params/official-vdsr-vdsp_params.json
DATA=$CARRY/data

if [ "$MODE" = prepare ]; then
    src=${SHARED_DATA:-../shared/data}
    [ -f "$src/vdsr/vdsr_x234_weights.npz" ] && [ -d "$src/Set5" ] || { echo "gpu_check: no $src/vdsr or $src/Set5 here" >&2; exit 3; }
    mkdir -p "$DATA/vdsr" "$DATA/Set5"
    cp "$src/vdsr/vdsr_x234_weights.npz" "$DATA/vdsr/"
    cp "$src"/Set5/*_GT.bmp "$src"/Set5/*_GT_scale_4.bmp "$DATA/Set5/"
    echo "gpu_check: $(du -sh "$DATA" | cut -f1) of data in $DATA (carry it: docs/engines.md, \"Running the GPU check\")"
    exit 0
fi

# ---- no GPU: stop at once, one line ----
nogpu() { echo "gpu_check: no NVIDIA GPU here ($1): run this on a GPU machine (docs/engines.md, \"Running the GPU check\")" >&2; exit 3; }
if [ "$MODE" = gpu ]; then
    command -v nvidia-smi > /dev/null 2>&1 || nogpu "nvidia-smi not found"
    nvidia-smi -L > /dev/null 2>&1 || nogpu "nvidia-smi finds no GPU"
    [ -n "${OUT:-}" ] || { echo "gpu_check: \$OUT is not set: set it to the folder the results go to" >&2; exit 2; }
fi

if [ "$MODE" = rehearse ]; then
    PY=${PYTHON:-.venv/bin/python} PROV=cpu DEV=rehearsal ITERATIONS=${REHEARSE_ITERATIONS:-3} DURATION_S=5
    OUT=${OUT:-$W/out}
    [ -d "$DATA/Set5" ] || "$0" --prepare
else
    PY=$VENV/bin/python PROV=cuda DEV=cuda
    OUT=${OUT:-$W/out}
fi
V="$PY -m vampy"
LOG=$W/gpu_check.log STEPS=$W/steps.tsv
DEADLINE=$((SECONDS + BUDGET_S))
export PYTHONUNBUFFERED=1
if [ "$MODE" != dry ]; then
    rm -rf "$W"; mkdir -p "$W" "$OUT"; : > "$LOG"; : > "$STEPS"
    exec 3>&1  # progress lines to the terminal; every command's output into the log
fi
FAILED=0

# step NAME CMD: CMD (one bash string) under the time left, output into the log; records ok/failed/timeout/skipped.
# Returns CMD's status, so `step ... || ...` decides what follows; never aborts the script.
step() {
    local name=$1 cmd=$2 left rc=0 t0 status
    if [ "$MODE" = dry ]; then printf '%-22s %s\n' "$name" "$cmd"; return 0; fi
    left=$((DEADLINE - SECONDS))
    if [ "$left" -lt 10 ]; then
        printf '%s\tskipped\t-\t0\t%s\n' "$name" "$cmd" >> "$STEPS"; echo "gpu_check: $name skipped (budget spent)" >&3; FAILED=1; return 99
    fi
    t0=$SECONDS
    printf '\n==== %s (%s s left): %s\n' "$name" "$left" "$cmd" >> "$LOG"
    timeout -k 5 "$left" bash -o pipefail -c "$cmd" >> "$LOG" 2>&1 || rc=$?
    status=ok; [ $rc -ne 0 ] && status=failed; [ $rc -eq 124 ] || [ $rc -eq 137 ] && status=timeout
    [ $rc -ne 0 ] && FAILED=1
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$((SECONDS - t0))" "$cmd" >> "$STEPS"
    printf 'gpu_check: %-22s %-7s %4s s\n' "$name" "$status" "$((SECONDS - t0))" >&3
    return $rc
}

finish() {  # the summary, the reports and the log into $OUT; prints the headline figures
    [ "$MODE" = dry ] && return 0
    "$PY" "$W/summarize.py" "$W" "$OUT" "$MODE" "$DEV" "$SECONDS" >&3 2>> "$LOG" || \
        { python3 "$W/summarize.py" "$W" "$OUT" "$MODE" "$DEV" "$SECONDS" >&3 2>> "$LOG" || echo "gpu_check: summary failed (see the log)" >&3; }
    cp "$LOG" "$OUT/gpu_check.log"
    [ -f "$W/pytest.xml" ] && cp "$W/pytest.xml" "$OUT/pytest.xml"
    return 0
}

stop() {  # stop MSG: one line on stderr, recorded as the step "stopped"; the summary so far into $OUT; exit 3
    printf 'stopped\tfailed\t3\t0\t%s\n' "$1" >> "$STEPS"
    echo "gpu_check: $1" >&2
    finish; exit 3
}

# ---- the helpers the steps call, written into $W ----
if [ "$MODE" != dry ]; then
cat > "$W/probe.py" <<'EOF'
"""Does the CUDA provider load and run? argv: how (plain | preload | ld_library_path), json path."""
import contextlib, io, json, sys, time
how, path = sys.argv[1], sys.argv[2]
r = {"how": how, "ok": False}
try:
    import numpy as np, onnx
    from onnx import helper, numpy_helper
    import onnxruntime as o
    r.update(version=o.__version__, file=o.__file__, providers=o.get_available_providers(), device=o.get_device())
    with contextlib.suppress(Exception):
        r["build_info"] = o.get_build_info()
    if how == "preload":
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            o.preload_dlls()
        r["preload_output"] = buf.getvalue().strip()
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 1, 3, 3)).astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "probe",
                          [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 1, 16, 16])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 16, 16])],
                          [numpy_helper.from_array(w, "w")])
    # IR 8 / opset 17: readable by any ONNX Runtime since 1.14, whatever IR the installed onnx writes by default
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    x = rng.normal(size=(1, 1, 16, 16)).astype(np.float32)
    t0 = time.perf_counter()
    s = o.InferenceSession(model, providers=[("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"])
    r["session_s"] = time.perf_counter() - t0
    r["session_providers"] = s.get_providers()
    got = s.run(None, {"x": x})[0]
    want = o.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    r["max_abs_diff_vs_cpu"] = float(np.abs(got - want).max())
    r["ok"] = s.get_providers()[0] == "CUDAExecutionProvider" and r["max_abs_diff_vs_cpu"] < 1e-3
except Exception as e:  # noqa: BLE001 - recorded, the script decides
    r["error"] = f"{type(e).__name__}: {e}"
json.dump(r, open(path, "w"), indent=1)
print(json.dumps({k: r.get(k) for k in ("how", "ok", "version", "providers", "session_providers", "max_abs_diff_vs_cpu", "error")}))
sys.exit(0 if r["ok"] else 1)
EOF
cat > "$W/missing.py" <<'EOF'
"""One line: what vampy (pyproject), the wheel (its METADATA) and the tests need that this python lacks."""
import sys, tomllib, zipfile
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
reqs = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"] + ["pytest>=8", "pytest-timeout>=2.2"]
wheel = sys.argv[1] if len(sys.argv) > 1 else ""
if wheel:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        reqs += [l.split(":", 1)[1].strip() for l in z.read(meta).decode().splitlines() if l.startswith("Requires-Dist:")]
missing = []
for text in reqs:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    if req.name in ("onnxruntime", "onnxruntime-gpu"):
        continue  # the wheel itself
    try:
        have = version(req.name)
    except PackageNotFoundError:
        missing.append(f"{req.name} (absent)")
        continue
    if req.specifier and not req.specifier.contains(have, prereleases=True):
        missing.append(f"{req.name} {have} (needs {req.specifier})")
print("gpu_check: missing on this image: " + (", ".join(missing) if missing else "none"))
sys.exit(1 if missing else 0)
EOF
cat > "$W/summarize.py" <<'EOF'
"""Gathers every figure of the check into OUT/summary.json and every report into OUT/reports.json."""
import glob, json, os, re, subprocess, sys, xml.etree.ElementTree as ET
W, OUT, mode, prov, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None
steps = [dict(zip(("step", "status", "rc", "seconds", "command"), l.rstrip("\n").split("\t", 4))) for l in open(f"{W}/steps.tsv")]
s = {"mode": mode, "provider": prov, "seconds": secs, "all_ok": all(x["status"] == "ok" for x in steps)}
try:
    q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    s["gpu"] = q.stdout.strip() or q.stderr.strip()
except Exception as e:
    s["gpu"] = f"none ({type(e).__name__})"
s["probe"] = {p.split("probe_")[1][:-5]: load(p) for p in sorted(glob.glob(f"{W}/probe_*.json"))}
s["probe_used"] = open(f"{W}/probe_used").read().strip() if os.path.exists(f"{W}/probe_used") else None
s["missing"] = open(f"{W}/missing.txt").read().strip() if os.path.exists(f"{W}/missing.txt") else None
s["tensorrt_libs"] = open(f"{W}/tensorrt.txt").read().strip() if os.path.exists(f"{W}/tensorrt.txt") else None
if os.path.exists(f"{W}/pytest.xml"):
    root = ET.parse(f"{W}/pytest.xml").getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    tests = []
    for tc in suite.iter("testcase"):
        kind = next((c.tag for c in tc if c.tag in ("failure", "error", "skipped")), "passed")
        msg = next((c.get("message", "") for c in tc if c.tag in ("failure", "error", "skipped")), "")
        tests.append({"test": tc.get("name"), "outcome": kind, "message": msg[:300]})
    n = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failure", "error", "skipped")}
    s["test_gpu"] = {"line": f"test_gpu.py: {n['passed']} passed, {n['failure'] + n['error']} failed, {n['skipped']} skipped", "tests": tests}
def pct(d, k):
    return (d or {}).get("percentiles_us", {}).get(k)
reports = {}
perf = {}
for p in sorted(glob.glob(f"{W}/run_*.json")):
    name = os.path.basename(p)[4:-5]
    r = load(p)
    if r is None:
        continue
    r.pop("histograms", None)
    reports[f"run_{name}"] = r
    eng = r.get("engine") or {}
    row = {"complete": r.get("complete"), "throughput_qps": r.get("throughput_qps"), "samples": r.get("samples"),
           "instances": r.get("instances"), "processes": r.get("processes"), "batch_size": r.get("batch_size"),
           "e2e_p50_ms": (pct(r.get("e2e"), "p50") or 0) / 1e3, "e2e_p99_ms": (pct(r.get("e2e"), "p99") or 0) / 1e3,
           "model_p50_ms": (pct(r.get("model_latency"), "p50") or 0) / 1e3, "model_p99_ms": (pct(r.get("model_latency"), "p99") or 0) / 1e3,
           "device": eng.get("device"), "precision": eng.get("precision"), "providers": eng.get("providers"),
           "onnxruntime": eng.get("version"), "build_s": eng.get("build_s")}
    split = r.get("model_split")
    if split:
        total = sum(v["avg_us"] for v in split.values()) or 1.0
        row["model_split_us"] = {k: {"avg": v["avg_us"], "p50": pct(v, "p50"), "p99": pct(v, "p99"), "share": v["avg_us"] / total} for k, v in split.items()}
    bd = r.get("breakdown")
    if bd:
        row["breakdown_avg_us"] = {k: v["avg_us"] for k, v in bd.items()}
    perf[name] = row
s["runs"] = perf
psnr = {}
for p in sorted(glob.glob(f"{W}/eval_*.json")):
    name = os.path.basename(p)[5:-5]
    r = load(p)
    if r is None:
        continue
    reports[f"eval_{name}"] = r
    flat = {}
    def walk(x, path=""):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(x, (int, float)) and re.search(r"(psnr|ssim)", path, re.I) and not re.search(r"\.\d+\.|per_image|images", path):
            flat[path] = x
    walk(r)
    psnr[name] = flat
s["set5_x4"] = psnr
def mean_of(name, key):
    r = reports.get(f"eval_{name}") or {}
    return (r.get("mean") or {}).get(key, (r.get("metrics") or {}).get(key))
s["set5_psnr_db"] = {k: mean_of(k, "psnr_db") for k in psnr}
s["set5_ssim"] = {k: mean_of(k, "ssim") for k in psnr}
cp = s["set5_psnr_db"].get("cpu_fp32")
for p in ("fp32", "fp16", "zoo"):
    gp = s["set5_psnr_db"].get(f"{prov}_{p}")
    if gp is not None and cp is not None:
        s[f"{p}_psnr_delta_db"] = gp - cp  # the device's PSNR minus the CPU provider's fp32
s["fp32_psnr_within_0.01_db"] = abs(s["fp32_psnr_delta_db"]) <= 0.01 if "fp32_psnr_delta_db" in s else None
base = perf.get("cpu_i1_p1_b1", {}).get("throughput_qps")
if base and perf.get("i1_p1_b1", {}).get("throughput_qps"):
    s["i1_p1_b1_speedup_vs_cpu"] = perf["i1_p1_b1"]["throughput_qps"] / base
for p in sorted(glob.glob(f"{W}/diff_*.json")) + sorted(glob.glob(f"{W}/compile_*.json")):
    reports[os.path.basename(p)[:-5]] = load(p)
d = reports.get("diff_fp32")
if d:
    s["diff_fp32_cpu_vs_device"] = {k: {m: v[m] for m in ("snr_db", "max_abs", "cosine") if m in v} for k, v in (d.get("summary") or {}).items()}
s["steps"] = steps
json.dump(s, open(f"{OUT}/summary.json", "w"), indent=1, default=str)
json.dump(reports, open(f"{OUT}/reports.json", "w"), indent=1, default=str)
print(f"gpu_check: gpu {s['gpu']}; CUDA provider as used: {s['probe_used']}; {s['missing']}")
if s.get("test_gpu"):
    print("gpu_check: " + s["test_gpu"]["line"])
for k, r in perf.items():
    sp = r.get("model_split_us")
    spl = " split h2d/compute/d2h avg us " + "/".join(f"{sp[x]['avg']:.0f}" for x in ("host_to_device", "compute", "device_to_host")) if sp else ""
    print(f"gpu_check: run {k}: {r['throughput_qps'] or 0:.2f} qps, e2e p50 {r['e2e_p50_ms']:.2f} ms p99 {r['e2e_p99_ms']:.2f} ms, "
          f"{r['device']} {r['precision']}{spl}")
for k, v in s["set5_psnr_db"].items():
    print(f"gpu_check: Set5 x4 {k}: PSNR {v if v is None else round(v, 4)} dB, SSIM {s['set5_ssim'].get(k)}")
if "fp32_psnr_delta_db" in s:
    print(f"gpu_check: fp32 PSNR {prov} - cpu = {s['fp32_psnr_delta_db']:+.4f} dB (within 0.01: {s['fp32_psnr_within_0.01_db']}); "
          f"fp16 {prov} - cpu fp32 = {s.get('fp16_psnr_delta_db', float('nan')):+.4f} dB")
if "i1_p1_b1_speedup_vs_cpu" in s:
    print(f"gpu_check: i1_p1_b1 {prov} / cpu throughput = {s['i1_p1_b1_speedup_vs_cpu']:.1f}x")
print(f"gpu_check: {'all steps ok' if s['all_ok'] else 'FAILED: ' + ', '.join(x['step'] + ' ' + x['status'] for x in steps if x['status'] != 'ok')}; "
      f"{secs} s; {OUT}/summary.json")
EOF
fi

# ---- 1. install the wheel beside the image's packages; does the CUDA provider load and run? ----
if [ "$MODE" = rehearse ]; then
    step missing_deps "$PY $W/missing.py > $W/missing.txt; rc=\$?; cat $W/missing.txt; exit \$rc" || true
elif [ "$MODE" = gpu ] || [ "$MODE" = dry ]; then
    if [ -z "$WHEEL" ]; then
        if { ls "$CARRY"/wheel.part* > /dev/null 2>&1 && [ -f "$CARRY/wheel.name" ]; } || [ "$MODE" = dry ]; then
            WHEEL=/tmp/gpu_check_wheel/$(cat "$CARRY/wheel.name" 2> /dev/null || echo '<wheel.name>')
            step join_wheel "mkdir -p /tmp/gpu_check_wheel && cat $CARRY/wheel.part* > $WHEEL && ls -l $CARRY $WHEEL \
                && { [ ! -f $CARRY/wheel.sha256 ] || [ \"\$(sha256sum < $WHEEL | cut -d' ' -f1)\" = \"\$(cat $CARRY/wheel.sha256)\" ] \
                || { echo 'sha256 differs: a part is missing or stale'; exit 1; }; }" \
                || { stop "the wheel parts in $CARRY do not join into the wheel (missing or stale part: see the log); carry every part (scripts/split_wheel.sh)"; }
        elif ls "$CARRY"/*.whl > /dev/null 2>&1; then
            WHEEL=$(ls "$CARRY"/*.whl | head -1)
        else
            stop "no onnxruntime-gpu wheel: carry $CARRY/wheel.part* and wheel.name (scripts/split_wheel.sh) or give --wheel PATH"
        fi
    fi
    SITE_PY="import site, sys; print('\\n'.join(site.getsitepackages()) if sys.prefix != sys.base_prefix else '')"
    # --without-pip: the image's own pip and setuptools (seen through the .pth) do the installs; a pip and setuptools
    # bundled into the venv could be older (Python 3.11's ensurepip brings setuptools 65, which refuses license = "MIT").
    step venv "rm -rf $VENV && $BASE_PY -m venv --system-site-packages --without-pip $VENV \
        && $BASE_PY -c \"$SITE_PY\" > \$($VENV/bin/python -c 'import site; print(site.getsitepackages()[0])')/_image_site.pth \
        && { $VENV/bin/python -m pip --version || $VENV/bin/python -m ensurepip; } \
        && $VENV/bin/python -c 'import sys; print(sys.version); print(*sys.path, sep=chr(10))' \
        && $VENV/bin/python -m pip --version && $VENV/bin/python -m pip list 2>/dev/null | grep -iE '^(setuptools|onnx|onnxruntime|numpy|nvidia-cud|torch) '" \
        || { stop "could not make the venv with $BASE_PY (see $OUT/gpu_check.log)"; }
    step uninstall_ort_cpu "$PY -m pip uninstall -y onnxruntime; $PY -m pip list 2>/dev/null | grep -i onnxruntime || true" || true
    step install_wheel "$PY -m pip install --no-index --no-deps --no-cache-dir $WHEEL" \
        || { stop "pip could not install $WHEEL (see $OUT/gpu_check.log)"; }
    step install_vampy "$PY -m pip install --no-index --no-deps --no-build-isolation -e ." \
        || { export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}; echo "gpu_check: pip install -e . failed: vampy runs from PYTHONPATH=. instead" >&3; }
    step missing_deps "$PY $W/missing.py $WHEEL > $W/missing.txt; rc=\$?; cat $W/missing.txt; exit \$rc" || true
    [ "$MODE" = gpu ] && cat "$W/missing.txt" >&3
    # The NVIDIA wheels' lib folders (CUDA 13 wheels: nvidia/cu13/lib; cuDNN: nvidia/cudnn/lib), for the third try.
    NV_LIBS_CMD="$PY -c \"import glob, site; print(':'.join(sorted({d for s in site.getsitepackages() + [l.strip() for l in open(site.getsitepackages()[0] + '/_image_site.pth') if l.strip()] for d in glob.glob(s + '/nvidia/*/lib')})))\""
    if [ "$MODE" = dry ]; then
        step probe_plain "$PY $W/probe.py plain $W/probe_plain.json"
        step probe_preload "$PY $W/probe.py preload $W/probe_preload.json"
        step probe_ld_library_path "LD_LIBRARY_PATH=<the image's nvidia/*/lib folders> $PY $W/probe.py ld_library_path $W/probe_ld_library_path.json"
    elif step probe_plain "$PY $W/probe.py plain $W/probe_plain.json"; then
        echo plain > "$W/probe_used"  # what vampy does: no preload_dlls, no LD_LIBRARY_PATH
    else
        # preload_dlls() alone does not help vampy (it does not call it); it is tried to say whether it would.
        step probe_preload "$PY $W/probe.py preload $W/probe_preload.json" || true
        NV_LIBS=$(eval "$NV_LIBS_CMD" 2>> "$LOG" || true)
        if step probe_ld_library_path "LD_LIBRARY_PATH=$NV_LIBS:\${LD_LIBRARY_PATH:-} $PY $W/probe.py ld_library_path $W/probe_ld_library_path.json"; then
            export LD_LIBRARY_PATH=$NV_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            echo "ld_library_path $NV_LIBS" > "$W/probe_used"
        else
            stop "CUDAExecutionProvider not available or not starting in this ONNX Runtime (plain, preload_dlls, LD_LIBRARY_PATH all failed: $OUT/summary.json probe): nothing else can run"
        fi
    fi
    step tensorrt_libs "{ ldconfig -p | grep -E 'libnvinfer\\.so' || $PY -c 'import tensorrt; print(tensorrt.__version__)' || echo absent; } > $W/tensorrt.txt 2>&1; cat $W/tensorrt.txt" || true
fi

# ---- 2. the GPU tests ----
step test_gpu "$PY -m pytest tests/integration/test_gpu.py -v -rA -p no:cacheprovider --junitxml=$W/pytest.xml" || true

# ---- 3. the VDSR reference: zoo VDSR at 3x256x256 (fixed 1x1x256x256; -b 4 needs the dynamic-batch export) ----
W_ARG=""; [ -f "$DATA/vdsr/vdsr_x234_weights.npz" ] && W_ARG="--weights $DATA/vdsr/vdsr_x234_weights.npz"
step zoo_vdsr "$V zoo vdsr -o $W/models/vdsr $W_ARG && $V zoo vdsr -o $W/models/vdsr_dyn --dynamic $W_ARG" || true
RUN="$V run --vdsp_params $VDSP -s [3,256,256] --provider $PROV -d 0 --iterations $ITERATIONS -t $DURATION_S"
step run_i1_p1_b1 "$RUN -m $W/models/vdsr/mod -i 1 -p 1 -b 1 --json $W/run_i1_p1_b1.json" || true
step run_i2_p1_b1 "$RUN -m $W/models/vdsr/mod -i 2 -p 1 -b 1 --json $W/run_i2_p1_b1.json" || true
step run_dyn_i1_p1_b1 "$RUN -m $W/models/vdsr_dyn/mod -i 1 -p 1 -b 1 --json $W/run_dyn_i1_p1_b1.json" || true
step run_dyn_i1_p1_b4 "$RUN -m $W/models/vdsr_dyn/mod -i 1 -p 1 -b 4 --json $W/run_dyn_i1_p1_b4.json" || true

# ---- 4. Set5 x4 PSNR: zoo / compiled fp32 / compiled fp16 through the provider, fp32 on the CPU too ----
if [ -d "$DATA/Set5" ] || [ "$MODE" = dry ]; then
    step image2npz "$V image2npz --dataset_path $DATA/Set5 --pattern '*_scale_4.bmp' --mode y3 --target_path $W/set5_x4_npz --text_path $W/set5_x4.txt -q" || true
    for p in fp32 fp16; do  # build/official_vdsr_$p.yaml (the README table's builds) with the paths moved under $W
        step compile_$p "sed -e 's#deploy_weights/vdsr/mod.onnx#$W/models/vdsr/mod.onnx#; s#\\./deploy_weights/#$W/models/#' build/official_vdsr_$p.yaml > $W/official_vdsr_$p.yaml \
            && $V compile $W/official_vdsr_$p.yaml --vdsp_params $VDSP -q --json $W/compile_$p.json" || true
    done
    DATA_RUN="$V run --vdsp_params $VDSP -i 1 -p 1 -b 1 -s [3,256,256] --datalist $W/set5_x4.txt -q"
    EVAL="$V eval --src_dir $DATA/Set5 --gt_dir $DATA/Set5 --input_npz_path $W/set5_x4.txt --input_shape 256 256 --vamp_flag -q"
    # dev rows through --provider $PROV (tagged $DEV: cuda, or "rehearsal" on the CPU), cpu rows through the CPU provider
    for spec in "dev zoo vdsr" "dev fp32 official_vdsr_fp32" "dev fp16 official_vdsr_fp16" "cpu zoo vdsr" "cpu fp32 official_vdsr_fp32"; do
        set -- $spec; pv=$PROV tag=${DEV}_$2 m=$W/models/$3/mod
        [ "$1" = cpu ] && pv=cpu tag=cpu_$2
        step data_$tag "$DATA_RUN -m $m --provider $pv --path_output $W/out_$tag --json $W/run_data_$tag.json \
            && $EVAL --out_npz_dir $W/out_$tag --json $W/eval_$tag.json" || true
    done
    step diff_fp32 "$V diff $W/out_cpu_fp32 $W/out_${DEV}_fp32 --datalist $W/set5_x4.txt -q --json $W/diff_fp32.json" || true
else
    echo "gpu_check: no $DATA/Set5: the Set5 steps are skipped (scripts/gpu_check.sh --prepare here, then carry $DATA)" | tee -a "$LOG" >&3
    printf 'set5\tskipped\t-\t0\tno %s\n' "$DATA/Set5" >> "$STEPS"; FAILED=1
fi

# ---- a CPU baseline for the ratio, last: only with budget to spare ----
[ "$MODE" = rehearse ] || step run_cpu_i1_p1_b1 "${RUN/--provider $PROV/--provider cpu} -m $W/models/vdsr/mod -i 1 -p 1 -b 1 --json $W/run_cpu_i1_p1_b1.json" || true

# ---- 5. the split and every figure: summary.json ----
finish
exit $FAILED
