#!/usr/bin/env bash
# make adding-sweep spread over MPI processes (RANKS=3): all 12
# configurations run, each once, and results.csv holds the same test MSEs
# as the sweep on this machine's two slots (every training is seeded, one
# thread each); the chart goes where PLOT says, not into plots/. Prints
# "N passed, M failed"; exits 1 if M > 0.
check_name=mpi_sweep
. "$(dirname "$0")/check_common.bash"

if ! command -v mpirun >/dev/null; then
  fail "mpirun is missing (make deps installs openmpi-bin)"
  finish
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
tiny=(STEPS=12 EVAL_EVERY=6 TEST_SIZE=40)
env "${tiny[@]}" OUT="$tmp/local" PLOT="$tmp/local.png" timeout 300 demos/adding_sweep.sh >"$tmp/local.log" 2>&1
expect "the sweep on two slots: exit 0 ($(tail -n 3 "$tmp/local.log"))" [ $? -eq 0 ]
env "${tiny[@]}" RANKS=3 MPIRUN_FLAGS=--oversubscribe OUT="$tmp/mpi" PLOT="$tmp/mpi.png" timeout 300 \
  demos/adding_sweep.sh >"$tmp/mpi.log" 2>&1
expect "the sweep over 3 MPI processes: exit 0 ($(tail -n 3 "$tmp/mpi.log"))" [ $? -eq 0 ]
runs=$(ls -d "$tmp"/mpi/*-T*/ 2>/dev/null | wc -l)
expect "the sweep over 3 MPI processes ran 12 trainings (got $runs)" [ "$runs" -eq 12 ]
done_lines=$(grep -c '^done: ' "$tmp/mpi.log")
expect "each configuration ran once (12 'done:' lines, got $done_lines)" [ "$done_lines" -eq 12 ]
expect "results.csv has a row for each (got $(($(wc -l <"$tmp/mpi/results.csv") - 1)))" \
  [ "$(wc -l <"$tmp/mpi/results.csv")" -eq 13 ]
# step_ms is wall time: every other column must agree.
columns() { cut -d, -f1-5,7 "$1"; }
expect "the same results as the sweep on two slots" cmp -s <(columns "$tmp/local/results.csv") <(columns "$tmp/mpi/results.csv")
expect "the chart is where PLOT says" [ -s "$tmp/mpi.png" ]
expect "the Markdown table is printed" grep -q '^| irnn | ' "$tmp/mpi.log"
finish
