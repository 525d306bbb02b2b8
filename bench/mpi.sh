#!/usr/bin/env bash
# Data-parallel on this machine: per-step time of one process with two
# threads against two MPI processes with one thread each (the same
# --chunks 2, so the same numbers come out), and one process with one
# thread for scale; then the gradient exchange alone (bench/exchange.c)
# over shared memory and over TCP. ROUNDS=N alternating rounds (default
# 3), medians. Writes bench/results-mpi.csv and bench/results-exchange.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
export OPENBLAS_NUM_THREADS=1
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/digitsum gen-data --len 4 --sample 20000 --seed 1 --out "$tmp/digits.csv" >/dev/null

# name|unit|summary field|flags (each layout adds --threads and the launcher)
workloads=(
  "adding T=150 H=100 B=128|ms/step|step_ms|bin/adding --T 150 --batch 128 --chunks 2 --steps 200 --eval-every 1000000 --test-size 100"
  "adding T=150 H=256 B=128|ms/step|step_ms|bin/adding --T 150 --hidden 256 --batch 128 --chunks 2 --steps 40 --eval-every 1000000 --test-size 100"
  "digitsum LSTM B=128|s/epoch|epoch_seconds|bin/digitsum train --data $tmp/digits.csv --batch 128 --chunks 2 --epochs 2"
  "charlm B=32|ms/step|step_ms|bin/charlm train --chunks 2 --steps 8 --eval-every 1000000"
)
field() { tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "nan"}'; }
layouts=("1x1" "1x2" "2x1")
run_layout() { # layout flags... : prints the summary's last line into $tmp/out
  local layout=$1
  shift
  case $layout in
    1x1) "$@" --threads 1 --quiet --run-dir "$tmp/run" ;;
    1x2) "$@" --threads 2 --quiet --run-dir "$tmp/run" ;;
    2x1) mpirun -np 2 --bind-to core "$@" --threads 1 --quiet --run-dir "$tmp/run" ;;
  esac >"$tmp/out" 2>"$tmp/err" || { echo "bench/mpi: $layout $*: failed: $(tail -n 2 "$tmp/err")" >&2; return 1; }
  rm -rf "$tmp/run"
}
for w in "${!workloads[@]}"; do
  IFS='|' read -r name unit key cmd <<<"${workloads[$w]}"
  for r in $(seq "$rounds"); do
    for layout in "${layouts[@]}"; do
      # shellcheck disable=SC2086
      run_layout "$layout" $cmd && field "$tmp/out" "$key" >>"$tmp/$w-$layout"
    done
  done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
kernels=$(OPENBLAS_VERBOSE=2 bin/adding --steps 1 --test-size 1 --eval-every 1 --quiet --run-dir "$tmp/k" 2>&1 |
  sed -n 's/^Core: //p' | head -n 1)
echo "$cpu, $(nproc) cores; OpenBLAS kernels: ${kernels:-?}; $rounds rounds, medians"
printf "%-26s %-8s %10s %10s %10s %12s\n" workload unit "1 x 1" "1 x 2thr" "2 x 1proc" "2x1 / 1x2"
csv=bench/results-mpi.csv
echo "date,cpu,workload,unit,one_process_one_thread,one_process_two_threads,two_processes_one_thread,speedup_processes_over_threads" >"$csv"
for w in "${!workloads[@]}"; do
  IFS='|' read -r name unit key cmd <<<"${workloads[$w]}"
  a=$(median <"$tmp/$w-1x1" 2>/dev/null || echo nan)
  b=$(median <"$tmp/$w-1x2" 2>/dev/null || echo nan)
  c=$(median <"$tmp/$w-2x1" 2>/dev/null || echo nan)
  ratio=$(awk -v b="$b" -v c="$c" 'BEGIN { if (c + 0 > 0) printf "%.2f", b / c; else print "nan" }')
  printf "%-26s %-8s %10s %10s %10s %12s\n" "$name" "$unit" "$a" "$b" "$c" "${ratio}x"
  echo "$(date +%F),\"$cpu\",$name,$unit,$a,$b,$c,$ratio" >>"$csv"
done
echo "written: $csv"

# The exchange alone.
mkdir -p build
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iframework/include $(mpicc --showme:compile) bench/exchange.c \
  build/libag_mpi.a build/libag.a -lopenblas -lcjson -lm -lpthread $(mpicc --showme:link) -o build/bench_exchange
{
  echo "== shared memory"; mpirun -np 2 build/bench_exchange
  echo "== TCP (loopback: the transport between hosts)"; mpirun -np 2 --mca btl self,tcp build/bench_exchange
} | tee bench/results-exchange.txt
