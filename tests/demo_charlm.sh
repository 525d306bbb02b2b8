#!/usr/bin/env bash
# Runs bin/charlm end to end on a small made-up text and checks what it
# promises: train writes its summary line and run directory (params.csv
# with the vocabulary, metrics.csv with a row per step and the validation
# loss and bits per character every --eval-every steps, model.safetensors
# under PyTorch's names), the loss falls, a seed gives the same weights
# whatever the threads, --epochs counts the text's chunks; sample writes
# exactly --length bytes of the text's vocabulary after the --prime, the
# same for a seed, greedy at --temperature 0; one-line errors for bad
# flags, texts too short, a prime outside the vocabulary and another
# demo's model. Prints "N passed, M failed"; exits 1 if M > 0.
demo=charlm
. "$(dirname "$0")/demo_common.bash"
charlm() { run_demo "$@"; }
# The bad cases get --run-dir only for train.
bad_case_args() {
  local dir=$1
  shift
  args=("$@")
  [ "${1:-}" = train ] && args+=(--run-dir "$dir")
  return 0
}

if [ ! -x "$program" ]; then
  fail "$program is missing (run make)"
  finish
fi

# A made-up text of about 12 KB: short sentences over a small vocabulary
# (lowercase letters, digits, space, '.', newline), the same every time.
text="$tmp/text.txt"
awk 'BEGIN { split("the a cat dog sat ran on under mat log and then", w, " "); s = 7
  for (line = 0; line < 400; line++) { out = ""
    for (i = 0; i < 5; i++) { s = (s * 1103515245 + 12345) % 2147483648; out = out w[1 + int(s / 65536) % 12] " " }
    print out line % 10 "." } }' >"$text"
tiny=(--data "$text" --hidden 16 --embed 8 --batch 4 --seq-len 16 --threads 1)

# ------------------------------------------------------------ a short run
run="$tmp/run"
charlm train "${tiny[@]}" --steps 40 --eval-every 20 --lr 1e-2 --quiet --run-dir "$run"
cp "$tmp/out" "$tmp/main.out"
expect "the short run exits with 0, not $code (stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "summary steps=40 (got '$(summary steps "$tmp/main.out")')" [ "$(summary steps "$tmp/main.out")" = 40 ]
val_loss=$(summary val_loss "$tmp/main.out")
val_bpc=$(summary val_bpc "$tmp/main.out")
expect "summary val_bpc ($val_bpc) is val_loss ($val_loss) in bits: / ln 2" \
  close "$val_bpc" "$(awk -v l="$val_loss" 'BEGIN { print l / log(2) }')" 1e-3
for key in step_ms seconds; do
  expect "summary $key is a number >= 0 (got '$(summary $key "$tmp/main.out")')" \
    between "$(summary $key "$tmp/main.out")" 0 1e9
done
expect "a 'run: $run' line" grep -qx "run: $run" "$tmp/main.out"
other=$(grep -v -e '^run: ' -e '^summary: ' "$tmp/main.out" | head -n 3)
expect "--quiet prints only the run:/summary lines (also printed: '$other')" [ -z "$other" ]
expect "--quiet prints nothing on stderr (got '$(head -c 300 "$tmp/err")')" [ ! -s "$tmp/err" ]
for f in params.csv metrics.csv model.safetensors checkpoint.safetensors; do
  expect "$run/$f exists and is not empty" [ -s "$run/$f" ]
done
# The vocabulary: the text's distinct bytes, sorted, as hex.
vocab=$(od -An -v -tx1 "$text" | tr -s ' ' '\n' | grep -v '^$' | sort -u | tr -d '\n')
expect "params.csv records the text's vocabulary ($vocab)" grep -qx "\"vocab\",\"$vocab\"" "$run/params.csv"
expect "model.safetensors carries the vocabulary" grep -qaF "\"vocab\":\"$vocab\"" "$run/model.safetensors"
for name in embed.weight lstm.weight_ih_l0 lstm.weight_hh_l0 lstm.bias_ih_l0 lstm.bias_hh_l0 lstm.weight_ih_l1 \
  lstm.bias_hh_l1 linear.weight linear.bias; do
  expect "model.safetensors has PyTorch's name $name" grep -qaF "\"$name\"" "$run/model.safetensors"
done
metrics="$run/metrics.csv"
expect "metrics.csv header is step,loss,val_loss,val_bpc,seconds (got '$(head -n 1 "$metrics")')" \
  [ "$(head -n 1 "$metrics")" = "step,loss,val_loss,val_bpc,seconds" ]
