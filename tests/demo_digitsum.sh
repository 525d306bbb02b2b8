#!/usr/bin/env bash
# Runs bin/digitsum end to end and checks what it promises: gen-data writes
# every sequence (leading zeros kept, lengths 2..K or --only K) or a seeded
# --sample; train writes its summary line and run directory (params.csv,
# metrics.csv with one row per epoch, model.safetensors) for both models;
# predict with a checkpoint trained in PyTorch
# (tests/fixtures/make_digitsum_fixture.py) prints PyTorch's own greedy
# answers, from arguments and from stdin; eval scores 1.0000 on the inputs
# PyTorch got right and 0.0000 on those it got wrong; --help; one-line
# errors with exit codes 1..127 that create no run directory; gen-data
# removes a dead writer's temporary file; --resume refuses a data file
# replaced by other rows. Prints "N passed, M failed"; exits 1 if M > 0.
demo=digitsum
. "$(dirname "$0")/demo_common.bash"
fixture="$root/tests/fixtures/digitsum_torch_lstm16"
digitsum() { run_demo "$@"; }
# bad_rows FILE: the first row of a gen-data CSV that is not "digits,sum"
# with the right sum (empty if none).
bad_rows() {
  awk -F, '{ s = 0; for (i = 1; i <= length($1); i++) s += substr($1, i, 1);
             if (NF != 2 || $1 !~ /^[0-9]+$/ || $2 !~ /^[0-9]+$/ || s != $2 + 0) { print NR ": " $0; exit } }' "$1"
}

if [ ! -x "$program" ]; then
  fail "$program is missing (run make)"
  finish
fi
for f in "$fixture.safetensors" "$fixture.txt"; do
  if [ ! -s "$f" ]; then
    fail "$f is missing (run /usr/bin/python3 tests/fixtures/make_digitsum_fixture.py)"
    finish
  fi
done

# ------------------------------------------------------------ gen-data
d4="$tmp/d4.csv"
digitsum gen-data --len 4 --out "$d4"
expect "gen-data --len 4 exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
rows=$(wc -l <"$d4" 2>/dev/null || echo 0)
expect "gen-data --len 4 writes 11100 rows (100 + 1000 + 10000; got $rows)" [ "$rows" -eq 11100 ]
expect "the first row is 00,0, with no header (got '$(head -n 1 "$d4" 2>/dev/null)')" [ "$(head -n 1 "$d4" 2>/dev/null)" = "00,0" ]
expect "leading zeros are kept: 0294,15 is a row" grep -qx '0294,15' "$d4"
expect "the last row is 9999,36 (got '$(tail -n 1 "$d4" 2>/dev/null)')" [ "$(tail -n 1 "$d4" 2>/dev/null)" = "9999,36" ]
bad=$(bad_rows "$d4")
expect "every row is digits,sum with the right sum (first bad row $bad)" [ -z "$bad" ]
counts=$(awk -F, '{ n[length($1)]++ } END { printf "%d %d %d %d", n[1], n[2], n[3], n[4] }' "$d4")
expect "lengths 1..4 appear 0, 100, 1000, 10000 times (got $counts)" [ "$counts" = "0 100 1000 10000" ]
dups=$(cut -d, -f1 "$d4" | sort | uniq -d | head -n 3 | tr '\n' ' ')
expect "no sequence is written twice (got '$dups')" [ -z "$dups" ]
expect "gen-data prints nothing on stderr" [ ! -s "$tmp/err" ]

digitsum gen-data --len 4 --only --out "$tmp/only4.csv"
expect "gen-data --len 4 --only exits with 0 (got $code)" [ "$code" -eq 0 ]
rows=$(wc -l <"$tmp/only4.csv" 2>/dev/null || echo 0)
expect "--only writes 10000 rows (got $rows)" [ "$rows" -eq 10000 ]
other=$(awk -F, 'length($1) != 4 { print NR ": " $0; exit }' "$tmp/only4.csv")
expect "--only writes only length 4 (first other row $other)" [ -z "$other" ]
expect "--only writes the same rows as the length-4 part of the full file" \
  cmp -s "$tmp/only4.csv" <(awk -F, 'length($1) == 4' "$d4")

