#!/usr/bin/env bash
# `make bench`: ag against PyTorch on the demos' training steps, side by
# side (ONLY=PREFIX: the workloads whose name starts with it, into
# bench/results-PREFIX.csv; THREADS="1" for one thread only). For each
# round, each workload and each thread count, ag runs, then
# PyTorch (A B A B ...), so both see the same machine; the table gives
# medians of ROUNDS (default 5) and is written to bench/results.csv, and
# plots/bench.png shows the ratios. PyTorch is skipped, with a note, when
# /usr/bin/python3 cannot import torch.
#
# Units: l1norm and adding per training step, digitsum per epoch (8,000
# sequences). GFLOP/s counts the matrix products of the recurrence
# (forward, input gradient, weight gradient: 6 x rows x (hidden + input) x
# gates a step) and sets them against a 512^3 sgemm timed in the same run
# ("ag %peak"). The header names the OpenBLAS kernel family ("Core") each side
# ran: ag's from its run's status.json ("blas"), PyTorch's (Debian's links
# OpenBLAS) and the sgemm's from OPENBLAS_VERBOSE=2.
#
# Across sizes: the adding IRNN at T=150 with H in {100, 256, 512, 1024}
# (batch 16) and with batch 128 (H 100); with the adding rows present,
# plots/bench_sizes.png draws the step time against H (plots/bench_sizes.gp).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
threads_list=${THREADS:-"1 2"}
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -f data/seq_len_4_only.csv ] || bin/digitsum gen-data --len 4 --only --out data/seq_len_4_only.csv >/dev/null
# The char LM's text: the first 400,000 bytes of the fortunes (108 distinct), so that the validations
# at a run's start and end take about a second; its steps are the default model's.
find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' | sort | xargs cat 2>/dev/null | head -c 400000 >"$tmp/charlm.txt" ||
  true # cat meets the pipe closed by head
[ "$(wc -c <"$tmp/charlm.txt")" -eq 400000 ] || { echo "bench: no fortunes text (make deps installs the fortunes package)"; exit 1; }

# name|unit|ag command|torch command|flops per unit (0: not counted)
# 6 x B x (H + 2) x G x T (B = 16 and H = 100 but where the name says otherwise; G = H for the IRNN, 400 for the LSTM, 300 for the GRU); digitsum: 8,000 sequences of
# 6.93 steps on average (7.15% of the sums have one digit), 12 inputs; charlm: 6 x 2,048 positions x
# ((64 + 256) x 1,024 + (256 + 256) x 1,024 + 256 x 108), the two LSTM layers and the readout.
workloads=(
  "l1norm|us/step|bin/l1norm --quiet --checkpoint-every 1000000|bench/pytorch/l1norm.py|0"
  "adding T=150|ms/step|bin/adding --T 150 --steps 300 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py 150|146880000"
  "adding LSTM T=150|ms/step|bin/adding --model lstm --T 150 --steps 200 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py lstm:150|587520000"
  "adding GRU T=150|ms/step|bin/adding --model gru --T 150 --steps 200 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py gru:150|440640000"
  "adding H=256|ms/step|bin/adding --T 150 --hidden 256 --steps 50 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py --steps 30 --warmup 3 irnn:150:256:16|951091200"
  "adding H=512|ms/step|bin/adding --T 150 --hidden 512 --steps 20 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py --steps 10 --warmup 2 irnn:150:512:16|3789619200"
  "adding H=1024|ms/step|bin/adding --T 150 --hidden 1024 --steps 10 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py --steps 6 --warmup 1 irnn:150:1024:16|15128985600"
  "adding B=128|ms/step|bin/adding --T 150 --batch 128 --steps 50 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py --steps 30 --warmup 3 irnn:150:100:128|1175040000"
  "adding T=400|ms/step|bin/adding --T 400 --steps 150 --eval-every 1000000 --test-size 16 --checkpoint-every 1000000 --quiet|bench/pytorch/adding.py 400|391680000"
  "digitsum lstm|s/epoch|bin/digitsum train --model lstm --data data/seq_len_4_only.csv --epochs 2 --quiet|bench/pytorch/digitsum.py lstm|23840000000"
  "digitsum rnn|s/epoch|bin/digitsum train --model rnn --data data/seq_len_4_only.csv --epochs 2 --quiet|bench/pytorch/digitsum.py rnn|5960000000"
  "charlm|ms/step|bin/charlm train --data $tmp/charlm.txt --steps 20 --eval-every 1000000 --checkpoint-every 1000000 --quiet|bench/pytorch/charlm.py --data $tmp/charlm.txt --time-steps 10 --threads|10808721408"
)

