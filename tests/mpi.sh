#!/usr/bin/env bash
# Data-parallel training over Open MPI (ag_mpi.h): `mpirun -np N` leaves
# the same model.safetensors and metrics.csv as one process with the same
# settings, for N = 1, 2, 3 (and 4, more processes than chunks), over
# shared memory and over TCP (the transport between hosts), for adding and
# digitsum, and for charlm (chunks of its streams, each with its own
# carried state and dropout); only process 0 writes or prints; a run
# stopped by SIGTERM resumes with another N and ends as the uninterrupted
# run (adding and charlm); a process
# killed with -9 ends the job and its last checkpoint resumes; a demo that
# does not train data-parallel, and a bad flag, fail with one line. Prints
# "N passed, M failed"; exits 1 if M > 0.
check_name=mpi
. "$(dirname "$0")/check_common.bash"

if ! command -v mpirun >/dev/null; then
  fail "mpirun is missing (make deps installs openmpi-bin)"
  finish
fi
# Open MPI refuses to run as root unless told: the tests run as whoever
# runs them (CI runs as root).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# In a container without ptrace rights Open MPI warns that its shared-memory
# transport cannot copy between processes directly; it works without.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# Two cores here: three or four processes need --oversubscribe.
mpi() {
  local n=$1
  shift
  timeout 120 mpirun --oversubscribe -np "$n" "$@"
}
same_file() { cmp -s "$1" "$2"; }
# The tensors of two safetensors files, byte for byte (a checkpoint's
# metadata names its own run).
same_tensors() {
  python3 -c 'import struct, sys
def tensors(path):
    data = open(path, "rb").read()
    return data[8 + struct.unpack("<Q", data[:8])[0]:]
sys.exit(tensors(sys.argv[1]) != tensors(sys.argv[2]))' "$1" "$2"
}
# metrics.csv without the columns that are wall time (digitsum's seconds).
without_seconds() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") skip = i }
  { out = ""; for (i = 1; i <= NF; i++) if (i != skip) out = out (out == "" && i == 1 ? "" : ",") $i; print out }' "$1"; }

# in_background DIR ROWS PROGRAM ARGS...: mpirun -np 3 PROGRAM ARGS
# --run-dir DIR in the background ($pid), returning once DIR/metrics.csv
# has more than ROWS lines (or after 15 s).
in_background() {
  local dir=$1 rows=$2
  shift 2
  mpirun --oversubscribe -np 3 "$@" --run-dir "$dir" >"$dir.out" 2>"$dir.err" &
  pid=$!
  for _ in $(seq 300); do
    [ -f "$dir/metrics.csv" ] && [ "$(wc -l <"$dir/metrics.csv")" -gt "$rows" ] && break
    sleep 0.05
  done
}
# process_of DIR RANK: the pid of that process of the job running in DIR.
process_of() {
  pgrep -f -- "--run-dir $1\$" | while read -r p; do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p"
  done | head -n 1
}

cd "$tmp" || exit 1

# ------------------------------------------------ adding: N = 1, 2, 3, 4
adding=(--T 20 --hidden 16 --batch 12 --chunks 3 --steps 60 --eval-every 20 --test-size 200 --threads 1 --quiet)
"$root/bin/adding" "${adding[@]}" --run-dir one >one.out 2>one.err
expect "adding, one process: exit 0 (stderr: $(head -c 300 one.err))" [ $? -eq 0 ]
for n in 1 2 3 4; do
  mpi "$n" "$root/bin/adding" "${adding[@]}" --run-dir "np$n" >"np$n.out" 2>"np$n.err"
  code=$?
  expect "adding -np $n: exit 0, not $code (stderr: $(head -c 300 "np$n.err"))" [ "$code" -eq 0 ]
  expect "adding -np $n: the same model.safetensors as one process" same_file one/model.safetensors "np$n/model.safetensors"
  expect "adding -np $n: the same metrics.csv as one process" same_file one/metrics.csv "np$n/metrics.csv"
  expect "adding -np $n: the same weights and Adam state in the checkpoint as one process" \
    same_tensors one/checkpoint.safetensors "np$n/checkpoint.safetensors"
  expect "adding -np $n: one summary line on stdout (got $(grep -c '^summary:' "np$n.out"))" \
    [ "$(grep -c '^summary:' "np$n.out")" -eq 1 ]
  expect "adding -np $n: params.csv names $n processes" grep -q "^\"processes\",\"$n\"" "np$n/params.csv"