digitsum gen-data --len 2 --only --out "$tmp/d2.csv"
rows=$(wc -l <"$tmp/d2.csv" 2>/dev/null || echo 0)
expect "gen-data --len 2 --only writes 100 rows (got $rows; exit $code)" [ "$code" -eq 0 -a "$rows" -eq 100 ]

digitsum gen-data --sample 50 --seed 3 --len 12 --out "$tmp/s3a.csv"
expect "gen-data --sample 50 --seed 3 --len 12 exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
rows=$(wc -l <"$tmp/s3a.csv" 2>/dev/null || echo 0)
expect "--sample 50 writes 50 rows (got $rows)" [ "$rows" -eq 50 ]
other=$(awk -F, 'length($1) != 12 { print NR ": " $0; exit }' "$tmp/s3a.csv")
expect "--sample --len 12 writes 12 digits a row (first other row $other)" [ -z "$other" ]
bad=$(bad_rows "$tmp/s3a.csv")
expect "every sampled row has the right sum (first bad row $bad)" [ -z "$bad" ]
distinct=$(cut -d, -f1 "$tmp/s3a.csv" | sort -u | wc -l)
expect "50 random 12-digit sequences are distinct (got $distinct distinct)" [ "$distinct" -eq 50 ]
digitsum gen-data --sample 50 --seed 3 --len 12 --out "$tmp/s3b.csv"
expect "the same seed twice writes the same file" cmp -s "$tmp/s3a.csv" "$tmp/s3b.csv"
digitsum gen-data --sample 50 --seed 4 --len 12 --out "$tmp/s4.csv"
if [ "$code" -eq 0 ] && [ -s "$tmp/s4.csv" ] && ! cmp -s "$tmp/s3a.csv" "$tmp/s4.csv"; then pass; else
  fail "--seed 4 writes another sample than --seed 3 (exit $code)"
fi

digitsum gen-data --len 9 --out "$tmp/d9.csv"
expect "gen-data --len 9 without --sample is refused with a code in 1..127 (got $code)" [ "$code" -gt 0 -a "$code" -lt 128 ]
lines=$(wc -l <"$tmp/err")
expect "gen-data --len 9: exactly one line on stderr (got $lines)" [ "$lines" -eq 1 ]
expect "gen-data --len 9: the error names --len or --sample: '$(head -n 1 "$tmp/err")'" grep -q -e '--len' -e '--sample' "$tmp/err"
expect "gen-data --len 9 writes no file" [ ! -e "$tmp/d9.csv" ]
leftover=$(ls -A "$tmp" | grep -v -e '^work$' -e '^in$' -e '^out$' -e '^err$' -e '\.csv$' | tr '\n' ' ')
expect "gen-data leaves no temporary files (found '$leftover')" [ -z "$leftover" ]

# A gen-data killed mid-write left OUT.tmp.PID: the next gen-data of OUT
# removes it once its process is gone, and keeps a live process's and
# another file's.
mkdir "$tmp/stale"
sh -c 'exit 0' &
dead=$!
wait "$dead"
for f in s.csv.tmp.$dead s.csv.tmp.$$ other.csv.tmp.$dead; do echo partial >"$tmp/stale/$f"; done
digitsum gen-data --len 2 --only --out "$tmp/stale/s.csv"
expect "gen-data over a stale temporary file exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "gen-data removes s.csv.tmp.PID of a process that is gone" [ ! -e "$tmp/stale/s.csv.tmp.$dead" ]
expect "gen-data keeps s.csv.tmp.PID of a live process" [ -e "$tmp/stale/s.csv.tmp.$$" ]
expect "gen-data keeps another file's temporary file" [ -e "$tmp/stale/other.csv.tmp.$dead" ]
rm -r "$tmp/stale"

