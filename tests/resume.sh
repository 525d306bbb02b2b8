#!/usr/bin/env bash
# Exact resume: each demo, killed in mid-training (SIGKILL, SIGTERM,
# SIGINT) and resumed with --resume, ends with checkpoint.safetensors and
# model.safetensors byte for byte those of an uninterrupted run with the same
# flags, and with the same metrics.csv (no row lost or repeated). Two runs
# differ in one thing, their run ids (params.csv's run_id, the checkpoint's
# ag.run_id, and so its checksum): checkpoints of two runs are compared by
# tests/checkpoint_tool.py `same`, every byte but those 24 characters, with
# both checksums recomputed independently, and each run id must be the
# run's own and stay the same across the resume. Also: SIGTERM/SIGINT save
# a checkpoint and say so in one line; a non-finite loss stops training
# naming the step and the parameter and keeps the last good checkpoint; a
# resumed run refuses other settings; a run begun by an older ag (no
# checksum, no run id) resumes with a note.
check_name=resume
. "$(dirname "$0")/check_common.bash"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
tool=("$python" -I "$root/tests/checkpoint_tool.py")

for p in l1norm adding digitsum charlm; do
  if [ ! -x "bin/$p" ]; then
    fail "bin/$p is missing (run make)"
    finish
  fi
done

# rows FILE: data rows in a metrics.csv (0 if it is not there yet).
rows() { if [ -f "$1" ]; then echo $(($(wc -l <"$1") - 1)); else echo 0; fi; }

# interrupted NAME SIGNAL MIN_ROWS PROGRAM ARGS...: starts PROGRAM ARGS
# --run-dir $tmp/NAME in the background, sends SIGNAL once metrics.csv has
# MIN_ROWS rows (so training is under way), and sets $code to its exit
# status and $ran_out if it had finished before the signal came.
interrupted() {
  local name=$1 signal=$2 min_rows=$3
  shift 3
  "$@" --run-dir "$tmp/$name" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$! waited=0
  while [ "$(rows "$tmp/$name/metrics.csv")" -lt "$min_rows" ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt 3000 ]; do
    sleep 0.01
    waited=$((waited + 1))
  done
  ran_out=0
  kill -0 "$pid" 2>/dev/null || ran_out=1
  kill "-$signal" "$pid" 2>/dev/null
  { wait "$pid"; } 2>/dev/null # not bash's "Killed" line
  code=$?
}

# run_id DIR: DIR/params.csv's run id.
run_id() { sed -n 's/^"run_id","\([0-9a-f]*\)"$/\1/p' "$1/params.csv" 2>/dev/null; }

# same_run NAME REFERENCE WHAT: the resumed run NAME ended exactly as the
# uninterrupted REFERENCE: model.safetensors byte for byte, the checkpoint
# byte for byte but for the run id (and so the checksum), which must be
# NAME's own (metrics compared without the time column `seconds`, which no
# two runs share).
same_run() {
  local name=$1 reference=$2 what=$3 f problem id
  expect "$what: model.safetensors is byte for byte the uninterrupted run's" \
    cmp -s "$tmp/$reference/model.safetensors" "$tmp/$name/model.safetensors"
  if problem=$("${tool[@]}" same "$tmp/$reference/checkpoint.safetensors" "$tmp/$name/checkpoint.safetensors"); then
    pass
  else
    fail "$what: checkpoint.safetensors is not the uninterrupted run's but for the run id: ${problem//"$tmp"/\$tmp}"
  fi
  id=$(run_id "$tmp/$name")
  expect "$what: the checkpoint's run id is params.csv's ('$id')" \
    [ -n "$id" -a "$("${tool[@]}" get "$tmp/$name/checkpoint.safetensors" ag.run_id)" = "$id" ]
  local keep='BEGIN { FS = OFS = "," } NR == 1 { for (i = 1; i <= NF; i++) if ($i != "seconds") k[i] = 1 }
    { line = ""; for (i = 1; i <= NF; i++) if (i in k) line = line (line == "" ? "" : ",") $i; print line }'
  if cmp -s <(awk "$keep" "$tmp/$reference/metrics.csv") <(awk "$keep" "$tmp/$name/metrics.csv"); then pass; else
    fail "$what: metrics.csv differs from the uninterrupted run's (rows $(rows "$tmp/$name/metrics.csv") vs $(rows "$tmp/$reference/metrics.csv"))"
  fi
}