# field FILE KEY: the value of KEY=V on FILE's last line.
field() { tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# The time per unit, in the workload's unit.
ag_value() {
  case "$2" in
    l1norm) awk -v s="$(field "$1" seconds)" -v n="$(field "$1" steps)" 'BEGIN{printf "%.4f\n", s / n * 1e6}' ;;
    adding* | charlm*) field "$1" step_ms ;;
    digitsum*) field "$1" epoch_seconds ;;
  esac
}
torch_value() {
  case "$2" in
    l1norm) field "$1" step_us ;;
    adding* | charlm*) field "$1" step_ms ;;
    digitsum*) field "$1" epoch_seconds ;;
  esac
}
# ONLY=PREFIX keeps the workloads whose name starts with it (ONLY=charlm: that row and sampling).
if [ -n "${ONLY:-}" ]; then
  kept=()
  for w in "${workloads[@]}"; do [[ $w == "$ONLY"* ]] && kept+=("$w"); done
  workloads=("${kept[@]}")
fi
median() { sort -g | awk '{v[NR]=$1} END{if (NR) print v[int((NR+1)/2)]; else print "nan"}'; }
# kernels FILE: the distinct kernel families in FILE (one a line), joined by "/"; "?" if none.
kernels() { { sort -u "$1" 2>/dev/null || true; } | paste -sd/ | sed 's/^$/?/'; }

${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I/usr/include/x86_64-linux-gnu bench/sgemm_peak.c -lopenblas \
  -o "$tmp/sgemm_peak"

for round in $(seq "$rounds"); do
  OPENBLAS_NUM_THREADS=1 OPENBLAS_VERBOSE=2 "$tmp/sgemm_peak" >> "$tmp/peak" 2>"$tmp/peak-err"
  sed -n 's/^Core: //p' "$tmp/peak-err" >> "$tmp/peak-core"
  for w in "${!workloads[@]}"; do
    IFS='|' read -r name unit ag_cmd torch_cmd flops <<<"${workloads[$w]}"
    for threads in $threads_list; do
      key="$w-$threads"
      /usr/bin/time -f "%M" -o "$tmp/rss" $ag_cmd --threads "$threads" --run-dir "$tmp/run-$key-$round" > "$tmp/out" 2>&1 ||
        { echo "bench: ag failed on $name:"; tail -n 3 "$tmp/out"; exit 1; }
      ag_value "$tmp/out" "$name" >> "$tmp/ag-$key"; cat "$tmp/rss" >> "$tmp/ag-rss-$key"
      sed -n 's/^[[:space:]]*"blas":[[:space:]]*"\(.*\)".*/\1/p' "$tmp/run-$key-$round/status.json" >> "$tmp/ag-core-$key" 2>/dev/null || true
      if [ $have_torch = 1 ]; then
        OPENBLAS_VERBOSE=2 /usr/bin/time -f "%M" -o "$tmp/rss" /usr/bin/python3 $torch_cmd "$threads" > "$tmp/out" 2>&1 ||
          { echo "bench: PyTorch failed on $name:"; tail -n 3 "$tmp/out"; exit 1; }
        torch_value "$tmp/out" "$name" >> "$tmp/torch-$key"; cat "$tmp/rss" >> "$tmp/torch-rss-$key"
        sed -n 's/^Core: //p' "$tmp/out" >> "$tmp/torch-core-$key"
      fi
    done
  done
  # Sampling 10,000 characters from the char LM this round trained (the default model's size).
  for w in "${!workloads[@]}"; do
    [ "${workloads[$w]%%|*}" = charlm ] || continue
    for threads in $threads_list; do
      start=$(date +%s.%N)
      bin/charlm sample --checkpoint "$tmp/run-$w-$threads-$round/model.safetensors" --length 10000 --threads "$threads" \
        >/dev/null || { echo "bench: charlm sample failed"; exit 1; }
      awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.4f\n", e - s }' >> "$tmp/sample-$threads"
    done
  done
  echo "round $round of $rounds done" >&2
done

peak=$(median < "$tmp/peak")
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
date=$(date +%F)
# The kernel families: every run of a side, all workloads together (one name unless something differed).
cat "$tmp"/ag-core-* > "$tmp/ag-core-all" 2>/dev/null || true
cat "$tmp"/torch-core-* > "$tmp/torch-core-all" 2>/dev/null || true
ag_core_all=$(kernels "$tmp/ag-core-all"); torch_core_all=$(kernels "$tmp/torch-core-all")
[ $have_torch = 1 ] || torch_core_all=-
echo "ag vs PyTorch, medians of $rounds alternating runs; $date; $cpu, $(nproc) cores; sgemm 512^3 peak $peak GFLOP/s" \
  "($(kernels "$tmp/peak-core") kernels); OpenBLAS kernels: ag $ag_core_all, PyTorch $torch_core_all"
[ $have_torch = 1 ] || echo "(PyTorch not installed: apt-get install python3-torch to compare; its columns are empty)"
printf "%-17s %7s %8s %11s %11s %8s %8s %9s %9s %8s\n" workload threads unit ag PyTorch speedup "ag MB" "torch MB" "ag GF/s" \
  "ag %peak"
csv="$tmp/results.csv"
echo "date,cpu,workload,threads,unit,ag,torch,speedup,ag_rss_mb,torch_rss_mb,ag_gflops,sgemm_peak_gflops,ag_peak_pct,ag_blas,torch_blas" > "$csv"
for w in "${!workloads[@]}"; do
  IFS='|' read -r name unit ag_cmd torch_cmd flops <<<"${workloads[$w]}"
  for threads in $threads_list; do
    key="$w-$threads"
    ag=$(median < "$tmp/ag-$key"); ag_rss=$(median < "$tmp/ag-rss-$key")
    torch=nan; torch_rss=nan; ag_core=$(kernels "$tmp/ag-core-$key"); torch_core=nan
    if [ $have_torch = 1 ]; then
      torch=$(median < "$tmp/torch-$key"); torch_rss=$(median < "$tmp/torch-rss-$key"); torch_core=$(kernels "$tmp/torch-core-$key")
    fi
    awk -v n="$name" -v th="$threads" -v u="$unit" -v a="$ag" -v t="$torch" -v ar="$ag_rss" -v tr="$torch_rss" \
        -v f="$flops" -v peak="$peak" -v date="$date" -v cpu="$cpu" -v csv="$csv" -v ac="$ag_core" -v tc="$torch_core" 'BEGIN {
      scale = u ~ /^us/ ? 1e-6 : u ~ /^ms/ ? 1e-3 : 1
      ratio = t == "nan" ? "nan" : sprintf("%.2f", t / a)
      gflops = f > 0 ? sprintf("%.1f", f / (a * scale) / 1e9) : "nan"
      pct = gflops != "nan" && peak + 0 > 0 ? sprintf("%.1f", gflops / peak * 100) : "nan"
      trm = tr == "nan" ? "nan" : sprintf("%.1f", tr / 1024)
      printf "%-17s %7s %8s %11.4g %11s %8s %8.1f %8s %9s %9s\n", n, th, u, a, t == "nan" ? "-" : sprintf("%.4g", t),
             ratio == "nan" ? "-" : ratio "x", ar / 1024, trm == "nan" ? "-" : trm, gflops == "nan" ? "-" : gflops,
             pct == "nan" ? "-" : pct "%"
      printf "%s,\"%s\",%s,%s,%s,%s,%s,%s,%.1f,%s,%s,%s,%s,%s,%s\n", date, cpu, n, th, u, a, t, ratio, ar / 1024, trm, gflops,
             peak, pct, ac, tc >> csv
    }'
  done
