#!/usr/bin/env bash
# Issue 8's recipe sweep on a lent GPU within one call of under 10 minutes, the CUDA smoke test
# (bench_gpu.py --smoke) beside it. Everything comes back in OUT_DIR: sweep.json (the rows that
# finished), runs.tgz (each run's JSON and log), gpu_smoke.json, quality_sweep_NAME.json, logs.
# Usage: benchmarks/gpu_sweep.sh OUT_DIR PLAN NAME
# Needs /tmp/noisebloom-bench/mnist_5k.npz, as gpu_checks.sh does.
set -u
OUT=${1:?usage: benchmarks/gpu_sweep.sh OUT_DIR PLAN NAME}
PLAN=${2:?usage: benchmarks/gpu_sweep.sh OUT_DIR PLAN NAME}
NAME=${3:?usage: benchmarks/gpu_sweep.sh OUT_DIR PLAN NAME}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}        # cpu only to try this script out
LIMIT=${LIMIT:-470}           # seconds for the sweep; runs unfinished by then are left out
PARALLEL=${PARALLEL:-12}
SAMPLE=${SAMPLE:-unipc:8}
SAMPLES=${SAMPLES:-500}
SMOKE=${SMOKE:-1}
WORK=${WORK:-/tmp/noisebloom-gpu}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
if [ "$SMOKE" = 1 ]; then
  $PY benchmarks/bench_gpu.py --device "$DEVICE" --smoke > "$OUT/smoke.log" 2>&1 &
fi
timeout "$LIMIT" $PY benchmarks/bench_quality.py --device "$DEVICE" --work "$WORK" --json-out "$OUT/sweep.json" \
  sweep --plan "$PLAN" --name "$NAME" --parallel "$PARALLEL" --threads-each 1 --samples "$SAMPLES" \
  --sample "$SAMPLE" > "$OUT/sweep.log" 2>&1
echo "sweep exit $?"
wait
(cd "$WORK/sweep" && tar czf - "$NAME"/*.json "$NAME"/*.log) > "$OUT/runs.tgz"
cp benchmarks/results/gpu_smoke.json "benchmarks/results/quality_sweep_$NAME.json" "$OUT/" 2>/dev/null
echo done