# resume_demo DEMO LABEL SIGNAL MIN_ROWS EXPECTED_CODE PROGRAM... -- ARGS:
# the whole check for one demo and one signal.
resume_check() {
  local label=$1 signal=$2 min_rows=$3 expected=$4 reference=$5
  shift 5
  local resume_cmd=("${@}")
  interrupted "$label" "$signal" "$min_rows" "${program[@]}" "${args[@]}"
  if [ "$ran_out" = 1 ]; then
    fail "$label: the run ended before SIG$signal came (make it longer)"
    return
  fi
  expect "$label: SIG$signal ends the run with exit code $expected (got $code)" [ "$code" -eq "$expected" ]
  if [ "$signal" != KILL ]; then
    local lines message_ok=0
    lines=$(wc -l <"$tmp/$label.err")
    grep -q -e "SIG$signal.*checkpoint saved.*--resume $tmp/$label" "$tmp/$label.err" && message_ok=1
    expect "$label: SIG$signal prints one line on stderr naming the signal and --resume: '$(head -n 1 "$tmp/$label.err")'" \
      [ "$lines" -eq 1 -a "$message_ok" = 1 ]
  fi
  expect "$label: a checkpoint is there after SIG$signal" [ -s "$tmp/$label/checkpoint.safetensors" ]
  local id_before
  id_before=$(run_id "$tmp/$label")
  "${program[@]}" --resume "$tmp/$label" "${resume_cmd[@]}" >"$tmp/$label.resumed.out" 2>"$tmp/$label.resumed.err"
  code=$?
  expect "$label: --resume exits with 0 (got $code: $(head -c 300 "$tmp/$label.resumed.err"))" [ "$code" -eq 0 ]
  expect "$label: --resume prints nothing on stderr ($(head -c 300 "$tmp/$label.resumed.err"))" [ ! -s "$tmp/$label.resumed.err" ]
  same_run "$label" "$reference" "$label"
  expect "$label: the resumed run keeps its run id ($id_before, now $(run_id "$tmp/$label"))" \
    [ -n "$id_before" -a "$(run_id "$tmp/$label")" = "$id_before" ]
  expect "$label: and its id is not the uninterrupted run's" [ "$id_before" != "$(run_id "$tmp/$reference")" ]
}

# ---------------------------------------------------------------- l1norm
# Large batches make steps slow enough to be killed mid-run.
program=(bin/l1norm)
args=(--batch 2048 --max-steps 2000 --checkpoint-every 250 --quiet --threads 1)
"${program[@]}" "${args[@]}" --run-dir "$tmp/l1" >"$tmp/l1.out" 2>&1
expect "l1norm: the uninterrupted run exits with 0" [ $? -eq 0 ]
resume_check l1-kill KILL 400 137 l1 --quiet
resume_check l1-term TERM 400 143 l1 --quiet --threads 2
resume_check l1-int INT 400 130 l1 --quiet
expect "l1norm: the resumed run's summary says where it resumed" grep -q 'resumed_at=[1-9]' "$tmp/l1-int.resumed.out"

# ---------------------------------------------------------------- adding
program=(bin/adding)
args=(--T 100 --hidden 64 --steps 600 --eval-every 100 --test-size 200 --train-size 1000 --checkpoint-every 50
  --quiet --threads 1)
"${program[@]}" "${args[@]}" --run-dir "$tmp/add" >"$tmp/add.out" 2>&1
expect "adding: the uninterrupted run exits with 0" [ $? -eq 0 ]
resume_check add-kill KILL 150 137 add --quiet --threads 2
resume_check add-term TERM 150 143 add --quiet
# SGD has its own state (its step count), and --stop-below ends a run early:
# resuming a run that stopped early must not train on.
args=(--T 30 --hidden 16 --steps 400 --eval-every 20 --test-size 100 --train-size 300 --optim sgd --lr 0.01
  --stop-below 0.16 --checkpoint-every 10 --quiet --threads 1)
