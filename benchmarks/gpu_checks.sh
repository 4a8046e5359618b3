#!/usr/bin/env bash
# Issue 28's GPU measurements in one run of under 8 minutes on a lent H200, alone on the GPU, each a
# call of benchmarks/bench_gpu.py writing its result (benchmarks.common.write_result) into OUT_DIR:
#   speed_no          each GPU preset (unet-gpu, dit-s, unet-laptop, 32 px): images/s and MFU of the
#                     bare loop and of Noisebloom's trainer with the device's defaults (fused AdamW, the
#                     deferred finite check, bf16, channels-last for UNets), no torch.compile; beside
#                     them unet-gpu at 64 px and diffusers' reference UNets
#   side_by_side      pixel-small trained as 4 and 8 copies in one process against one alone
#   smoke             the CUDA smoke test of the trainer (resume included) and the sampler
#   speed_gpu_batch_auto  pixel-small and unet-laptop through the trainer at gpu_batch auto: the batch
#                     it chose to fill the GPU, why, and its images/s beside the bare loop at --batch
#   speed_yes_*, speed_reduce_overhead_*   the same as speed_no with torch.compile (default mode, and
#                     reduce-overhead: CUDA graphs), the warm-up reported apart from the speed
# Steps run in that order; one that cannot have its seconds before BUDGET is skipped and named in
# OUT_DIR/logs/steps.txt, so what comes back is always the most important part.
# Usage: benchmarks/gpu_checks.sh OUT_DIR
# Try it out on a CPU (seconds per step, tiny networks): DEVICE=cpu TINY=1 benchmarks/gpu_checks.sh OUT_DIR
set -u
OUT=${1:?usage: benchmarks/gpu_checks.sh OUT_DIR}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}        # cpu only to try this script out (with TINY=1)
BUDGET=${BUDGET:-470}         # seconds for everything
SPEED=${SPEED:-"--trainer-steps 150 --seconds 4"}
TINY_ARG=""
TRIED=""
if [ -n "${TINY:-}" ]; then TINY_ARG="--tiny"; fi
export PYTHONUNBUFFERED=1
export NOISEBLOOM_BENCH_RESULTS="$OUT"
mkdir -p "$OUT/logs"
: > "$OUT/logs/steps.txt"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/logs/gpu.txt" 2>&1
fi

step() {  # NAME SECONDS_IT_NEEDS ARGS...: one bench_gpu.py call, if it fits in what is left of BUDGET
  local name=$1 need=$2
  shift 2
  local left=$((BUDGET - SECONDS)) mode
  if [ -n "$TINY_ARG" ]; then  # the tiny networks are the same in every step: one step of each mode
    mode=$(echo "$*" | sed -n 's/.*--compile \([a-z-]*\).*/\1/p')
    if [ -n "$mode" ] && [[ " $TRIED " == *" $mode "* ]]; then
      echo "$name: skipped, tiny networks compiled $mode already" | tee -a "$OUT/logs/steps.txt"
      return
    fi
    TRIED="$TRIED $mode"
  fi
  if [ "$left" -lt "$need" ]; then
    echo "$name: skipped, ${left} s left of ${BUDGET} and it needs ${need}" | tee -a "$OUT/logs/steps.txt"
    return
  fi
  timeout "$left" $PY benchmarks/bench_gpu.py --device "$DEVICE" $TINY_ARG --section "$name" "$@" \
    > "$OUT/logs/$name.log" 2>&1
  echo "$name: exit $?, done at ${SECONDS} s" | tee -a "$OUT/logs/steps.txt"
}

step speed_no 60 --speed --compile no $SPEED
step side_by_side 20 --side-by-side 4,8 --seconds 4
step smoke 30 --smoke
step speed_gpu_batch_auto 60 --speed --compile no --gpu-batch auto --presets pixel-small,unet-laptop $SPEED
step speed_yes_unet-gpu 90 --speed --compile yes --presets unet-gpu $SPEED
step speed_reduce_overhead_unet-laptop 90 --speed --compile reduce-overhead --presets unet-laptop $SPEED
step speed_yes_dit-s 60 --speed --compile yes --presets dit-s $SPEED
step speed_reduce_overhead_dit-s 60 --speed --compile reduce-overhead --presets dit-s $SPEED
step speed_yes_unet-laptop 60 --speed --compile yes --presets unet-laptop $SPEED
step speed_reduce_overhead_unet-gpu 90 --speed --compile reduce-overhead --presets unet-gpu $SPEED
echo "done at ${SECONDS} s"
