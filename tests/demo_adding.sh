#!/usr/bin/env bash
# Runs bin/adding end to end and checks what it promises: a short IRNN run
# with its summary line and run directory (params.csv, metrics.csv with a
# row per step and a test MSE every --eval-every steps, the baseline MSE in
# params.csv, also when resumed; model.safetensors),
# the rnn-tanh, lstm and gru models, --optim sgd, --stop-below, --help, one-line
# errors for bad flags that create nothing, and reproducible seeds. Prints
# "N passed, M failed"; exits 1 if M > 0.
demo=adding
. "$(dirname "$0")/demo_common.bash"
adding() { run_demo "$@"; }

if [ ! -x "$program" ]; then
  fail "$program is missing (run make)"
  finish
fi

# ------------------------------------------------------------ a short run
run="$tmp/run"
short=(--T 20 --hidden 16 --steps 300 --eval-every 100 --test-size 200 --lr 1e-2 --quiet)
adding "${short[@]}" --run-dir "$run"
main_code=$code
cp "$tmp/out" "$tmp/main.out"
expect "the short run exits with 0, not $main_code (stderr: $(head -c 300 "$tmp/err"))" [ "$main_code" -eq 0 ]
last=$(tail -n 1 "$tmp/main.out")
expect "the last stdout line starts with 'summary: ': '$last'" [ "${last#summary: }" != "$last" ]
expect "summary model=irnn (got '$(summary model "$tmp/main.out")')" [ "$(summary model "$tmp/main.out")" = irnn ]
expect "summary T=20 (got '$(summary T "$tmp/main.out")')" [ "$(summary T "$tmp/main.out")" = 20 ]
expect "summary steps=300 (got '$(summary steps "$tmp/main.out")')" [ "$(summary steps "$tmp/main.out")" = 300 ]
main_mse=$(summary test_mse "$tmp/main.out")
expect "summary test_mse is a number in [0, 10] (got '$main_mse')" between "$main_mse" 0 10
baseline=$(summary baseline_mse "$tmp/main.out")
expect "summary baseline_mse is about 1/6: in [0.1, 0.25] (got '$baseline')" between "$baseline" 0.1 0.25
seconds=$(summary seconds "$tmp/main.out")
expect "summary seconds is a number >= 0 (got '$seconds')" between "$seconds" 0 1e9
run_line=$(grep '^run: ' "$tmp/main.out" | head -n 1)
expect "a 'run: $run' line (got '$run_line')" [ "$run_line" = "run: $run" ]
other=$(grep -v -e '^run: ' -e '^summary: ' "$tmp/main.out" | head -n 3)
expect "--quiet prints only the run:/summary lines (also printed: '$other')" [ -z "$other" ]
expect "--quiet prints nothing on stderr (got '$(head -c 300 "$tmp/err")')" [ ! -s "$tmp/err" ]

for f in params.csv metrics.csv model.safetensors; do
  expect "$run/$f exists and is not empty" [ -s "$run/$f" ]
done
expect "params.csv starts with the header name,value" [ "$(head -n 1 "$run/params.csv" 2>/dev/null)" = "name,value" ]
expect "params.csv records model irnn" grep -qx '"model","irnn"' "$run/params.csv"
expect "params.csv records T 20" grep -qx '"T","20"' "$run/params.csv"
metrics="$run/metrics.csv"
if [ -f "$metrics" ]; then
  header=$(head -n 1 "$metrics")
  expect "metrics.csv header is step,loss,test_mse,grad_norm (got '$header')" [ "$header" = "step,loss,test_mse,grad_norm" ]
  rows=$(tail -n +2 "$metrics" | wc -l)
  expect "metrics.csv has 301 data rows, steps 0..300 (got $rows)" [ "$rows" -eq 301 ]
  bad_row=$(awk -F, 'NR > 1 && ($1 != NR - 2 || NF != 4) { print NR ": " $0; exit }' "$metrics")
  expect "metrics.csv rows are steps 0, 1, 2, ... with 4 fields (first bad line $bad_row)" [ -z "$bad_row" ]
  evaluated=$(awk -F, 'NR > 1 && $3 != "" { printf "%s ", $1 }' "$metrics")
  expect "test_mse is filled in exactly at steps 0 100 200 300 (got '$evaluated')" [ "$evaluated" = "0 100 200 300 " ]
  bad_value=$(awk -F, 'NR > 2 && ($2 == "" || $4 == "") { print NR ": " $0; exit }' "$metrics")
  expect "loss and grad_norm are filled in at every step after 0 (first bad line $bad_value)" [ -z "$bad_value" ]
  final_mse=$(awk -F, '$1 == "300" { print $3 }' "$metrics")
  expect "metrics.csv's test_mse at step 300 ($final_mse) is the summary's ($main_mse)" \
    awk -v a="$final_mse" -v b="$main_mse" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * (b < 0 ? -b : b) + 1e-9) }'
