#!/usr/bin/env bash
# Seeds of the resume target (fuzz/fuzz_resume.c) from real l1norm runs:
# an input is 2 bytes of params.csv's length, 2 of metrics.csv's (little
# endian), the two files, then checkpoint.safetensors. Writes
# fuzz/corpus/resume/: a valid run, its metrics torn mid-row, a checkpoint
# of another run copied in, params.csv of an older ag (no run id), a
# checkpoint without its checksum. Run by `make fuzz-seeds` after make.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus/resume
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
small=(--max-steps 30 --checkpoint-every 10 --max-len 3 --test-len 10 --quiet --threads 1)
bin/l1norm "${small[@]}" --run-dir "$tmp/a" >/dev/null
bin/l1norm "${small[@]}" --run-dir "$tmp/b" >/dev/null

pack() { # OUT PARAMS METRICS CHECKPOINT
  local p m
  p=$(stat -c %s "$2") m=$(stat -c %s "$3")
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((p & 255)) $((p >> 8)) $((m & 255)) $((m >> 8)))" >"$1"
  cat "$2" "$3" "$4" >>"$1"
}
a=$tmp/a
pack "$out/valid" "$a/params.csv" "$a/metrics.csv" "$a/checkpoint.safetensors"
head -c -7 "$a/metrics.csv" >"$tmp/torn.csv"
pack "$out/metrics_torn" "$a/params.csv" "$tmp/torn.csv" "$a/checkpoint.safetensors"
pack "$out/other_runs_checkpoint" "$a/params.csv" "$a/metrics.csv" "$tmp/b/checkpoint.safetensors"
grep -v '^"run_id"' "$a/params.csv" >"$tmp/old_params.csv"
pack "$out/params_without_run_id" "$tmp/old_params.csv" "$a/metrics.csv" "$a/checkpoint.safetensors"
cp "$a/checkpoint.safetensors" "$tmp/unsigned.safetensors"
python3 tests/checkpoint_tool.py strip "$tmp/unsigned.safetensors"
pack "$out/checkpoint_without_checksum" "$a/params.csv" "$a/metrics.csv" "$tmp/unsigned.safetensors"
ls "$out"
