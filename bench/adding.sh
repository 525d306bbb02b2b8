#!/usr/bin/env bash
# ag's adding-problem training step (IRNN, batch 16, hidden 100) against
# PyTorch's nn.RNN doing the same, one thread, alternating; medians of ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
export OPENBLAS_NUM_THREADS=1
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo "adding (IRNN, batch 16, hidden 100), one thread, medians of $rounds alternating runs"
printf "%-10s %12s %12s %8s %12s %12s\n" "" "ag ms/step" "torch ms" "ratio" "ag RSS MB" "torch RSS MB"
for T in 150 400; do
  for r in $(seq "$rounds"); do
    /usr/bin/time -f "%M" bin/adding --T "$T" --steps 200 --eval-every 1000000 --test-size 16 --quiet \
      --run-dir "$tmp/run-$T-$r" 2>>"$tmp/ag_rss$T" | tail -n 1 | tr ' ' '\n' | sed -n 's/^step_ms=//p' >> "$tmp/ag$T"
    if [ $have_torch = 1 ]; then
      /usr/bin/time -f "%M" /usr/bin/python3 bench/pytorch/adding.py "$T" 1 2>>"$tmp/torch_rss$T" \
        | tr ' ' '\n' | sed -n 's/^step_ms=//p' >> "$tmp/torch$T"
    fi
  done
  ag=$(median < "$tmp/ag$T"); ag_rss=$(median < "$tmp/ag_rss$T")
  if [ $have_torch = 1 ]; then
    torch=$(median < "$tmp/torch$T"); torch_rss=$(median < "$tmp/torch_rss$T")
    awk -v T="$T" -v a="$ag" -v t="$torch" -v ar="$ag_rss" -v tr="$torch_rss" \
      'BEGIN{printf "T=%-8s %12.2f %12.2f %7.2fx %12.1f %12.1f\n", T, a, t, t/a, ar/1024, tr/1024}'
  else
    awk -v T="$T" -v a="$ag" -v ar="$ag_rss" 'BEGIN{printf "T=%-8s %12.2f %12s %8s %12.1f\n", T, a, "-", "-", ar/1024}'
  fi
done