else
  fail "metrics.csv missing: its rows not checked"
fi
# The always-answer-1 baseline goes into params.csv, where plots/adding.gp
# finds it: the summary's value (printed to 6 digits).
params_baseline=$(sed -n 's/^"baseline_mse","\(.*\)"$/\1/p' "$run/params.csv" 2>/dev/null)
expect "params.csv records baseline_mse, the summary's $baseline (got '$params_baseline')" close "$params_baseline" "$baseline" 1e-6
# A resumed run computes it again from the test targets (no evaluation
# before training), and its settings must match the checkpoint's, or it
# is refused: resuming the finished run goes through that check.
adding --resume "$run" --quiet
expect "--resume of the finished run exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "--resume: summary baseline_mse is the first run's $baseline (got '$(summary baseline_mse)')" \
  [ "$(summary baseline_mse)" = "$baseline" ]

# ------------------------------------------------------------ other models, sgd
tiny=(--T 10 --hidden 8 --steps 20 --eval-every 10 --test-size 50 --quiet)
for model in rnn-tanh lstm gru; do
  adding --model "$model" "${tiny[@]}" --run-dir "$tmp/$model"
  expect "--model $model exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
  expect "--model $model: summary model=$model (got '$(summary model)')" [ "$(summary model)" = "$model" ]
  expect "--model $model: summary steps=20 (got '$(summary steps)')" [ "$(summary steps)" = 20 ]
  expect "--model $model: test_mse is a number (got '$(summary test_mse)')" between "$(summary test_mse)" 0 1e6
  expect "--model $model writes model.safetensors" [ -s "$tmp/$model/model.safetensors" ]
  expect "--model $model is recorded in params.csv" grep -qx "\"model\",\"$model\"" "$tmp/$model/params.csv"
done
# The GRU's checkpoint holds torch.nn.GRUCell's names under "gru." and the readout.
for name in gru.weight_ih gru.weight_hh gru.bias_ih gru.bias_hh linear.weight linear.bias; do
  expect "--model gru: model.safetensors names $name" grep -qF "\"$name\"" "$tmp/gru/model.safetensors"