"${program[@]}" "${args[@]}" --run-dir "$tmp/sgd" >"$tmp/sgd.out" 2>&1
steps=$(tail -n 1 "$tmp/sgd.out" | sed -n 's/.* steps=\([0-9]*\).*/\1/p')
expect "adding --stop-below stops early (steps=$steps of 400)" [ -n "$steps" ] && [ "$steps" -lt 400 ]
cp -r "$tmp/sgd" "$tmp/sgd-again"
bin/adding --resume "$tmp/sgd-again" --quiet >"$tmp/sgd-again.out" 2>&1
expect "adding: resuming a run that stopped early trains no further" cmp -s "$tmp/sgd/checkpoint.safetensors" "$tmp/sgd-again/checkpoint.safetensors"

# -------------------------------------------------------------- digitsum
bin/digitsum gen-data --len 4 --only --out "$tmp/digits.csv" >/dev/null
program=(bin/digitsum train)
args=(--data "$tmp/digits.csv" --model lstm --hidden 48 --epochs 10 --quiet --threads 1)
"${program[@]}" "${args[@]}" --run-dir "$tmp/ds" >"$tmp/ds.out" 2>&1
expect "digitsum: the uninterrupted run exits with 0" [ $? -eq 0 ]
resume_check ds-kill KILL 2 137 ds --quiet --threads 2
resume_check ds-term TERM 2 143 ds --quiet

# ---------------------------------------------------------------- charlm
# Over four epochs of a small text (the state carried between chunks and
# reset at each epoch, dropout's generator), killed mid-epoch.
program=(bin/charlm train)
args=(--data README.md --hidden 64 --embed 16 --batch 16 --seq-len 32 --steps 400 --eval-every 100 --checkpoint-every 25
  --quiet --threads 1)
"${program[@]}" "${args[@]}" --run-dir "$tmp/lm" >"$tmp/lm.out" 2>&1
expect "charlm: the uninterrupted run exits with 0" [ $? -eq 0 ]
resume_check lm-kill KILL 130 137 lm --quiet --threads 2
resume_check lm-term TERM 130 143 lm --quiet

# ------------------------------------------------- settings of a resumed run
bin/l1norm --resume "$tmp/l1" --lr 0.01 >"$tmp/out" 2>"$tmp/err"
code=$?
expect "l1norm --resume with another --lr exits with 2 (got $code)" [ "$code" -eq 2 ]
expect "  and names --lr and the saved value: '$(head -n 1 "$tmp/err")'" grep -q -e '--lr 0.01.*lr=0.001' "$tmp/err"
bin/l1norm --resume "$tmp/add" >"$tmp/out" 2>"$tmp/err"
code=$?
expect "l1norm --resume of an adding run exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and says whose checkpoint it is: '$(head -n 1 "$tmp/err")'" grep -q "'adding'" "$tmp/err"
bin/l1norm --resume "$tmp/l1" --run-dir "$tmp/elsewhere" >"$tmp/out" 2>"$tmp/err"
expect "l1norm --resume with --run-dir is refused, naming --run-dir" grep -q -e '--run-dir' "$tmp/err"

# ----------------------------------------------------------- non-finite
bin/l1norm --init w_ih=1e30,w_hh=1e30 --quiet --run-dir "$tmp/inf" >"$tmp/out" 2>"$tmp/err"
code=$?
expect "l1norm with an overflowing init exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and names the step and the parameter: '$(head -n 1 "$tmp/err")'" grep -q 'step 1: .*rnn.weight_' "$tmp/err"
expect "  and keeps the last good checkpoint" [ -s "$tmp/inf/checkpoint.safetensors" ]
expect "  and writes no model.safetensors" [ ! -e "$tmp/inf/model.safetensors" ]
bin/adding --identity-scale 10 --T 150 --hidden 8 --steps 5 --test-size 16 --train-size 64 --quiet --run-dir "$tmp/adding-inf" \
  >"$tmp/out" 2>"$tmp/err"
