#!/usr/bin/env bash
# Runs bin/l1norm end to end and checks what it promises: convergence to
# w_ih = w_hh = 1 with a summary line, the run directory's files, --quiet,
# --help, one-line errors for bad flags that create nothing, the inits
# (positive by default, torch, default as torch's old name, explicit values
# with --bias), --max-steps, and SIGTERM during the test (exit 143, the
# test left to --resume). Prints "N passed, M failed"; exits 1 if M > 0.
demo=l1norm
. "$(dirname "$0")/demo_common.bash"
l1norm() { run_demo "$@"; }

if [ ! -x "$program" ]; then
  fail "$program is missing (run make)"
  finish
fi

# ------------------------------------------------------------ the default run
run="$tmp/run"
l1norm --seed 42 --quiet --run-dir "$run"
main_code=$code
cp "$tmp/out" "$tmp/main.out"
cp "$tmp/err" "$tmp/main.err"
expect "--seed 42 --quiet exits with 0, not $main_code (stderr: $(head -c 300 "$tmp/err"))" [ "$main_code" -eq 0 ]
last=$(tail -n 1 "$tmp/main.out")
expect "the last stdout line starts with 'summary: ': '$last'" [ "${last#summary: }" != "$last" ]
converged=$(summary converged "$tmp/main.out")
steps=$(summary steps "$tmp/main.out")
w_ih=$(summary w_ih "$tmp/main.out")
w_hh=$(summary w_hh "$tmp/main.out")
rel_err=$(summary rel_err "$tmp/main.out")
test_len=$(summary test_len "$tmp/main.out")
expect "converged=1 (got '$converged')" [ "$converged" = 1 ]
expect "w_ih=1 exactly (got '$w_ih')" [ "$w_ih" = 1 ]
expect "w_hh=1 exactly (got '$w_hh')" [ "$w_hh" = 1 ]
if is_uint "$steps" && [ "$steps" -ge 1 ] && [ "$steps" -le 50000 ]; then pass; else
  fail "steps=N with 1 <= N <= 50000 (got '$steps')"
  steps=""
fi
expect "rel_err < 1e-4 (got '$rel_err')" less_than "$rel_err" 1e-4
expect "test_len=10000 (got '$test_len')" [ "$test_len" = 10000 ]
run_line=$(grep '^run: ' "$tmp/main.out" | head -n 1)
expect "a 'run: $run' line (got '$run_line')" [ "$run_line" = "run: $run" ]

for f in params.csv metrics.csv model.safetensors; do
  expect "$run/$f exists and is not empty" [ -s "$run/$f" ]
done
expect "params.csv starts with the header name,value" [ "$(head -n 1 "$run/params.csv" 2>/dev/null)" = "name,value" ]
metrics="$run/metrics.csv"
if [ -f "$metrics" ]; then
  header=$(head -n 1 "$metrics")
  expect "metrics.csv header is step,loss,w_ih,w_hh (got '$header')" [ "$header" = "step,loss,w_ih,w_hh" ]
  rows=$(tail -n +2 "$metrics" | wc -l)
  last_step=$(tail -n 1 "$metrics" | cut -d, -f1)
  if [ -n "$steps" ]; then
    expect "metrics.csv has exactly $steps data rows (got $rows)" [ "$rows" -eq "$steps" ]
    expect "metrics.csv's last step is $steps (got '$last_step')" [ "$last_step" = "$steps" ]
  else
    fail "metrics.csv rows not checked: no valid steps in the summary"
  fi
  bad_row=$(awk -F, 'NR > 1 && ($1 != NR - 1 || NF != 4) { print NR ": " $0; exit }' "$metrics")
  expect "metrics.csv rows are steps 1, 2, 3, ... with 4 fields (first bad line $bad_row)" [ -z "$bad_row" ]
fi

# --quiet: nothing but the run: and summary: lines, nothing on stderr.
other=$(grep -v -e '^run: ' -e '^summary: ' "$tmp/main.out" | head -n 3)
expect "--quiet prints only the run:/summary lines (also printed: '$other')" [ -z "$other" ]
expect "--quiet prints nothing on stderr (got '$(head -c 300 "$tmp/main.err")')" [ ! -s "$tmp/main.err" ]

