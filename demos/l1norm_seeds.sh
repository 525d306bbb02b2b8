#!/usr/bin/env bash
# How many seeds converge: bin/l1norm --seed N for N = 1..SEEDS (default
# 100), two trainings at a time, with any further flags given here (e.g.
# --init torch). Each run goes to DIR/N (default
# /tmp/l1seeds-DATE-TIME); DIR/seeds.csv gets seed,converged,steps,
# initial_w_ih,initial_w_hh. Prints the failing seeds and one line: how many
# converged, and the median and largest step count of those that did.
#
#   demos/l1norm_seeds.sh                 # the default init (positive)
#   demos/l1norm_seeds.sh --init torch    # PyTorch's init, the notebook's
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bin/l1norm ] || { echo "l1norm_seeds: build first (make bin/l1norm)" >&2; exit 1; }
seeds=${SEEDS:-100}
dir=${DIR:-/tmp/l1seeds-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$dir"

run_seed() {
  bin/l1norm --seed "$1" --quiet --threads 1 --run-dir "$dir/$1" "${@:2}" | tail -n 1 >"$dir/$1.summary"
}
export -f run_seed
export dir
seq 1 "$seeds" | xargs -P 2 -I{} bash -c 'run_seed "$@"' _ {} "$@"

value() { tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"; }
param() { sed -n "s/^\"$2\",\"\(.*\)\"$/\1/p" "$1"; }
echo "seed,converged,steps,initial_w_ih,initial_w_hh" >"$dir/seeds.csv"
for n in $(seq 1 "$seeds"); do
  echo "$n,$(value "$dir/$n.summary" converged),$(value "$dir/$n.summary" steps),$(param "$dir/$n/params.csv" initial_w_ih),$(param "$dir/$n/params.csv" initial_w_hh)" >>"$dir/seeds.csv"
done
awk -F, -v flags="$*" 'NR > 1 {
    if ($2 == 1) steps[++n] = $3; else failed = failed " " $1
  }
  END {
    if (failed != "") print "did not converge (seeds):" failed
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (steps[j] < steps[i]) { t = steps[i]; steps[i] = steps[j]; steps[j] = t }
    median = n == 0 ? "-" : n % 2 ? steps[(n + 1) / 2] : (steps[n / 2] + steps[n / 2 + 1]) / 2
    printf "l1norm %s: %d of %d seeds converged; steps median %s, max %s\n", flags == "" ? "(default init)" : flags, n,
      NR - 1, median, n == 0 ? "-" : steps[n]
  }' "$dir/seeds.csv"
echo "written: $dir/seeds.csv"