# ------------------------------------------------------------ train
for model in lstm rnn; do
  run="$tmp/run-$model"
  digitsum train --data "$tmp/d2.csv" --model "$model" --hidden 16 --epochs 3 --quiet --run-dir "$run"
  cp "$tmp/out" "$tmp/train-$model.out"
  expect "train --model $model exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
  last=$(tail -n 1 "$tmp/out")
  expect "train --model $model: the last stdout line starts with 'summary: ': '$last'" [ "${last#summary: }" != "$last" ]
  fields=$(echo "$last" | awk '{ for (i = 2; i <= 6 && i <= NF; i++) { sub(/=.*/, "", $i); printf "%s ", $i } }')
  expect "train --model $model: the summary starts model= epochs= val_acc= val_loss= seconds= (got '$fields')" \
    [ "$fields" = "model epochs val_acc val_loss seconds " ]
  expect "train --model $model: summary model=$model (got '$(summary model)')" [ "$(summary model)" = "$model" ]
  expect "train --model $model: summary epochs=3 (got '$(summary epochs)')" [ "$(summary epochs)" = 3 ]
  val_acc=$(summary val_acc)
  val_loss=$(summary val_loss)
  expect "train --model $model: val_acc is a number in [0, 1] (got '$val_acc')" between "$val_acc" 0 1
  expect "train --model $model: val_loss is a number in (0, 10] (got '$val_loss')" between "$val_loss" 1e-9 10
  expect "train --model $model: seconds is a number >= 0 (got '$(summary seconds)')" between "$(summary seconds)" 0 1e9
  expect "train --model $model: a 'run: $run' line" grep -qx "run: $run" "$tmp/out"
  other=$(grep -v -e '^run: ' -e '^summary: ' "$tmp/out" | head -n 3)
  expect "train --model $model: --quiet prints only the run:/summary lines (also printed: '$other')" [ -z "$other" ]
  expect "train --model $model: --quiet prints nothing on stderr (got '$(head -c 300 "$tmp/err")')" [ ! -s "$tmp/err" ]
  for f in params.csv metrics.csv model.safetensors; do
    expect "train --model $model: $run/$f exists and is not empty" [ -s "$run/$f" ]
  done
  expect "train --model $model: params.csv records model $model" grep -qx "\"model\",\"$model\"" "$run/params.csv"
  expect "train --model $model: params.csv records hidden 16" grep -qx '"hidden","16"' "$run/params.csv"
  metrics="$run/metrics.csv"
  if [ -f "$metrics" ]; then
    header=$(head -n 1 "$metrics")
    expect "train --model $model: metrics.csv header is step,loss,val_loss,val_acc,seconds (got '$header')" \
      [ "$header" = "step,loss,val_loss,val_acc,seconds" ]
    rows=$(tail -n +2 "$metrics" | wc -l)
    expect "train --model $model: metrics.csv has 3 rows (got $rows)" [ "$rows" -eq 3 ]
    bad_row=$(awk -F, 'NR > 1 && ($1 != NR - 1 || NF != 5 || $2 == "" || $3 == "" || $4 == "" || $5 == "") { print NR ": " $0; exit }' "$metrics")
    expect "train --model $model: metrics.csv rows are steps 1, 2, 3 with 5 values (first bad line $bad_row)" [ -z "$bad_row" ]
    final=$(awk -F, '$1 == "3" { print $3, $4 }' "$metrics")
    if close "${final% *}" "$val_loss" 1e-5 && close "${final#* }" "$val_acc" 1e-4; then pass; else
      fail "train --model $model: metrics.csv's last val_loss, val_acc ($final) are not the summary's ($val_loss $val_acc)"
    fi
  else
    fail "train --model $model: metrics.csv missing: its rows not checked"
  fi
  # The checkpoint loads back for predict and eval with the same flags.
  digitsum predict --checkpoint "$run/model.safetensors" --model "$model" --hidden 16 12 345 0
  lines=$(grep -c . "$tmp/out")
  expect "predict with the run's $model checkpoint exits with 0 and prints 3 lines (got $code, $lines; stderr: $(head -c 300 "$tmp/err"))" \
    [ "$code" -eq 0 -a "$lines" -eq 3 ]
  digitsum eval --checkpoint "$run/model.safetensors" --model "$model" --hidden 16 --data "$tmp/d2.csv"
  if [ "$code" -eq 0 ] && grep -qE '^accuracy (0|1)\.[0-9]{4} \(100 sequences\)' "$tmp/out"; then pass; else
    fail "eval with the run's $model checkpoint exits with 0 (got $code) and prints 'accuracy A (100 sequences)': '$(head -n 1 "$tmp/out")'"
  fi
