#!/usr/bin/env bash
# One core's time per training step against the batch size, for the cost
# model of data-parallel training (bench/cost_model.py,
# docs/distributed.md): the adding IRNN (T=150, H=100), the digit-sum LSTM
# (H=128, sequences up to 4 digits) and the char LM (default model). One
# thread, ROUNDS=N runs each (default 3), the fastest: the model wants what
# a core can do, and another job on the machine only ever adds time.
# Writes bench/results-batch.csv (model,batch,ms_per_step).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
export OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
fastest() { sort -g | head -n 1; }
bin/digitsum gen-data --len 4 --sample 20000 --seed 1 --out "$tmp/digits.csv" >/dev/null
train_rows=16000 # digitsum's default --split 0.8 of 20,000
out=bench/results-batch.csv
echo "model,batch,ms_per_step" >"$out"
for b in 8 16 32 64 128 256 512; do
  for r in $(seq "$rounds"); do
    bin/adding --T 150 --batch "$b" --steps $((4000 / b + 20)) --eval-every 1000000 --test-size 10 --threads 1 --quiet \
      --run-dir "$tmp/run" >"$tmp/out"
    rm -rf "$tmp/run"
    field "$tmp/out" step_ms
  done | fastest | sed "s/^/adding,$b,/" >>"$out"
done
for b in 8 16 32 64 128 256 512; do
  for r in $(seq "$rounds"); do
    bin/digitsum train --data "$tmp/digits.csv" --batch "$b" --epochs 1 --threads 1 --quiet --run-dir "$tmp/run" >"$tmp/out"
    rm -rf "$tmp/run"
    # An epoch is ceil(train_rows / b) steps.
    awk -v s="$(field "$tmp/out" epoch_seconds)" -v n="$train_rows" -v b="$b" 'BEGIN { printf "%.4f\n", 1e3 * s / int((n + b - 1) / b) }'
  done | fastest | sed "s/^/digitsum,$b,/" >>"$out"
done
for b in 4 8 16 32 64 128; do
  for r in $(seq "$rounds"); do
    bin/charlm train --batch "$b" --steps 6 --eval-every 1000000 --threads 1 --quiet --run-dir "$tmp/run" >"$tmp/out" 2>&1
    rm -rf "$tmp/run"
    field "$tmp/out" step_ms
  done | fastest | sed "s/^/charlm,$b,/" >>"$out"
done
cat "$out"