rows=$(tail -n +2 "$metrics" | wc -l)
expect "metrics.csv has 41 rows, steps 0..40 (got $rows)" [ "$rows" -eq 41 ]
evaluated=$(awk -F, 'NR > 1 && $3 != "" { printf "%s ", $1 }' "$metrics")
expect "val_loss is filled in exactly at steps 0 20 40 (got '$evaluated')" [ "$evaluated" = "0 20 40 " ]
bad_bpc=$(awk -F, 'NR > 1 && $3 != "" { d = $4 - $3 / log(2); if (d > 1e-5 || d < -1e-5) { print $0; exit } }' "$metrics")
expect "every val_bpc is its val_loss / ln 2 (first other row: $bad_bpc)" [ -z "$bad_bpc" ]
first_val=$(awk -F, '$1 == "0" { print $3 }' "$metrics")
last_val=$(awk -F, '$1 == "40" { print $3 }' "$metrics")
expect "the validation loss falls: step 40 ($last_val) below step 0 ($first_val)" less_than "$last_val" "$first_val"
ln_vocab=$(awk -v n=$((${#vocab} / 2)) 'BEGIN { print log(n) }')
expect "the initial validation loss ($first_val) is about ln(vocabulary) = $ln_vocab" close "$first_val" "$ln_vocab" 0.3
trend=$(awk -F, 'NR > 2 && NR <= 7 { a += $2 } NR > 36 { b += $2 } END { print (b / 5 < a / 5 - 0.2) ? "falls" : a / 5 " -> " b / 5 }' "$metrics")
expect "the training loss falls by 0.2 nats from the first 5 steps to the last 5 (got $trend)" [ "$trend" = falls ]

# ------------------------------------------------------ the log, --epochs
charlm train "${tiny[@]}" --steps 4 --eval-every 2 --run-dir "$tmp/log"
expect "without --quiet, each validation prints a line with its bpc" grep -q '^step 2: val_bpc [0-9.]*' "$tmp/out"
expect "  and a sample of the text, indented with '  | '" grep -q '^  | ' "$tmp/out"
expect "  and a first line naming the text, its bytes and the parameters" grep -q "^charlm: .*text.txt: [0-9]* bytes, $((${#vocab} / 2)) distinct" "$tmp/out"
charlm train "${tiny[@]}" --epochs 1 --eval-every 1000 --quiet --run-dir "$tmp/epoch"
chunks=$(sed -n 's/^"chunks_per_epoch","\([0-9]*\)"$/\1/p' "$tmp/epoch/params.csv")
bytes=$(wc -c <"$text")
expected_chunks=$(( (bytes * 9 / 10 / 4 - 1) / 16 ))
expect "an epoch is (90% of $bytes bytes / 4 streams - 1) / 16 = $expected_chunks chunks (params.csv: '$chunks')" \
  [ "$chunks" = "$expected_chunks" ]
expect "--epochs 1 trains $expected_chunks steps (got '$(summary steps)')" [ "$(summary steps)" = "$expected_chunks" ]

# --------------------------------------------------------- seeds, threads
tensors() { tail -c +$((9 + $(od -An -t u8 -N 8 "$1" | tr -d ' '))) "$1"; }
seeded=("${tiny[@]}" --steps 6 --eval-every 6 --dropout 0.3 --quiet)
charlm train "${seeded[@]}" --seed 7 --run-dir "$tmp/seed7a"
charlm train "${seeded[@]}" --seed 7 --threads 2 --run-dir "$tmp/seed7b"
charlm train "${seeded[@]}" --seed 8 --run-dir "$tmp/seed8"
expect "--seed 7 twice (1 and 2 threads) saves the same weights" \
  cmp -s <(tensors "$tmp/seed7a/model.safetensors") <(tensors "$tmp/seed7b/model.safetensors")
expect "  and the same metrics but the time" \
  cmp -s <(cut -d, -f1-4 "$tmp/seed7a/metrics.csv") <(cut -d, -f1-4 "$tmp/seed7b/metrics.csv")
differ() { ! cmp -s "$1" "$2"; }
expect "--seed 8 saves other weights" differ <(tensors "$tmp/seed7a/model.safetensors") <(tensors "$tmp/seed8/model.safetensors")

# ------------------------------------------------------------------ sample
model="$run/model.safetensors"
charlm sample --checkpoint "$model" --length 300 --seed 1
cp "$tmp/out" "$tmp/s1"
expect "sample exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
expect "sample --length 300 writes exactly 300 bytes (got $(wc -c <"$tmp/s1"))" [ "$(wc -c <"$tmp/s1")" -eq 300 ]
outside=$(od -An -v -tx1 "$tmp/s1" | tr -s ' ' '\n' | grep -v '^$' | sort -u | tr -d '\n')
in_vocab() { # HEX: each byte pair of HEX is a byte pair of $vocab
  local i
  for ((i = 0; i < ${#1}; i += 2)); do [[ $(fold -w 2 <<<"$vocab") == *"${1:i:2}"* ]] || return 1; done
}
expect "every byte written ($outside) is in the text's vocabulary" in_vocab "$outside"
charlm sample --checkpoint "$model" --length 300 --seed 1
expect "the same seed writes the same text" cmp -s "$tmp/s1" "$tmp/out"
charlm sample --checkpoint "$model" --length 300 --seed 2
expect "another seed writes another text" differ "$tmp/s1" "$tmp/out"
charlm sample --checkpoint "$model" --length 300 --seed 1 --threads 2
expect "two threads write the same text as one" cmp -s "$tmp/s1" "$tmp/out"
charlm sample --checkpoint "$model" --length 100 --temperature 0 --seed 1
cp "$tmp/out" "$tmp/greedy"
charlm sample --checkpoint "$model" --length 100 --temperature 0 --seed 2
expect "--temperature 0 is greedy: the same text for any seed" cmp -s "$tmp/greedy" "$tmp/out"
charlm sample --checkpoint "$model" --length 50 --prime "the cat "
expect "--prime: the text starts with the prime (got '$(head -c 20 "$tmp/out")')" [ "$(head -c 8 "$tmp/out")" = "the cat " ]
expect "  and goes on for --length 50 bytes after it (got $(wc -c <"$tmp/out"))" [ "$(wc -c <"$tmp/out")" -eq 58 ]
charlm sample --checkpoint "$run/checkpoint.safetensors" --length 300 --seed 1
expect "the run's checkpoint.safetensors samples as its model.safetensors" cmp -s "$tmp/s1" "$tmp/out"
charlm --help
expect "--help names both commands" grep -q 'charlm train' "$tmp/out"
charlm train --help
for flag in --data --hidden --layers --embed --dropout --seq-len --batch --lr --clip --epochs --steps --seed --threads \
  --eval-every --run-dir --checkpoint-every --resume --quiet; do
  expect "train --help mentions $flag" grep -q -e "$flag\b" "$tmp/out"
done

# ------------------------------------------------------------- bad input
: >"$tmp/empty.txt"
printf 'a' >"$tmp/one.txt"
head -c 300 "$text" >"$tmp/short.txt"
bin/adding --T 4 --hidden 4 --steps 2 --eval-every 2 --test-size 8 --train-size 8 --quiet --run-dir "$tmp/adding" >/dev/null
bad_case "give a command"
bad_case "unknown command 'frob'" frob
bad_case "the text is empty" train --data "$tmp/empty.txt"
bad_case "1 bytes are too short" train --data "$tmp/one.txt"
bad_case "300 bytes are too short" train --data "$tmp/short.txt" --batch 32 --seq-len 64
bad_case "--seq-len: '0'" train --data "$text" --seq-len 0
bad_case "--dropout: '1'" train --data "$text" --dropout 1
bad_case "nowhere.txt: No such file" train --data "$tmp/nowhere.txt"
bad_case "--checkpoint is required" sample
bad_case "nowhere.safetensors" sample --checkpoint "$tmp/nowhere.safetensors"
bad_case "a model of 'adding', not of charlm" sample --checkpoint "$tmp/adding/model.safetensors"
bad_case "--prime: byte 'Z' at position 3 is not in the model's vocabulary" sample --checkpoint "$model" --prime "thZ"
bad_case "--temperature: '-1'" sample --checkpoint "$model" --temperature -1
# Bytes are bytes: a binary file trains like any text.
head -c 20000 /dev/urandom >"$tmp/binary.bin"
charlm train --data "$tmp/binary.bin" --hidden 8 --embed 4 --batch 2 --seq-len 8 --steps 3 --quiet --run-dir "$tmp/binary"
expect "a binary file trains (exit $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
charlm sample --checkpoint "$tmp/binary/model.safetensors" --length 100
expect "  and samples 100 bytes (got $(wc -c <"$tmp/out"))" [ "$code" -eq 0 -a "$(wc -c <"$tmp/out")" -eq 100 ]

finish
