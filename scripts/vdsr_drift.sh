#!/usr/bin/env bash
# The README's "Did the faster build lose accuracy?": VDSR's int8 build against its fp32 source, line by line.
# With ../shared/data (pretrained weights and Set5) it measures the real model on Set5 x4; without it, the
# embedded VDSR (seeded random weights: real numbers of a meaningless model) on five synthetic images.
# SYNTHETIC=1 takes the second way even where the data is. Run from the repo root; writes everything under
# work/drift/ (W=... to change). Exit code: vampy diff's (8 when --min_snr_db is crossed).
set -euo pipefail
V=${VAMPY:-.venv/bin/vampy}
PY=${PYTHON:-.venv/bin/python}
VDSP=vdsp_params/official-vdsr-vdsp_params.json
W=${W:-work/drift}
MIN_SNR_DB=${MIN_SNR_DB:-20}
mkdir -p $W
if [ -z "${SYNTHETIC:-}" ] && [ -f ../shared/data/vdsr/vdsr_x234_weights.npz ] && [ -d ../shared/data/Set5 ]; then
    WEIGHTS=(--weights ../shared/data/vdsr/vdsr_x234_weights.npz); IMAGES=../shared/data/Set5; PATTERN='*_scale_4.bmp'
else
    WEIGHTS=(); IMAGES=$W/images; PATTERN='*.bmp'
    # five 256x256 pictures with structure at several scales (blurred noise, edges, a gradient), seeded
    $PY - "$IMAGES" <<'EOF'
import sys, pathlib, cv2, numpy as np
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(2026)
for k in range(5):
    y, x = np.mgrid[0:256, 0:256].astype(np.float32)
    img = 60 + 0.4 * x + 0.2 * y
    for sigma in (2, 6, 16):
        img += cv2.GaussianBlur(rng.normal(0, 60, (256, 256)).astype(np.float32), (0, 0), sigma)
    cv2.circle(img, (int(rng.integers(60, 200)), int(rng.integers(60, 200))), int(rng.integers(20, 60)), 230.0, -1)
    cv2.rectangle(img, (20 + 10 * k, 30), (120, 90 + 15 * k), 25.0, -1)
    bgr = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    cv2.imwrite(str(out / f"synth{k}.bmp"), bgr)
EOF
fi
$V zoo vdsr -o $W/vdsr "${WEIGHTS[@]}"
cat > $W/vdsr_int8.yaml <<EOF
name: vdsr_int8
frontend: {type: onnx, checkpoint: $W/vdsr/mod.onnx, shape: {input: [1, 1, 256, 256]}, dtype: fp32}
backend: {dtype: int8, quantize: {calibrate_mode: kl_divergence, quantize_per_channel: true}}
dataset:
  path: $IMAGES
  sampler: {suffix: bmp, pattern: "$PATTERN", get_data_num: 5}
  process_ops:
    - {type: DecodeImage}
    - {type: CvtColor, code: COLOR_RGB2YCrCb}
    - {type: Resize, size: [256, 256]}
    - {type: ChannelSplit, index: 0}
    - {type: Normalize, norm_type: None}
    - {type: ToTensor}
workspace: {path: $W}
EOF
$V compile $W/vdsr_int8.yaml --vdsp_params $VDSP -q --json $W/compile_int8.json
$V image2npz --dataset_path $IMAGES --pattern "$PATTERN" --mode y3 --target_path $W/npz --text_path $W/inputs.txt --relative -q > /dev/null
for p in fp32 int8; do
    m=$W/vdsr/mod; [ $p = int8 ] && m=$W/vdsr_int8/mod
    $V run -m $m --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --datalist $W/inputs.txt --path_output $W/out_$p -q > /dev/null
done
$V diff $W/out_fp32 $W/out_int8 --datalist $W/inputs.txt --worst 5 --min_snr_db "$MIN_SNR_DB" --json $W/diff.json --html $W/diff.html