done

# --resume after the data file was replaced by another of as many rows is
# refused (the same data order would replay); with the run's own rows back
# it goes on.
digitsum gen-data --len 4 --only --sample 200 --seed 4 --out "$tmp/f6.csv"
digitsum train --data "$tmp/f6.csv" --hidden 8 --epochs 2 --quiet --run-dir "$tmp/run-f6"
expect "train on f6.csv exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
cp "$tmp/f6.csv" "$tmp/f6-seed4.csv"
digitsum gen-data --len 4 --only --sample 200 --seed 5 --out "$tmp/f6.csv"
checkpoint_before=$(cksum <"$tmp/run-f6/checkpoint.safetensors")
digitsum train --resume "$tmp/run-f6" --quiet
expect_one_line_error "train --resume after f6.csv was replaced:" \
  "digitsum train: --resume $tmp/run-f6: $tmp/f6.csv holds other rows than the run was trained on (fingerprint "
expect "  the error gives both fingerprints: '$(head -n 1 "$tmp/err")'" \
  grep -qE "\(fingerprint [0-9a-f]{16}, the run's [0-9a-f]{16}\)$" "$tmp/err"
expect "  the checkpoint is as it was" [ "$(cksum <"$tmp/run-f6/checkpoint.safetensors")" = "$checkpoint_before" ]
cp "$tmp/f6-seed4.csv" "$tmp/f6.csv"
digitsum train --resume "$tmp/run-f6" --quiet
expect "train --resume with the run's own rows back exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]

# ------------------------------------------------------------ predict: the PyTorch fixture
cut -d' ' -f1 "$fixture.txt" >"$tmp/inputs"
cut -d' ' -f2- "$fixture.txt" >"$tmp/expected"
n_inputs=$(wc -l <"$tmp/inputs")
mapfile -t inputs <"$tmp/inputs"
digitsum predict --checkpoint "$fixture.safetensors" --hidden 16 "${inputs[@]}"
expect "predict with the PyTorch checkpoint exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
if cmp -s "$tmp/out" "$tmp/expected"; then pass; else
  fail "predict prints PyTorch's $n_inputs answers, one a line, in order; input, PyTorch, predict:"
  paste -d' ' "$tmp/inputs" "$tmp/expected" "$tmp/out" | awk '$2 != $3' | show
fi
expect "predict with the PyTorch checkpoint prints nothing on stderr" [ ! -s "$tmp/err" ]
cp "$tmp/inputs" "$tmp/in"
digitsum predict --checkpoint "$fixture.safetensors" --hidden 16 -
: >"$tmp/in"
expect "predict - exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "predict - (inputs on stdin) prints the same $n_inputs answers" cmp -s "$tmp/out" "$tmp/expected"
wrong=$(awk '{ s = 0; for (i = 1; i <= length($1); i++) s += substr($1, i, 1); if (s "" != $2) n++ } END { print n + 0 }' "$fixture.txt")
expect "the fixture holds answers PyTorch got wrong as well as right ($wrong of $n_inputs wrong)" \
  [ "$wrong" -gt 0 -a "$wrong" -lt "$n_inputs" ]

