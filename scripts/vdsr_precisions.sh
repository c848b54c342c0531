#!/usr/bin/env bash
# Reproduces the README's VDSR x4 Set5 precision table (needs ../shared/data). Run from the repo root.
# Writes models to deploy_weights/, everything else under work/.
set -euo pipefail
V=${VAMPY:-.venv/bin/vampy}
VDSP=vdsp_params/official-vdsr-vdsp_params.json
ITERATIONS=${ITERATIONS:-64}
$V zoo vdsr -o deploy_weights/vdsr --weights ../shared/data/vdsr/vdsr_x234_weights.npz
$V image2npz --dataset_path ../shared/data/Set5 --pattern '*_scale_4.bmp' --mode y3 \
    --target_path work/set5_x4_npz --text_path work/set5_x4.txt
for p in fp32 fp16 int8; do
    $V compile build/official_vdsr_$p.yaml --vdsp_params $VDSP -q
    m=deploy_weights/official_vdsr_$p/mod
    $V run -m $m --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --datalist work/set5_x4.txt \
        --path_output work/npz_output_$p -q --json work/run_data_$p.json > /dev/null
    $V eval --src_dir ../shared/data/Set5 --gt_dir ../shared/data/Set5 --input_npz_path work/set5_x4.txt \
        --out_npz_dir work/npz_output_$p --input_shape 256 256 --vamp_flag --json work/eval_$p.json > /dev/null
    $V run -m $m --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --iterations "$ITERATIONS" -q --json work/run_$p.json > /dev/null
done
# OpenVINO on the same files: the fp32 model in the CPU's default precision (bf16 where it has it), and the int8 QDQ model
if $V run --help | grep -q -- --engine && .venv/bin/python -c "import openvino" 2>/dev/null; then
    for p in fp32 int8; do
        m=deploy_weights/official_vdsr_$p/mod
        $V run -m $m --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --engine openvino --datalist work/set5_x4.txt \
            --path_output work/npz_output_ov_$p -q --json work/run_data_ov_$p.json > /dev/null
        $V eval --src_dir ../shared/data/Set5 --gt_dir ../shared/data/Set5 --input_npz_path work/set5_x4.txt \
            --out_npz_dir work/npz_output_ov_$p --input_shape 256 256 --vamp_flag --json work/eval_ov_$p.json > /dev/null
        $V run -m $m --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --engine openvino --iterations "$ITERATIONS" -q \
            --json work/run_ov_$p.json > /dev/null
    done
    OV_RUNS="--run work/run_ov_fp32.json --run work/run_ov_int8.json --run work/run_data_ov_fp32.json --run work/run_data_ov_int8.json"
    OV_EVALS="--eval work/eval_ov_fp32.json --eval work/eval_ov_int8.json"
fi
# the precision table: speed from the synthetic runs, accuracy through each datalist run's outputs; one row per engine
$V table deploy_weights/official_vdsr_{fp32,fp16,int8} --run work/run_{fp32,fp16,int8}.json \
    --run work/run_data_{fp32,fp16,int8}.json ${OV_RUNS:-} --eval work/eval_{fp32,fp16,int8}.json ${OV_EVALS:-} \
    --markdown work/vdsr_table.md