done
expect "adding -np 4 with 3 chunks: a note that one process has none" grep -q -- "--chunks 3 for 4 processes: 1 of them" np4.err
# (Open MPI itself may warn about the machine: only the demo's lines count.)
expect "adding -np 3: the demo says nothing on stderr (got: $(head -c 300 np3.err))" \
  bash -c "! grep -q -e '^adding' -e '^(process' np3.err"
expect "only the named run directories were written (got: $(ls | tr '\n' ' '))" [ ! -e runs ]
mpi 2 --mca btl self,tcp "$root/bin/adding" "${adding[@]}" --run-dir tcp >tcp.out 2>tcp.err
code=$?
expect "adding -np 2 over TCP: exit 0, not $code (stderr: $(head -c 300 tcp.err))" [ "$code" -eq 0 ]
expect "adding -np 2 over TCP: the same model.safetensors" same_file one/model.safetensors tcp/model.safetensors
expect "adding -np 2 over TCP: the same metrics.csv" same_file one/metrics.csv tcp/metrics.csv
# The chunks are a setting: another number changes the numbers (the test
# would not see a harness that ignored --chunks otherwise).
"$root/bin/adding" --T 20 --hidden 16 --batch 12 --chunks 1 --steps 60 --eval-every 20 --test-size 200 --quiet \
  --run-dir k1 >/dev/null 2>&1
expect "--chunks 1 and --chunks 3 train differently (float rounding)" \
  bash -c "! cmp -s one/model.safetensors k1/model.safetensors"

# ------------------------------------------------- digitsum: N = 1, 2, 3
"$root/bin/digitsum" gen-data --len 3 --sample 400 --seed 1 --out digits.csv >/dev/null 2>&1
digitsum=(train --data digits.csv --epochs 2 --hidden 16 --batch 20 --chunks 3 --threads 1 --quiet)
"$root/bin/digitsum" "${digitsum[@]}" --run-dir d1 >d1.out 2>d1.err
expect "digitsum, one process: exit 0 (stderr: $(head -c 300 d1.err))" [ $? -eq 0 ]
for n in 1 2 3; do
  mpi "$n" "$root/bin/digitsum" "${digitsum[@]}" --run-dir "dnp$n" >"dnp$n.out" 2>"dnp$n.err"
  code=$?
  expect "digitsum -np $n: exit 0, not $code (stderr: $(head -c 300 "dnp$n.err"))" [ "$code" -eq 0 ]
  expect "digitsum -np $n: the same model.safetensors as one process" same_file d1/model.safetensors "dnp$n/model.safetensors"
  expect "digitsum -np $n: the same metrics.csv as one process, but for the seconds column" \
    cmp -s <(without_seconds d1/metrics.csv) <(without_seconds "dnp$n/metrics.csv")
done
expect "digitsum's metrics.csv has its rows ($(wc -l <d1/metrics.csv) lines)" [ "$(wc -l <d1/metrics.csv)" -eq 3 ]

# --------------------------------------------------- charlm: N = 1, 2, 3
# Three chunks of six streams, each chunk carrying its own LSTM state and
# drawing its own dropout (two layers: dropout 0.2 between them); 40 lines
# of made-up text give 17 steps an epoch, so 30 steps cross an epoch's
# reset of the state.
awk 'BEGIN { split("the a cat dog sat ran on under mat log and then", w, " "); s = 7
  for (line = 0; line < 40; line++) { out = ""
    for (i = 0; i < 5; i++) { s = (s * 1103515245 + 12345) % 2147483648; out = out w[1 + int(s / 65536) % 12] " " }
    print out line % 10 "." } }' >text.txt