# ------------------------------------------------------------ eval: the PyTorch fixture
awk '{ s = 0; for (i = 1; i <= length($1); i++) s += substr($1, i, 1); if (s "" == $2) print $1 "," s }' "$fixture.txt" >"$tmp/right.csv"
awk '{ s = 0; for (i = 1; i <= length($1); i++) s += substr($1, i, 1); if (s "" != $2) print $1 "," s }' "$fixture.txt" >"$tmp/wrong.csv"
n_right=$(wc -l <"$tmp/right.csv")
digitsum eval --checkpoint "$fixture.safetensors" --hidden 16 --data "$tmp/right.csv"
expect "eval on the $n_right inputs PyTorch got right exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "eval on the inputs PyTorch got right prints accuracy 1.0000 ($n_right sequences) (got '$(head -n 1 "$tmp/out")')" \
  grep -q "^accuracy 1\.0000 ($n_right sequences)" "$tmp/out"
digitsum eval --checkpoint "$fixture.safetensors" --hidden 16 --data "$tmp/wrong.csv"
expect "eval on the inputs PyTorch got wrong prints accuracy 0.0000 (got '$(head -n 1 "$tmp/out")')" \
  grep -q "^accuracy 0\.0000 ($wrong sequences)" "$tmp/out"

# ------------------------------------------------------------ --help
for command in gen-data train predict eval; do
  digitsum "$command" --help
  expect "$command --help exits with 0 (got $code)" [ "$code" -eq 0 ]
  expect "$command --help prints the usage" grep -q 'Usage' "$tmp/out"
  expect "$command --help writes nothing to stderr" [ ! -s "$tmp/err" ]
done
for flag in --data --model --epochs --hidden --lr --batch --split --seed --run-dir --quiet; do
  digitsum train --help
  expect "train --help mentions $flag" grep -q -e "$flag\b" "$tmp/out"
done
digitsum --help
expect "--help exits with 0 (got $code)" [ "$code" -eq 0 ]
expect "--help creates nothing" [ -z "$(ls -A "$tmp/work")" ]

# ------------------------------------------------------------ bad input
printf '12,3\n99,18\n12a4,7\n' >"$tmp/bad.csv"
head -c 100 "$fixture.safetensors" >"$tmp/truncated.safetensors"
listing_before=$(ls -A "$tmp")
# Only train takes --run-dir.
bad_case_args() {
  local dir=$1
  shift
  args=("$@")
  [ "${1:-}" = train ] && args+=(--run-dir "$dir")
  return 0
}
ckpt=(--checkpoint "$fixture.safetensors")
bad_case frob frob
bad_case --data train
bad_case gru train --data "$tmp/d2.csv" --model gru
bad_case --epochs train --data "$tmp/d2.csv" --epochs 0
bad_case missing.csv train --data "$tmp/missing.csv"
bad_case "$tmp/bad.csv:3:" train --data "$tmp/bad.csv"
bad_case --checkpoint predict 12
bad_case "$tmp/missing.safetensors" predict --checkpoint "$tmp/missing.safetensors" --hidden 16 12
bad_case truncated predict --checkpoint "$tmp/truncated.safetensors" --hidden 16 12
bad_case rnn.weight_ih predict "${ckpt[@]}" --model rnn --hidden 16 12
bad_case lstm.weight_ih predict "${ckpt[@]}" --hidden 32 12
bad_case 12a predict "${ckpt[@]}" --hidden 16 12a
# stdin: a NUL byte would end the digits unseen; a long line is as long as it is.
printf '12\0009\n' >"$tmp/in"
bad_case "stdin:1: the line holds a NUL byte" predict "${ckpt[@]}" --hidden 16 -
printf '%0300d\n' 7 >"$tmp/in"
bad_case "stdin:1: '0000000000000000000000000000000000000000...': a sequence has 300 digits" predict "${ckpt[@]}" --hidden 16 -
: >"$tmp/in"
bad_case "$tmp/bad.csv:3:" eval "${ckpt[@]}" --hidden 16 --data "$tmp/bad.csv"
bad_case --checkpoint eval --data "$tmp/d2.csv"
listing_after=$(ls -A "$tmp")
expect "the errors create nothing under $tmp (before: $(echo $listing_before); after: $(echo $listing_after))" \
  [ "$listing_before" = "$listing_after" ]

finish
