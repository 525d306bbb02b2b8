#!/usr/bin/env bash
# ag's l1norm against PyTorch doing the same, one thread, alternating
# (A B A B ...) so both see the same machine; medians of ROUNDS runs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
export OPENBLAS_NUM_THREADS=1
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  /usr/bin/time -f "rss_kb=%M" bin/l1norm --quiet --run-dir "$tmp/run$r" 2>"$tmp/ag_rss$r" | tail -n 1 > "$tmp/ag$r"
  if [ $have_torch = 1 ]; then
    /usr/bin/time -f "rss_kb=%M" /usr/bin/python3 bench/pytorch/l1norm.py 1 2>"$tmp/torch_rss$r" > "$tmp/torch$r"
  fi
done
field() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
ag_step=$(for r in $(seq "$rounds"); do awk -v s="$(field "$tmp/ag$r" seconds)" -v n="$(field "$tmp/ag$r" steps)" 'BEGIN{printf "%.3f\n", s/n*1e6}'; done | median)
ag_fwd=$(for r in $(seq "$rounds"); do awk -v s="$(field "$tmp/ag$r" test_seconds)" 'BEGIN{printf "%.3f\n", s*1e3}'; done | median)
ag_rss=$(for r in $(seq "$rounds"); do sed -n 's/rss_kb=//p' "$tmp/ag_rss$r"; done | median)
echo "l1norm, one thread, medians of $rounds alternating runs ($(date +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf "%-34s %12s %12s %8s\n" "" "ag" "PyTorch" "ratio"
if [ $have_torch = 1 ]; then
  t_step=$(for r in $(seq "$rounds"); do field "$tmp/torch$r" step_us; done | median)
  t_padded=$(for r in $(seq "$rounds"); do field "$tmp/torch$r" step_padded_us; done | median)
  t_fwd=$(for r in $(seq "$rounds"); do field "$tmp/torch$r" forward10k_ms; done | median)
  t_rss=$(for r in $(seq "$rounds"); do sed -n 's/rss_kb=//p' "$tmp/torch_rss$r"; done | median)
  awk -v a="$ag_step" -v t="$t_step" 'BEGIN{printf "%-34s %12.2f %12.2f %7.1fx\n", "training step, us (masked)", a, t, t/a}'
  awk -v a="$ag_step" -v t="$t_padded" 'BEGIN{printf "%-34s %12.2f %12.2f %7.1fx\n", "  vs notebook'"'"'s padded step, us", a, t, t/a}'
  awk -v a="$ag_fwd" -v t="$t_fwd" 'BEGIN{printf "%-34s %12.3f %12.3f %7.1fx\n", "forward, length 10,000, ms", a, t, t/a}'
  awk -v a="$ag_rss" -v t="$t_rss" 'BEGIN{printf "%-34s %12.1f %12.1f %7.1fx\n", "peak RSS, MB", a/1024, t/1024, t/a}'
else
  echo "(PyTorch not installed: apt-get install python3-torch to compare)"
  printf "%-34s %12.2f\n%-34s %12.3f\n%-34s %12.1f\n" "training step, us" "$ag_step" "forward, length 10,000, ms" "$ag_fwd" "peak RSS, MB" "$(awk -v a="$ag_rss" 'BEGIN{print a/1024}')"
fi
