#!/usr/bin/env bash
# After scripts/sweep_vdsr.sh: run the winners of auto, auto on the grid's values, and the grid
# head to head, alternating (A B C A B C ...), -t ${RUN_S:-10} each, so that load from other
# processes falls on all alike. Prints each one's median throughput and its ratio to the grid's;
# then `vampy compare` of the first rounds.
set -euo pipefail
V=${VAMPY:-.venv/bin/vampy}
PY=${PYTHON:-.venv/bin/python}
ROUNDS=${ROUNDS:-3}
SIDES=(auto autogrid grid)
for m in ${MODELS:-official_vdsr_int8 vdsr}; do
    echo "== $m"
    declare -A cmd
    for side in "${SIDES[@]}"; do
        cmd[$side]=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['winner_command'])" work/sweep/${m}_${side}.json)
        echo "$side: ${cmd[$side]}"
    done
    for k in $(seq 1 "$ROUNDS"); do
        for side in "${SIDES[@]}"; do
            eval "${cmd[$side]/vampy/$V} -t ${RUN_S:-10} -q --json work/sweep/${m}_${side}_run$k.json" > /dev/null
        done
    done
    $PY - "$m" "$ROUNDS" "${SIDES[@]}" <<'PY'
import json, statistics, sys
m, rounds, sides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
q = {s: [json.load(open(f"work/sweep/{m}_{s}_run{k}.json"))["throughput_qps"] for k in range(1, rounds + 1)] for s in sides}
grid = statistics.median(q["grid"])
for s, v in q.items():
    print(f"{s}: " + ", ".join(f"{x:.3f}" for x in v) + f" qps; median {statistics.median(v):.3f}; / grid's {statistics.median(v) / grid:.3f}")
PY
    $V compare work/sweep/${m}_grid_run1.json work/sweep/${m}_auto_run1.json work/sweep/${m}_autogrid_run1.json
    unset cmd
done