charlm=(train --data text.txt --hidden 16 --embed 8 --layers 2 --batch 6 --chunks 3 --seq-len 8 --threads 1 --quiet)
"$root/bin/charlm" "${charlm[@]}" --steps 30 --eval-every 15 --run-dir c1 >c1.out 2>c1.err
expect "charlm, one process: exit 0 (stderr: $(head -c 300 c1.err))" [ $? -eq 0 ]
for n in 1 2 3; do
  mpi "$n" "$root/bin/charlm" "${charlm[@]}" --steps 30 --eval-every 15 --run-dir "cnp$n" >"cnp$n.out" 2>"cnp$n.err"
  code=$?
  expect "charlm -np $n: exit 0, not $code (stderr: $(head -c 300 "cnp$n.err"))" [ "$code" -eq 0 ]
  expect "charlm -np $n: the same model.safetensors as one process" same_file c1/model.safetensors "cnp$n/model.safetensors"
  expect "charlm -np $n: the same metrics.csv as one process, but for the seconds column" \
    cmp -s <(without_seconds c1/metrics.csv) <(without_seconds "cnp$n/metrics.csv")
  expect "charlm -np $n: the same carried state in the checkpoint as one process" \
    same_tensors c1/checkpoint.safetensors "cnp$n/checkpoint.safetensors"
done
"$root/bin/charlm" train --data text.txt --hidden 16 --embed 8 --layers 2 --batch 6 --chunks 1 --seq-len 8 --threads 1 \
  --quiet --steps 30 --eval-every 15 --run-dir ck1 >/dev/null 2>&1
expect "charlm --chunks 1 and --chunks 3 train differently (their own dropout draws)" \
  bash -c "! cmp -s c1/model.safetensors ck1/model.safetensors"

# Stopped under -np 3, resumed under -np 2: the checkpoint holds the
# chunks' states and generators whole (gathered from the three processes)
# and the resume splits them another way. Where the run stops depends on
# when the signal comes, but not the result: whatever step it stopped at,
# the resumed run must end as the uninterrupted one, bytes for bytes. The
# signal goes to process 0 itself (the processes agree on it at the next
# step), not through mpirun, which takes a second or two to hand it on.
clong=("${charlm[@]}" --steps 4000 --eval-every 1000 --checkpoint-every 100)
"$root/bin/charlm" "${clong[@]}" --run-dir cwhole >/dev/null 2>&1
in_background cstopped 100 "$root/bin/charlm" "${clong[@]}"
rank0=$(process_of cstopped 0)
expect "charlm: found process 0 of the job (pid '$rank0')" [ -n "$rank0" ]
[ -n "$rank0" ] && kill -TERM "$rank0"
wait "$pid"
steps=$(($(wc -l <cstopped/metrics.csv) - 2))
expect "charlm: SIGTERM to process 0 stops the run before its end (at step $steps)" [ "$steps" -lt 4000 ]
mpi 2 "$root/bin/charlm" train --resume cstopped >cresumed.out 2>cresumed.err
code=$?
expect "charlm resumed with -np 2: exit 0, not $code (stderr: $(head -c 300 cresumed.err))" [ "$code" -eq 0 ]
expect "charlm stopped with -np 3, resumed with -np 2: the uninterrupted run's model" \
  same_file cwhole/model.safetensors cstopped/model.safetensors
expect "charlm stopped with -np 3, resumed with -np 2: the uninterrupted run's metrics.csv, but for the seconds" \
  cmp -s <(without_seconds cwhole/metrics.csv) <(without_seconds cstopped/metrics.csv)

# ------------------------------------- SIGTERM, then resume with another N
# Long enough that mpirun, which takes a second or two to hand a signal
# on, stops it midway.
long=(--T 50 --hidden 48 --batch 12 --chunks 3 --steps 12000 --eval-every 1000 --test-size 200 --threads 1
  --checkpoint-every 100 --quiet)