# ------------------------------------------------------------ --init positive, torch, default
# param NAME DIR: NAME's value in DIR/params.csv.
param() { sed -n "s/^\"$1\",\"\(.*\)\"\$/\1/p" "$2/params.csv" 2>/dev/null; }
# absolute P T ...: each P is > 0 and the text of T without its sign.
absolute() { while [ $# -ge 2 ]; do less_than 0 "$1" && [ "$1" = "${2#-}" ] || return 1; shift 2; done; }
expect "the default run records init=positive (got '$(param init "$run")')" [ "$(param init "$run")" = positive ]
# PyTorch's draw for seed 5, the default of every build before 'positive':
# w_ih < 0, so the ReLU is dead from the first step.
old_ih=-0.81447649 old_hh=0.0713478699
# Seeds whose PyTorch draw has w_ih < 0 (3 and 10 with w_hh < 0 too), and
# 42 (w_hh < 0): the default converges from each, from |PyTorch's draw|.
for seed in 3 5 7 10 11 42; do
  l1norm --seed $seed --init torch --max-steps 1 --quiet --run-dir "$tmp/torch-$seed"
  t_ih=$(param initial_w_ih "$tmp/torch-$seed") t_hh=$(param initial_w_hh "$tmp/torch-$seed")
  if [ $seed = 42 ]; then p=$run; else
    p="$tmp/positive-$seed"
    l1norm --seed $seed --quiet --run-dir "$p"
    expect "seed $seed (torch's w_ih $t_ih): the default init converges (got converged='$(summary converged)' \
steps='$(summary steps)')" [ "$(summary converged)" = 1 -a "$(summary w_ih)" = 1 -a "$(summary w_hh)" = 1 ]
  fi
  p_ih=$(param initial_w_ih "$p") p_hh=$(param initial_w_hh "$p")
  expect "seed $seed: the default's initial w_ih, w_hh ($p_ih, $p_hh) are positive and |torch's| ($t_ih, $t_hh)" \
    absolute "$p_ih" "$t_ih" "$p_hh" "$t_hh"
  [ $seed = 42 ] || expect "seed $seed: torch's draw has w_ih < 0 (got '$t_ih')" less_than "$t_ih" 0
done

# --init torch: the old default, PyTorch's draw as it is. From seed 5's the
# ReLU is dead: no gradient, the weights never move, no convergence.
l1norm --seed 5 --init torch --max-steps 300 --quiet --run-dir "$tmp/torch"
expect "--seed 5 --init torch --max-steps 300 exits with 0 (got $code)" [ "$code" -eq 0 ]
expect "--seed 5 --init torch prints 'did not converge within 300 steps'" \
  grep -qx 'did not converge within 300 steps' "$tmp/out"
expect "--seed 5 --init torch starts from the old default's w_ih, w_hh ($old_ih, $old_hh; got \
$(param initial_w_ih "$tmp/torch"), $(param initial_w_hh "$tmp/torch"))" \
  [ "$(param initial_w_ih "$tmp/torch")" = $old_ih -a "$(param initial_w_hh "$tmp/torch")" = $old_hh ]
expect "--seed 5 --init torch: the dead ReLU leaves w_ih, w_hh where they began (got $(summary w_ih), $(summary w_hh))" \
  [ "$(summary converged)" = 0 -a "$(summary w_ih)" = $old_ih -a "$(summary w_hh)" = $old_hh ]

# --init default: torch's old name, which checkpoints of older builds hold;
# such a run resumes (its settings and initial weights check out).
l1norm --seed 5 --init default --max-steps 5 --quiet --run-dir "$tmp/old-name"
expect "--init default exits with 0 (got $code: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "--init default is torch's init ($old_ih, $old_hh; got $(param initial_w_ih "$tmp/old-name"), \
$(param initial_w_hh "$tmp/old-name"))" \
  [ "$(param initial_w_ih "$tmp/old-name")" = $old_ih -a "$(param initial_w_hh "$tmp/old-name")" = $old_hh ]
l1norm --resume "$tmp/old-name" --quiet
expect "--resume of an init=default run exits with 0 (got $code: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "--resume of an init=default run ends at its step 5 (got '$(summary steps)')" [ "$(summary steps)" = 5 ]

# ------------------------------------------------------------ progress on a pipe
(cd "$tmp/work" && timeout 120 "$program" --seed 42 --run-dir "$tmp/verbose" | cat) >"$tmp/out" 2>"$tmp/err"
expect "without --quiet (stdout a pipe), 'step 1000/...' progress lines appear" \
  grep -qE '^step 1000/[0-9]+ ' "$tmp/out"
if grep -q $'[\r\033]' "$tmp/out"; then fail "progress on a pipe contains carriage returns or escape codes"; else pass; fi
expect "the same seed gives the same result with and without --quiet" \
  [ "$(summary steps)" = "$steps" -a "$(summary w_ih)" = "$w_ih" -a -n "$steps" ]

# ------------------------------------------------------------ --help
l1norm --help
expect "--help exits with 0 (got $code)" [ "$code" -eq 0 ]
for flag in --seed --lr --batch --max-len --max-steps --init --bias --test-len --run-dir --quiet; do
  expect "--help mentions $flag" grep -q -e "$flag\b" "$tmp/out"
done
expect "--help writes nothing to stderr" [ ! -s "$tmp/err" ]

# ------------------------------------------------------------ bad input
metrics_before=$(cksum <"$metrics" 2>/dev/null)
listing_before=$(ls -A "$tmp")
bad_case --lr --lr -1
bad_case --lr --lr abc
bad_case --batch --batch 0
bad_case --max-len --max-len abc
bad_case --max-steps --max-steps 0
bad_case --bogus --bogus
bad_case --init --init w_ih=1
bad_case --init --init w_ih=1,w_hh=x
bad_case --init --init w_ih=1,w_hh=1,b_ih=0,b_hh=0
bad_case --init --init bogus
bad_case --seed --seed
listing_after=$(ls -A "$tmp")
expect "the flag errors create nothing under $tmp (before: $(echo $listing_before); after: $(echo $listing_after))" \
  [ "$listing_before" = "$listing_after" ]

# A run directory that already holds a run is refused, untouched.
l1norm --run-dir "$run" --max-steps 5
expect "--run-dir of an existing run exits with a code in 1..127 (got $code)" [ "$code" -gt 0 -a "$code" -lt 128 ]
lines=$(wc -l <"$tmp/err")
if [ "$lines" -eq 1 ]; then pass; else
  fail "--run-dir of an existing run prints exactly one line on stderr (got $lines):"
  show "$tmp/err"
fi
if grep -qF -e --run-dir "$tmp/err" || grep -qF -e "$run" "$tmp/err"; then pass; else
  fail "--run-dir of an existing run: the error names --run-dir or $run: '$(head -n 1 "$tmp/err")'"
fi
expect "--run-dir of an existing run leaves its metrics.csv as it was" [ "$(cksum <"$metrics" 2>/dev/null)" = "$metrics_before" ]

# ------------------------------------------------------------ --init with --bias
l1norm --bias --init w_hh=0.5,w_ih=0.01,b_hh=-0.5,b_ih=0.5 --quiet --run-dir "$tmp/bias"
expect "--bias --init w_hh=0.5,w_ih=0.01,b_hh=-0.5,b_ih=0.5 exits with 0 (got $code)" [ "$code" -eq 0 ]
expect "--bias --init w_hh=0.5,w_ih=0.01,b_hh=-0.5,b_ih=0.5 converges (got converged='$(summary converged)')" \
  [ "$(summary converged)" = 1 ]
expect "the --init values are recorded in params.csv" grep -qx '"initial_w_ih","0.00999999978"' "$tmp/bias/params.csv"

# ------------------------------------------------------------ --max-steps
l1norm --max-steps 5 --quiet --run-dir "$tmp/short"
expect "--max-steps 5 exits with 0 (got $code)" [ "$code" -eq 0 ]
expect "--max-steps 5 gives converged=0 (got '$(summary converged)')" [ "$(summary converged)" = 0 ]
expect "--max-steps 5 gives steps=5 (got '$(summary steps)')" [ "$(summary steps)" = 5 ]
expect "--max-steps 5 prints 'did not converge within 5 steps'" grep -qx 'did not converge within 5 steps' "$tmp/out"
expect "--max-steps 5 logs 5 metrics rows" [ "$(tail -n +2 "$tmp/short/metrics.csv" 2>/dev/null | wc -l)" -eq 5 ]

# ------------------------------------------------------------ SIGTERM during the test
# Exact weights from the start: no training step, and a test of 3*10^7
# values (over a second) that SIGTERM stops; --resume finishes it.
test_run="$tmp/test-term"
(cd "$tmp/work" && exec "$program" --init w_ih=1,w_hh=1 --test-len 30000000 --quiet --run-dir "$test_run") \
  </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
waited=0
while [ ! -s "$test_run/params.csv" ] && [ $waited -lt 2000 ]; do sleep 0.01; waited=$((waited + 1)); done
sleep 0.3
kill -TERM "$pid" 2>/dev/null
# The program itself, not a timeout in between, answers the signal; a
# program that ignored it would run on (seconds): it gets 60.
waited=0
while kill -0 "$pid" 2>/dev/null && [ $waited -lt 6000 ]; do sleep 0.01; waited=$((waited + 1)); done
kill -KILL "$pid" 2>/dev/null
wait "$pid"
code=$?
expect "SIGTERM during the test exits with 143 (got $code)" [ "$code" -eq 143 ]
expect "  with one line on stderr (got $(wc -l <"$tmp/err"))" [ "$(wc -l <"$tmp/err")" -eq 1 ]
expect "  saying training is saved, the test skipped and --resume finishes it: '$(head -n 1 "$tmp/err")'" \
  grep -q "SIGTERM during the test: training is complete and saved in $test_run; the test was skipped (finish it with: l1norm --resume $test_run)" "$tmp/err"
expect "  and writes no model.safetensors" [ ! -e "$test_run/model.safetensors" ]
expect "  nor a summary line" [ -z "$(summary converged)" ]
l1norm --resume "$test_run" --quiet
expect "--resume of a run stopped in its test exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "  and tests: test_len=30000000 (got '$(summary test_len)')" [ "$(summary test_len)" = 30000000 ]
expect "  and writes model.safetensors" [ -s "$test_run/model.safetensors" ]

finish
