#!/usr/bin/env bash
# Reproduces docs/sweep.md's measurement: `vampy sweep` auto against the full grid on VDSR fp32 and
# int8 at 256x256. Run from the repo root after scripts/vdsr_precisions.sh (it builds the models).
# The deployed models have a fixed batch of 1; batch 2-4 needs a copy whose batch dimension is
# dynamic (same weights, same graph): written to work/dynbatch/. Results go to work/sweep/.
set -euo pipefail
V=${VAMPY:-.venv/bin/vampy}
PY=${PYTHON:-.venv/bin/python}
VDSP=vdsp_params/official-vdsr-vdsp_params.json
POINT_S=${POINT_S:-3}
mkdir -p work/dynbatch work/sweep
for m in vdsr official_vdsr_int8; do
    mkdir -p work/dynbatch/$m
    $PY - deploy_weights/$m/mod.onnx work/dynbatch/$m/mod.onnx <<'PY'
import sys, onnx
model = onnx.load(sys.argv[1])
for value in list(model.graph.input) + list(model.graph.output):
    value.type.tensor_type.shape.dim[0].dim_param = "batch"
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
PY
done
for m in ${MODELS:-official_vdsr_int8 vdsr}; do
    common=(-m work/dynbatch/$m/mod --vdsp_params $VDSP -s [3,256,256] --point_duration "$POINT_S")
    start=$SECONDS
    $V sweep "${common[@]}" --json work/sweep/${m}_auto.json --csv work/sweep/${m}_auto.csv --plot work/sweep/${m}_auto.png 2> work/sweep/${m}_auto.log \
        | tee work/sweep/${m}_auto.txt
    echo "wall time: $((SECONDS - start)) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a work/sweep/${m}_auto.txt
    start=$SECONDS  # auto again, on the grid's own values: the strategy alone against the grid
    $V sweep "${common[@]}" -i 1-4 -p 1-2 -b 1-4 --threads 1-2 --search auto --json work/sweep/${m}_autogrid.json \
        --csv work/sweep/${m}_autogrid.csv --plot work/sweep/${m}_autogrid.png 2> work/sweep/${m}_autogrid.log | tee work/sweep/${m}_autogrid.txt
    echo "wall time: $((SECONDS - start)) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a work/sweep/${m}_autogrid.txt
    start=$SECONDS
    $V sweep "${common[@]}" -i 1-4 -p 1-2 -b 1-4 --threads 1-2 \
        --json work/sweep/${m}_grid.json --csv work/sweep/${m}_grid.csv --plot work/sweep/${m}_grid.png 2> work/sweep/${m}_grid.log | tee work/sweep/${m}_grid.txt
    echo "wall time: $((SECONDS - start)) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a work/sweep/${m}_grid.txt
done