"$root/bin/adding" "${long[@]}" --run-dir whole >/dev/null 2>&1
in_background stopped 300 "$root/bin/adding" "${long[@]}"
kill -TERM "$pid"
wait "$pid"
steps=$(($(wc -l <stopped/metrics.csv) - 2))
expect "SIGTERM to mpirun: the run stops before its end (at step $steps)" [ "$steps" -lt 12000 ]
expect "SIGTERM to mpirun: process 0 says how to go on (got: $(tail -n 1 stopped.err))" grep -q "go on with" stopped.err
mpi 2 "$root/bin/adding" --resume stopped >resumed.out 2>resumed.err
code=$?
expect "resumed with -np 2: exit 0, not $code (stderr: $(head -c 300 resumed.err))" [ "$code" -eq 0 ]
expect "stopped with -np 3, resumed with -np 2: the uninterrupted run's model" same_file whole/model.safetensors stopped/model.safetensors
expect "stopped with -np 3, resumed with -np 2: the uninterrupted run's metrics.csv" same_file whole/metrics.csv stopped/metrics.csv

# ------------------------------- a process killed with -9 ends the job
in_background killed 300 "$root/bin/adding" "${long[@]}"
victim=$(process_of killed 2)
expect "found process 2 of the job (pid '$victim')" [ -n "$victim" ]
[ -n "$victim" ] && kill -9 "$victim"
wait "$pid"
code=$?
expect "a process killed with -9: mpirun exits non-zero (got $code)" [ "$code" -ne 0 ]
expect "a process killed with -9: no process of the job is left" bash -c "! pgrep -f -- '--run-dir [k]illed' >/dev/null"
"$root/bin/adding" --resume killed >killed-resumed.out 2>killed-resumed.err
code=$?
expect "its checkpoint resumes in one process: exit 0, not $code (stderr: $(head -c 300 killed-resumed.err))" [ "$code" -eq 0 ]
expect "... and ends as the uninterrupted run" same_file whole/model.safetensors killed/model.safetensors

# ----------------------------------------------------- one-line failures
mpi 2 "$root/bin/l1norm" --run-dir l1 >l1.out 2>l1.err
code=$?
expect "l1norm under mpirun -np 2: exit code 2 (got $code)" [ "$code" -eq 2 ]
expect "l1norm under mpirun -np 2: one line says to run it without mpirun (got: $(cat l1.err))" \
  grep -q "run it without mpirun" l1.err
expect "l1norm under mpirun -np 2: the line comes once ($(grep -c 'without mpirun' l1.err))" \
  [ "$(grep -c 'without mpirun' l1.err)" -eq 1 ]
expect "l1norm under mpirun -np 2: no run directory" [ ! -e l1 ]
mpi 3 "$root/bin/adding" --hidden 0 --run-dir bad >bad.out 2>bad.err
code=$?
expect "a bad flag under mpirun -np 3: exit code 2 (got $code)" [ "$code" -eq 2 ]
expect "a bad flag under mpirun -np 3: said once ($(grep -c -- '--hidden' bad.err) lines)" \
  [ "$(grep -c -- '--hidden' bad.err)" -eq 1 ]
# One process fails alone (MPMD: its own --data is missing): process 0
# says which, that process's message comes marked, nothing is written.
mpi 1 "$root/bin/digitsum" train --data digits.csv --epochs 1 --run-dir alone : \
  -np 1 "$root/bin/digitsum" train --data missing.csv --epochs 1 --run-dir alone >alone.out 2>alone.err
code=$?
expect "one process failing alone: a non-zero exit (got $code)" [ "$code" -ne 0 ]
expect "  process 0 names it (got: $(head -n 2 alone.err | tr '\n' ' '))" grep -q "process 1 of 2 failed alone" alone.err
expect "  its own message comes marked" grep -q "^(process 1 of 2) digitsum train: --data: missing.csv" alone.err
expect "  no run directory" [ ! -e alone ]
mpi 2 "$root/bin/adding" --help >help.out 2>help.err
expect "--help under mpirun -np 2: printed once" [ "$(grep -c '^Usage' help.out)" -eq 1 ]
finish
