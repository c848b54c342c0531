#!/usr/bin/env bash
# Reproduces docs/measurement.md: latency breakdown, top operators, LoadGen SingleStream and Server
# on VDSR-256 fp32 and int8. Needs the models of scripts/vdsr_precisions.sh. Run from the repo root.
set -euo pipefail
V=${VAMPY:-.venv/bin/vampy}
VDSP=vdsp_params/official-vdsr-vdsp_params.json
for m in vdsr:3:1500 official_vdsr_int8:10:500; do
    IFS=: read -r name qps bound_ms <<< "$m"
    echo "=== $name: vampy run --profile"
    $V run -m deploy_weights/$name/mod --vdsp_params $VDSP -i 1 p 1 -b 1 -s [3,256,256] --iterations 32 \
        --profile work/profile_$name --export_times work/times_$name.csv --json work/depth_$name.json -q
    echo "=== $name: LoadGen SingleStream"
    $V loadgen -m deploy_weights/$name/mod --vdsp_params $VDSP -s [3,256,256] --scenario SingleStream \
        --min_queries 64 --min_duration 10 --log_dir work/mlperf_$name/single --json work/loadgen_single_$name.json
    echo "=== $name: LoadGen Server at $qps qps, bound $bound_ms ms"
    $V loadgen -m deploy_weights/$name/mod --vdsp_params $VDSP -s [3,256,256] --scenario Server \
        --target_qps "$qps" --target_latency_ms "$bound_ms" --min_queries 64 --min_duration 10 \
        --log_dir work/mlperf_$name/server --json work/loadgen_server_$name.json
done