done
for threads in $threads_list; do
  if [ -s "$tmp/sample-$threads" ]; then
    seconds=$(median < "$tmp/sample-$threads")
    printf "%-17s %7s %8s %11.4g %11s\n" "charlm sample" "$threads" "s/10k ch" "$seconds" -
    echo "$date,\"$cpu\",charlm sample 10k,$threads,s,$seconds,nan,nan,nan,nan,nan,$peak,nan,$ag_core_all,nan" >> "$csv"
  fi
done
# A partial run (ONLY) keeps the full table and its chart as they are.
results=bench/results${ONLY:+-$ONLY}.csv
mv "$csv" "$results.tmp" && mv "$results.tmp" "$results"
echo "wrote $results"
if command -v gnuplot >/dev/null && [ $have_torch = 1 ] && [ -z "${ONLY:-}" ]; then
  # One line per workload: name, speed-up with 1 thread, with 2.
  awk -F, 'NR > 1 && $8 != "nan" { key = $3; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
                    speedup[key, $4] = $8 }
           END { for (i = 1; i <= n; i++) printf "\"%s\" %s %s\n", order[i], speedup[order[i], 1], speedup[order[i], 2] }' \
    bench/results.csv > "$tmp/speedups.dat"
  gnuplot -e "data='$tmp/speedups.dat'; output='plots/bench.png.tmp'" plots/bench.gp &&
    mv plots/bench.png.tmp plots/bench.png && echo "wrote plots/bench.png"
fi
# Step time against H (one thread, batch 16), when the sizes' rows ran.
if command -v gnuplot >/dev/null && grep -q ',adding H=[0-9]*,1,' "$results"; then
  gnuplot -e "data='$results'; out='plots/bench_sizes.png.tmp'" plots/bench_sizes.gp &&
    mv plots/bench_sizes.png.tmp plots/bench_sizes.png && echo "wrote plots/bench_sizes.png"
fi
