#!/usr/bin/env bash
# Splits a wheel (the ~243 MiB onnxruntime-gpu one) into equal parts under PART_MIB (default 50) MiB in DEST
# (default work/gpu_carry, ignored through .gitignore's work/), so that each device `run` call carries one part
# inside its 64 MiB (docs/engines.md, "Running the GPU check"). Writes DEST/wheel.part01.., DEST/wheel.name (the
# wheel's file name: pip needs it) and DEST/wheel.sha256 (scripts/gpu_check.sh checks the joined file against it),
# then prints the device call sequence. Run from the repo root:
#   scripts/split_wheel.sh work/gpu_carry/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
set -euo pipefail
WHEEL=${1:?usage: scripts/split_wheel.sh WHEEL [DEST] (PART_MIB=50)}
DEST=${2:-work/gpu_carry}
PART_MIB=${PART_MIB:-50}
case $WHEEL in *.whl) ;; *) echo "split_wheel: $WHEEL is not a .whl" >&2; exit 2 ;; esac
[ -f "$WHEEL" ] || { echo "split_wheel: no $WHEEL" >&2; exit 3; }
mkdir -p "$DEST"
rm -f "$DEST"/wheel.part*
size=$(stat -c %s "$WHEEL")
limit=$((PART_MIB * 1024 * 1024))
n=$(((size + limit - 1) / limit))
part=$(((size + n - 1) / n))  # equal parts: the last one is not left nearly full
split -b "$part" -d -a 2 --numeric-suffixes=1 "$WHEEL" "$DEST/wheel.part"
basename "$WHEEL" > "$DEST/wheel.name"
sha256sum < "$WHEEL" | cut -d' ' -f1 > "$DEST/wheel.sha256"
parts=("$DEST"/wheel.part*)
echo "split_wheel: $(basename "$WHEEL") ($((size / 1048576)) MiB) -> ${#parts[@]} parts of $((part / 1048576)) MiB in $DEST"
# The sequence: one part per call, back to back (the machine stays warm 30 s after a call; carried files that are
# ignored stay there between calls); the last call also carries the data and the name/sha256 files, and runs the check.
last=$((${#parts[@]} - 1))
for i in "${!parts[@]}"; do
    if [ "$i" -lt "$last" ]; then
        echo "run  carry=[\"${parts[$i]}\"]  timeout_s=120  command=\"ls -l $DEST; nvidia-smi -L; df -h /tmp | tail -1\""
    else
        echo "run  carry=[\"${parts[$i]}\", \"$DEST/wheel.name\", \"$DEST/wheel.sha256\", \"$DEST/data\"]  timeout_s=540" \
             " command=\"set -o pipefail; BUDGET_S=420 scripts/gpu_check.sh 2>&1 | tee \$OUT/console.txt\""
    fi
done
echo "then give_back (or rerun the last call at once: the parts and the joined wheel are still there while it is warm)"