code=$?
expect "adding with W_hh = 10 I over 150 steps exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and names the step and the parameter: '$(head -n 1 "$tmp/err")'" grep -q 'step 1: .*of [a-z]*\.[a-z_]*\[' "$tmp/err"

# Adam's second moment overflows (a gradient of ~1e21 squared) while the
# weights and gradients are finite: the run stops naming it, and its last
# checkpoint is one the run's own --resume loads (it once saved the inf and
# then refused it as a corrupt file).
overflow=(--max-steps 1000 --checkpoint-every 1 --test-len 100 --quiet --threads 1 --batch 1 --max-len 1530 --lr 1e-9
  --init w_ih=1,w_hh=1.03)
bin/l1norm "${overflow[@]}" --run-dir "$tmp/overflow" >"$tmp/out" 2>"$tmp/err"
code=$?
expect "l1norm whose Adam moment overflows exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and names the moment and the parameter: '$(head -n 1 "$tmp/err")'" \
  grep -q "step [0-9]*: Adam's second moment (exp_avg_sq) of rnn.weight_[ih]*\[0\] is inf: training stopped" "$tmp/err"
bin/l1norm --resume "$tmp/overflow" --quiet >"$tmp/out" 2>"$tmp/err"
expect "  and its checkpoint loads (the resumed run stops the same way): '$(head -n 1 "$tmp/err")'" \
  grep -q "Adam's second moment" "$tmp/err"

# ------------------------------------------- stopped at step 0
# A new run writes its checkpoint (step 0) before any other file. Killed
# just after it, the directory holds only that checkpoint: --resume starts
# the run afresh there and ends byte for byte as an uninterrupted run. (The
# state is made by hand: a finished run's other files removed and its
# checkpoint's step set to 0; the restart remakes everything from the
# settings.) Killed before it, the directory holds only the lock file: a
# new run goes into it.
small=(--T 30 --hidden 8 --steps 200 --test-size 64 --eval-every 50 --quiet --threads 1)
bin/adding "${small[@]}" --run-dir "$tmp/zero-ref" >/dev/null 2>&1
cp -r "$tmp/zero-ref" "$tmp/zero"
rm "$tmp/zero/metrics.csv" "$tmp/zero/params.csv" "$tmp/zero/model.safetensors"
"$python" - "$tmp/zero/checkpoint.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n]); h['__metadata__']['train.step'] = '0'
t = json.dumps(h, separators=(',', ':')).encode(); t += b' ' * (-len(t) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(t)) + t + raw[8 + n:])
PY
"${tool[@]}" sign "$tmp/zero/checkpoint.safetensors"
bin/adding --resume "$tmp/zero" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a resume of a run stopped at step 0 (only its checkpoint) exits with 0 (got $code: $(head -n 1 "$tmp/err"))" [ "$code" -eq 0 ]
same_run zero zero-ref "restarted from step 0"
expect "  and writes params.csv again (its run id the checkpoint's)" cmp -s <(grep -v threads "$tmp/zero-ref/params.csv") <(grep -v threads "$tmp/zero/params.csv")
mkdir "$tmp/bare" && : >"$tmp/bare/.lock"
bin/adding "${small[@]}" --run-dir "$tmp/bare" >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a new run into a directory that holds only a lock file exits with 0 (got $code: $(head -n 1 "$tmp/err"))" [ "$code" -eq 0 ]
same_run bare zero-ref "a run into a directory with only a lock file"
bin/adding "${small[@]}" --run-dir "$tmp/zero" >"$tmp/out" 2>"$tmp/err"
expect "a new run into a directory with a checkpoint is refused: '$(head -n 1 "$tmp/err")'" \
  grep -q "already holds a run" "$tmp/err"