done
expect "--model gru: model.safetensors has no rnn.* tensor" [ -z "$(grep -aF '"rnn.' "$tmp/gru/model.safetensors")" ]
adding --optim sgd --lr 0.01 "${tiny[@]}" --run-dir "$tmp/sgd"
expect "--optim sgd exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "--optim sgd: summary steps=20 (got '$(summary steps)')" [ "$(summary steps)" = 20 ]
expect "--optim sgd is recorded in params.csv" grep -qx '"optim","sgd"' "$tmp/sgd/params.csv"

# ------------------------------------------------------------ --stop-below
adding --T 10 --hidden 8 --steps 100 --eval-every 10 --test-size 50 --stop-below 10 --quiet --run-dir "$tmp/stop"
expect "--stop-below 10 exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "--stop-below 10 stops at the first evaluation: steps=10 (got '$(summary steps)')" [ "$(summary steps)" = 10 ]
rows=$(tail -n +2 "$tmp/stop/metrics.csv" 2>/dev/null | wc -l)
expect "--stop-below 10 logs steps 0..10: 11 rows (got $rows)" [ "$rows" -eq 11 ]

# ------------------------------------------------------------ --help
adding --help
expect "--help exits with 0 (got $code)" [ "$code" -eq 0 ]
for flag in --model --T --hidden --batch --lr --optim --clip --identity-scale --forget-bias --train-size --test-size \
  --steps --epochs --eval-every --stop-below --seed --run-dir --quiet; do
  expect "--help mentions $flag" grep -q -e "$flag\b" "$tmp/out"
done
for model in irnn rnn-tanh lstm gru; do
  expect "--help names the model $model" grep -qw -e "$model" "$tmp/out"
done
expect "--help writes nothing to stderr" [ ! -s "$tmp/err" ]
expect "--help creates nothing" [ -z "$(ls -A "$tmp/work")" ]

# ------------------------------------------------------------ bad input
listing_before=$(ls -A "$tmp")
bad_case --T --T 1
bad_case --hidden --hidden 0
bad_case --clip --clip -1
bad_case --threads --threads 65
bad_case --threads --threads -1
bad_case --clip --clip 0
bad_case --model --model foo
expect "--model foo: the error lists the models irnn, rnn-tanh, lstm, gru (got '$(head -n 1 "$tmp/err")')" \
  grep -qF "'foo' is not one of irnn, rnn-tanh, lstm, gru" "$tmp/err"
bad_case --optim --optim rmsprop
bad_case --lr --lr 0
bad_case --batch --batch abc
bad_case --bogus --bogus
bad_case --steps --steps
listing_after=$(ls -A "$tmp")
expect "the flag errors create nothing under $tmp (before: $(echo $listing_before); after: $(echo $listing_after))" \
  [ "$listing_before" = "$listing_after" ]
expect "no run created runs/ in the working directory" [ -z "$(ls -A "$tmp/work")" ]

# ------------------------------------------------------------ seeds
seeded=(--T 10 --hidden 8 --steps 50 --eval-every 50 --test-size 100 --quiet)
adding "${seeded[@]}" --seed 7 --run-dir "$tmp/seed7a"
mse_a=$(summary test_mse)
adding "${seeded[@]}" --seed 7 --run-dir "$tmp/seed7b"
mse_b=$(summary test_mse)
adding "${seeded[@]}" --seed 8 --run-dir "$tmp/seed8"
mse_c=$(summary test_mse)
expect "--seed 7 twice gives the same test_mse (got '$mse_a' and '$mse_b')" [ -n "$mse_a" -a "$mse_a" = "$mse_b" ]
expect "the same seed writes the same metrics.csv" cmp -s "$tmp/seed7a/metrics.csv" "$tmp/seed7b/metrics.csv"
expect "--seed 8 gives another test_mse than --seed 7 (got '$mse_c' and '$mse_a')" [ -n "$mse_c" -a "$mse_c" != "$mse_a" ]

# ---------------------------------------------------------- BLAS kernels
# OpenBLAS on a CPU model it does not know runs its SSE3 kernels; the demo
# then starts again with OPENBLAS_CORETYPE set to the CPU's family.
# AG_TEST_BLAS_KERNELS stands in for such an OpenBLAS (this one knows its CPU).
kernels=(--T 10 --hidden 8 --steps 20 --eval-every 10 --test-size 16 --quiet)
adding "${kernels[@]}" --run-dir "$tmp/kernels"
expect "params.csv names OpenBLAS's kernel family" grep -q '^"blas_kernels","[A-Za-z0-9_]*"$' "$tmp/kernels/params.csv"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  AG_TEST_BLAS_KERNELS=Prescott adding "${kernels[@]}" --run-dir "$tmp/kernels-fit"
  expect "with SSE3 kernels on an AVX2 CPU the run goes on (exit $code; stderr: $(head -c 200 "$tmp/err"))" \
    [ "$code" -eq 0 -a ! -s "$tmp/err" ]
  expect "  started again with OPENBLAS_CORETYPE set by ag, as params.csv says" \
    grep -q '^"blas_kernels_before",".*(OPENBLAS_CORETYPE set by ag)"$' "$tmp/kernels-fit/params.csv"
  expect "  the same results as the run that needed nothing" cmp -s <(cut -d, -f1-3 "$tmp/kernels/metrics.csv") \
    <(cut -d, -f1-3 "$tmp/kernels-fit/metrics.csv")
  OPENBLAS_CORETYPE=Prescott AG_TEST_BLAS_KERNELS=Prescott adding "${kernels[@]}" --run-dir "$tmp/kernels-user"
  expect "a user's OPENBLAS_CORETYPE=Prescott is kept: params.csv says Prescott" \
    grep -q '^"blas_kernels","Prescott"$' "$tmp/kernels-user/params.csv"
  expect "  and ag did not set it" [ -z "$(grep blas_kernels_before "$tmp/kernels-user/params.csv")" ]
fi

# --------------------------------------------------------------- threads
# The batch is split in two chunks (batch 16, hidden 32): one thread and
# two must give the same bits.
threaded=(--T 30 --hidden 32 --batch 16 --steps 60 --eval-every 30 --test-size 64 --quiet --seed 3)
adding "${threaded[@]}" --threads 1 --run-dir "$tmp/threads1"
adding "${threaded[@]}" --threads 2 --run-dir "$tmp/threads2"
expect "--threads 1 and --threads 2 write the same metrics.csv" \
  cmp -s "$tmp/threads1/metrics.csv" "$tmp/threads2/metrics.csv"
# The tensors, after the header (which records --threads among the settings).
tensors() { tail -c +$((9 + $(od -An -t u8 -N 8 "$1" | tr -d ' '))) "$1"; }
expect "--threads 1 and --threads 2 save the same weights" \
  cmp -s <(tensors "$tmp/threads1/model.safetensors") <(tensors "$tmp/threads2/model.safetensors")
adding "${threaded[@]}" --seed 4 --threads 2 --run-dir "$tmp/threads-seed4"
differ() { ! cmp -s "$1" "$2"; }
expect "another seed's weights differ (so the comparison can fail)" \
  differ <(tensors "$tmp/threads1/model.safetensors") <(tensors "$tmp/threads-seed4/model.safetensors")

finish
