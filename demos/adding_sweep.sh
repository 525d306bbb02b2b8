#!/usr/bin/env bash
# The paper's figure: IRNN, tanh RNN and LSTM on the adding problem for
# T = 150, 200, 300 and 400, each for STEPS steps (default 30,000: the
# whole sweep takes about an hour on a 2-core machine). Writes
# runs/adding-sweep-DATE-TIME/ with one run per model and T, results.csv,
# and PLOT (default plots/adding_sweep.png); prints a Markdown table of the
# final test MSE.
#
# Where the 12 trainings run:
#   (default)            two at a time on this machine, one per core;
#   RANKS=K [HOSTFILE=H] over K MPI processes (mpirun -np K --hostfile H),
#                        process r running configurations r, r + K, ...
#                        one after the other; the table comes at the end.
#                        Every host must see this directory at the same
#                        path (a shared file system), and bin/adding built.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bin/adding ] || { echo "adding_sweep: build first (make bin/adding)" >&2; exit 1; }

# Longest first, so the slots stay busy until the end.
configurations() {
  for T in 400 300 200 150; do
    for model in lstm irnn rnn-tanh; do echo "$model $T"; done
  done
}
run_one() {
  local model=$1 T=$2
  bin/adding --model "$model" --T "$T" --steps "$steps" --eval-every "$eval_every" --test-size "$test_size" \
    --threads 1 --quiet --run-dir "$out/$model-T$T" > "$out/$model-T$T.log" 2>&1 || echo "adding_sweep: $model T=$T failed (see $out/$model-T$T.log)" >&2
  echo "done: $model T=$T: $(tail -n 1 "$out/$model-T$T.log")"
}
export OPENBLAS_NUM_THREADS=1

# One MPI process of a RANKS=K sweep: its share of the configurations.
if [ "${1:-}" = --worker ]; then
  out=$2 steps=$3 eval_every=$4 test_size=$5
  rank=${OMPI_COMM_WORLD_RANK:?adding_sweep --worker runs under mpirun} size=${OMPI_COMM_WORLD_SIZE}
  # Each training is a plain one-process run: bin/adding must not take
  # itself for one of this job's MPI processes.
  for variable in $(compgen -e | grep -E '^(OMPI_|PMIX_)'); do unset "$variable"; done
  configurations | awk -v r="$rank" -v k="$size" '(NR - 1) % k == r' | while read -r model T; do run_one "$model" "$T"; done
  exit 0
fi

steps=${STEPS:-30000}
eval_every=${EVAL_EVERY:-1000}
test_size=${TEST_SIZE:-1000}
out=${OUT:-runs/adding-sweep-$(date +%Y%m%d-%H%M%S)}
plot=${PLOT:-plots/adding_sweep.png}
mkdir -p "$out"
if [ -n "${RANKS:-}" ]; then
  [[ $RANKS =~ ^[1-9][0-9]*$ ]] || { echo "adding_sweep: RANKS='$RANKS' is not a number of processes" >&2; exit 2; }
  hostfile=()
  [ -n "${HOSTFILE:-}" ] && hostfile=(--hostfile "$HOSTFILE")
  # As root (a container, CI), Open MPI wants to be told.
  [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpirun -np "$RANKS" "${hostfile[@]}" ${MPIRUN_FLAGS:-} -x OPENBLAS_NUM_THREADS --wdir "$(pwd)" \
    bash demos/adding_sweep.sh --worker "$out" "$steps" "$eval_every" "$test_size"
else
  export -f run_one
  export out steps eval_every test_size
  configurations | xargs -P 2 -L 1 bash -c 'run_one "$@"' _
fi

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
gnuplot -e "dir='$out'" -e "out='$plot'" plots/adding_sweep.gp
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
echo "written: $out/results.csv, $plot"