# ------------------------------------------- a run begun by an older ag
# Its checkpoint has no checksum, no ag.run_id and no chunks setting (from
# before data-parallel training: one chunk), its params.csv no run_id
# row: it resumes, with a one-line note, and stays without a run id. A
# checkpoint that only lost its checksum resumes with its own note. (The
# run stopped early, so the resume trains no further.)
cp -r "$tmp/sgd" "$tmp/old"
"${tool[@]}" strip "$tmp/old/checkpoint.safetensors" ag.crc32c ag.run_id chunks
sed -i -e '/^"run_id",/d' -e '/^"chunks",/d' "$tmp/old/params.csv"
bin/adding --resume "$tmp/old" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a run of an older ag resumes (exit 0, got $code)" [ "$code" -eq 0 ]
one_line() { [ "$(wc -l <"$2")" -eq 1 ] && grep -q -e "$1" "$2"; } # one_line PATTERN FILE
expect "  with one note on stderr: '$(head -n 1 "$tmp/err")'" \
  one_line "note: .*old/checkpoint.safetensors was written by an older ag: with no checksum and no run id" "$tmp/err"
expect "  and its params.csv still has no run id" [ -z "$(run_id "$tmp/old")" ]
cp -r "$tmp/sgd" "$tmp/unsigned"
"${tool[@]}" strip "$tmp/unsigned/checkpoint.safetensors" ag.crc32c
bin/adding --resume "$tmp/unsigned" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a checkpoint without its checksum resumes (exit 0, got $code)" [ "$code" -eq 0 ]
expect "  with one note: '$(head -n 1 "$tmp/err")'" one_line "note: .*unsigned/checkpoint.safetensors has no checksum" "$tmp/err"
expect "  and keeps its run id" [ "$(run_id "$tmp/unsigned")" = "$(run_id "$tmp/sgd")" ]

# ------------------------------------------------- one process per run directory
# A run holds a lock on its directory while it runs: a second run into it
# and a resume of it are refused, naming the process; after kill -9 the
# kernel has dropped the lock and the run resumes.
bin/adding --T 30 --hidden 8 --steps 1000000 --test-size 16 --quiet --threads 1 --run-dir "$tmp/locked" >/dev/null 2>&1 &
pid=$!
waited=0
while [ ! -s "$tmp/locked/checkpoint.safetensors" ] && [ $waited -lt 1000 ]; do sleep 0.01; waited=$((waited + 1)); done
bin/adding --T 30 --hidden 8 --steps 1000000 --test-size 16 --quiet --threads 1 --run-dir "$tmp/locked" >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a second run into a running run's directory exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and names the process: '$(head -n 1 "$tmp/err")'" grep -q "locked is in use by process $pid\$" "$tmp/err"
bin/adding --resume "$tmp/locked" --quiet >"$tmp/out" 2>"$tmp/err"
code=$?
expect "a resume of a running run exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  and names the process: '$(head -n 1 "$tmp/err")'" grep -q "locked is in use by process $pid\$" "$tmp/err"
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null
bin/adding --resume "$tmp/locked" --steps 1000000 --quiet >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
code=$?
expect "after kill -9 the run resumes (SIGTERM later: exit 143, got $code)" [ "$code" -eq 143 ]

# ------------------------------------------- a signal before training began
# adding's first test evaluation (10,000 sequences of 150 steps: seconds)
# runs before the run directory exists: a signal stops it, leaves nothing
# behind and says so (nothing to clean by hand).
bin/adding --quiet --threads 1 --run-dir "$tmp/early" >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.3
kill -TERM "$pid"
wait "$pid"
code=$?
expect "adding stopped by SIGTERM before training exits with 143 (got $code)" [ "$code" -eq 143 ]
expect "  and says nothing was written: '$(head -n 1 "$tmp/err")'" grep -q 'SIGTERM before training began: nothing was written' "$tmp/err"
expect "  and leaves no run directory" [ ! -e "$tmp/early" ]

leftovers=$(find "$tmp" -name '*.tmp.*' | head -n 3)
expect "no temporary file is left behind ($leftovers)" [ -z "$leftovers" ]
finish
