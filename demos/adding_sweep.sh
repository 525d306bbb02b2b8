#!/usr/bin/env bash
# The paper's figure: IRNN, tanh RNN and LSTM on the adding problem for
# T = 150, 200, 300 and 400, two trainings at a time (one per core), each
# for STEPS steps (default 30,000: the whole sweep takes about an hour on a
# 2-core machine). Writes runs/adding-sweep-DATE-TIME/ with one run per
# model and T, results.csv, and plots/adding_sweep.png; prints a Markdown
# table of the final test MSE.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bin/adding ] || { echo "adding_sweep: build first (make bin/adding)" >&2; exit 1; }
steps=${STEPS:-30000}
eval_every=${EVAL_EVERY:-1000}
test_size=${TEST_SIZE:-1000}
out=${OUT:-runs/adding-sweep-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

# Longest first, so the two slots stay busy until the end.
jobs=""
for T in 400 300 200 150; do
  for model in lstm irnn rnn-tanh; do jobs+="$model $T"$'\n'; done
done
run_one() {
  local model=$1 T=$2
  bin/adding --model "$model" --T "$T" --steps "$steps" --eval-every "$eval_every" --test-size "$test_size" \
    --threads 1 --quiet --run-dir "$out/$model-T$T" > "$out/$model-T$T.log" 2>&1 || echo "adding_sweep: $model T=$T failed (see $out/$model-T$T.log)" >&2
  echo "done: $model T=$T: $(tail -n 1 "$out/$model-T$T.log")"
}
export -f run_one
export out steps eval_every test_size
printf '%s' "$jobs" | xargs -P 2 -L 1 bash -c 'run_one "$@"' _

value() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }
echo "model,T,steps,test_mse,baseline_mse,step_ms,first_step_below_0.01" > "$out/results.csv"
for model in irnn rnn-tanh lstm; do
  for T in 150 200 300 400; do
    log="$out/$model-T$T.log"
    [ -f "$log" ] || continue
    below=$(awk -F, 'NR > 1 && $3 != "" && $3 < 0.01 {print $1; exit}' "$out/$model-T$T/metrics.csv")
    echo "$model,$T,$(value "$log" steps),$(value "$log" test_mse),$(value "$log" baseline_mse),$(value "$log" step_ms),${below:-}" >> "$out/results.csv"
  done
done
gnuplot -e "dir='$out'" -e "out='plots/adding_sweep.png'" plots/adding_sweep.gp
echo "| model | T=150 | T=200 | T=300 | T=400 |"
echo "|---|---:|---:|---:|---:|"
for model in irnn rnn-tanh lstm; do
  row="| $model"
  for T in 150 200 300 400; do
    row+=" | $(awk -F, -v m="$model" -v t="$T" '$1 == m && $2 == t {printf "%.4f", $4}' "$out/results.csv")"
  done
  echo "$row |"
done
echo
# The runs themselves, as bin/runs lists any runs (status, settings that differ, last metrics).
[ -x bin/runs ] && bin/runs list "$out" --sort test_mse
echo "written: $out/results.csv, plots/adding_sweep.png"
