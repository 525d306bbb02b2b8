#!/usr/bin/env bash
# kill -9 at random moments, then go on: every run ends byte for byte as an
# uninterrupted one (issue 15's soak test; a benchmark, not part of make
# check: about 5 minutes for the default 500 kills).
#
# For each demo (adding, l1norm, digitsum, in turn) a reference run is made
# without interruption and timed. Then trial after trial: a run starts into
# a fresh directory and gets SIGKILL after a random delay in [0, 1.2 x the
# reference's time] (so some kills land before the first checkpoint, during
# start-up, in mid-write and after the end); then it goes on, killed again
# at random, until it ends by itself. Going on means --resume DIR when DIR
# holds a checkpoint, else --run-dir DIR again (a run stopped before its
# first checkpoint saved nothing: the program says so and the directory
# takes a new run). Nothing is ever cleaned by hand. At the end of each
# trial model.safetensors, checkpoint.safetensors and metrics.csv (digitsum
# without its wall-time column) must equal the reference's; the checkpoint
# but for its run id (each run has its own: tests/checkpoint_tool.py same,
# which also recomputes both checksums), which must be the trial's
# params.csv's.
#
# KILLS=N (default 500) kills in all; SEED=N for the delays. Prints one
# line per trial and "N passed, M failed"; exits 1 on a failure, keeping
# its directory under $KEEP (default /tmp/kill_loop_failures).
set -uo pipefail
cd "$(dirname "$0")/.."
kills_wanted=${KILLS:-500}
RANDOM=${SEED:-1}
keep=${KEEP:-/tmp/kill_loop_failures}
for p in adding l1norm digitsum; do
  [ -x "bin/$p" ] || { echo "kill_loop: build first (make)" >&2; exit 1; }
done
python=/usr/bin/python3
[ -x "$python" ] || python=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
bin/digitsum gen-data --len 3 --only --out "$tmp/d3.csv" >/dev/null

# name|flags (small runs: about a second each)
demos=(
  "adding|bin/adding --T 30 --hidden 16 --steps 3000 --eval-every 250 --test-size 200 --checkpoint-every 100 --quiet"
  "l1norm|bin/l1norm --max-len 40 --checkpoint-every 500 --quiet"
  "digitsum|bin/digitsum train --data $tmp/d3.csv --hidden 24 --epochs 12 --quiet"
)

now_ms() { date +%s%3N; }
# Files compared at the end; digitsum's metrics without the seconds column.
fingerprint() {
  local dir=$1 name=$2
  cmp -s "$dir/model.safetensors" "$tmp/ref-$name/model.safetensors" || { echo "model.safetensors differs"; return; }
  local problem id
  problem=$("$python" -I tests/checkpoint_tool.py same "$tmp/ref-$name/checkpoint.safetensors" "$dir/checkpoint.safetensors") ||
    { echo "checkpoint.safetensors differs: $problem"; return; }
  id=$(sed -n 's/^"run_id","\(.*\)"$/\1/p' "$dir/params.csv")
  [ -n "$id" ] && [ "$("$python" -I tests/checkpoint_tool.py get "$dir/checkpoint.safetensors" ag.run_id)" = "$id" ] ||
    { echo "the checkpoint's run id is not params.csv's ($id)"; return; }
  if [ "$name" = digitsum ]; then
    cmp -s <(cut -d, -f1-4 "$dir/metrics.csv") <(cut -d, -f1-4 "$tmp/ref-$name/metrics.csv") || { echo "metrics.csv differs"; return; }
  else
    cmp -s "$dir/metrics.csv" "$tmp/ref-$name/metrics.csv" || { echo "metrics.csv differs"; return; }
  fi
}

declare -A ref_ms
for entry in "${demos[@]}"; do
  name=${entry%%|*} command=${entry#*|}
  start=$(now_ms)
  $command --run-dir "$tmp/ref-$name" --threads 1 >/dev/null || { echo "kill_loop: the reference $name run failed" >&2; exit 1; }
  ref_ms[$name]=$(($(now_ms) - start))
  echo "reference $name: ${ref_ms[$name]} ms"
done

kills=0 trials=0 passed=0 failed=0 before_checkpoint=0
while [ $kills -lt "$kills_wanted" ]; do
  entry=${demos[$((trials % ${#demos[@]}))]}
  name=${entry%%|*} command=${entry#*|}
  dir=$tmp/trial-$trials
  trial_kills=0 attempts=0 code=1
  while [ $attempts -lt 200 ]; do
    attempts=$((attempts + 1))
    if [ -f "$dir/checkpoint.safetensors" ]; then
      args=(--resume "$dir")
      resume_command=${command%% --*} # the program (and subcommand) without the run's flags
      set -- $resume_command
    else
      [ -d "$dir" ] && before_checkpoint=$((before_checkpoint + 1))
      args=(--run-dir "$dir")
      set -- $command
    fi
    # One thread or two at random: resumes must not depend on it.
    "$@" "${args[@]}" --threads $((RANDOM % 2 + 1)) >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    delay_ms=$((RANDOM * RANDOM % (ref_ms[$name] * 12 / 10 + 1)))
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if kill -KILL "$pid" 2>/dev/null; then
      { wait "$pid"; } 2>/dev/null
      trial_kills=$((trial_kills + 1))
      continue
    fi
    wait "$pid"
    code=$?
    [ $code -eq 0 ] && break
    # A run killed so early that its directory holds nothing is started again.
    if grep -q "no checkpoint.safetensors there" "$tmp/err"; then continue; fi
    break
  done
  kills=$((kills + trial_kills))
  trials=$((trials + 1))
  problem=""
  if [ $code -ne 0 ]; then problem="exit $code: $(head -n 1 "$tmp/err")"; else problem=$(fingerprint "$dir" "$name"); fi
  leftovers=$(find "$dir" -name '*.tmp.*' | head -n 1)
  [ -z "$problem" ] && [ -n "$leftovers" ] && problem="a temporary file is left: $leftovers"
  if [ -z "$problem" ]; then
    passed=$((passed + 1))
    echo "trial $trials ($name): $trial_kills kills, same bytes"
    rm -rf "$dir"
  else
    failed=$((failed + 1))
    mkdir -p "$keep" && cp -r "$dir" "$keep/"
    echo "trial $trials ($name): $trial_kills kills: FAILED: $problem (kept in $keep/$(basename "$dir"))"
  fi
done
echo "kill_loop: $kills kills over $trials trials; $before_checkpoint restarts found a directory with no checkpoint"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
