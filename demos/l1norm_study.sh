#!/usr/bin/env bash
# The notebook's study of initial signs: 5 cases without bias and 12 with,
# two trainings at a time. "small" is a magnitude of 0.01, otherwise 0.5.
# Writes runs/l1norm-study-DATE-TIME/study.csv and prints a Markdown table.
# Without bias a case converges when w_ih = w_hh = 1.0 exactly; with bias
# when the mean loss of the last 100 steps is below 1e-10 (the bias
# solution, b_ih + b_hh = 0, need not be exact in float32).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bin/l1norm ] || { echo "l1norm_study: build first (make bin/l1norm)" >&2; exit 1; }
out="runs/l1norm-study-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
max_steps=${MAX_STEPS:-50000}

# case  bias  w_hh  w_ih  b_hh  b_ih  notebook's outcome
cases=$(cat <<'CASES'
nobias-1 0 0.5 0.5 - - converges
nobias-2 0 0.5 -0.5 - - does-not
nobias-3 0 -0.5 0.5 - - does-not
nobias-4 0 -0.01 0.5 - - converges
nobias-5 0 -0.5 -0.5 - - does-not
bias-1 1 -0.5 0.5 0.5 0.5 converges
bias-2 1 -0.5 0.5 0.5 -0.5 converges
bias-3 1 -0.5 0.5 -0.5 -0.5 converges
bias-4 1 0.5 0.01 0.5 -0.5 converges
bias-5 1 0.5 0.01 -0.5 0.5 converges
bias-6 1 0.5 0.01 -0.5 -0.5 converges
bias-7 1 0.5 -0.5 0.5 -0.5 converges
bias-8 1 0.5 -0.5 -0.5 0.5 does-not
bias-9 1 0.5 -0.5 0.5 0.5 converges
bias-10 1 -0.5 -0.01 -0.5 -0.5 does-not
bias-11 1 -0.5 -0.01 0.5 -0.5 converges
bias-12 1 -0.5 -0.5 0.5 0.5 converges
CASES
)

run_case() {
  local name=$1 bias=$2 w_hh=$3 w_ih=$4 b_hh=$5 b_ih=$6
  local flags=(--quiet --max-steps "$max_steps" --run-dir "$out/$name")
  if [ "$bias" = 1 ]; then
    flags+=(--bias --bias-tolerance 1e-10 --init "w_ih=$w_ih,w_hh=$w_hh,b_ih=$b_ih,b_hh=$b_hh")
  else
    flags+=(--init "w_ih=$w_ih,w_hh=$w_hh")
  fi
  bin/l1norm --threads 1 "${flags[@]}" | tail -n 1 > "$out/$name.summary"
}
export -f run_case
export out max_steps
echo "$cases" | xargs -P 2 -L 1 bash -c 'run_case "$@"' _

value() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }
echo "case,bias,init_w_hh,init_w_ih,init_b_hh,init_b_ih,notebook,converged,steps,w_ih,w_hh,b_ih,b_hh,rel_err" > "$out/study.csv"
echo "| case | initial w_hh, w_ih, b_hh, b_ih | notebook | ag: converged | steps | final w_ih, w_hh, b_ih, b_hh | test rel. error |"
echo "|---|---|---|---|---:|---|---:|"
while read -r name bias w_hh w_ih b_hh b_ih notebook; do
  s="$out/$name.summary"
  converged=$(value "$s" converged); steps=$(value "$s" steps)
  f_ih=$(value "$s" w_ih); f_hh=$(value "$s" w_hh); f_bih=$(value "$s" b_ih); f_bhh=$(value "$s" b_hh)
  rel=$(value "$s" rel_err)
  echo "$name,$bias,$w_hh,$w_ih,$b_hh,$b_ih,$notebook,$converged,$steps,$f_ih,$f_hh,${f_bih:--},${f_bhh:--},$rel" >> "$out/study.csv"
  echo "| $name | $w_hh, $w_ih, $b_hh, $b_ih | $notebook | $([ "$converged" = 1 ] && echo yes || echo no) | $steps | $f_ih, $f_hh, ${f_bih:--}, ${f_bhh:--} | $rel |"
done <<< "$cases"
echo
echo "written: $out/study.csv"
