#!/usr/bin/env bash
# The plot scripts (plots/*.gp but the sweep and bench charts) on made-up
# metrics.csv files, as a run still going or killed early leaves them: each
# either draws a PNG of its size with nothing on stderr (gnuplot's warnings
# would show there), or prints exactly one line on stderr naming the
# problem, exits non-zero and writes no PNG. Also: plots/metrics.awk drops
# a row cut short and blanks nan fields; the smoothing is TensorBoard's
# debiased EMA; adding.gp's baseline comes from params.csv (and its
# absence is no error); loss.gp's titles are the run directories' names
# and its smoothing weight is checked.
# Prints "N passed, M failed"; exits 1 if M > 0.
check_name=plots
. "$(dirname "$0")/check_common.bash"

if ! command -v gnuplot >/dev/null; then
  fail "gnuplot is missing (make deps installs gnuplot-nox)"
  finish
fi

# png_size FILE: "WIDTH HEIGHT" from the PNG's IHDR chunk, or nothing if
# FILE is not a PNG (its 8-byte signature, then IHDR's length and name).
png_size() {
  [ "$(od -An -tx1 -N16 "$1" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a0000000d49484452 ] || return
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}

# differ A B: the files are not the same.
differ() { ! cmp -s "$1" "$2"; }
# draw NAME SCRIPT ARGS...: runs gnuplot with out='$tmp/NAME.png' (unless
# ARGS set another), ARGS and plots/SCRIPT.gp, stderr to $tmp/NAME.err,
# and sets $code.
draw() {
  local name=$1 script=$2
  shift 2
  rm -f "$tmp/$name.png"
  timeout 60 gnuplot -e "out='$tmp/$name.png'" "$@" "plots/$script.gp" >"$tmp/$name.out" 2>"$tmp/$name.err"
  code=$?
}
# expect_chart NAME SCRIPT SIZE ARGS...: draws, exits 0, prints nothing,
# and writes a PNG of SIZE ("WIDTH HEIGHT").
expect_chart() {
  local name=$1 script=$2 size=$3
  shift 3
  draw "$name" "$script" "$@"
  expect "$script.gp on $name exits with 0 (got $code; stderr: $(head -c 300 "$tmp/$name.err"))" [ "$code" -eq 0 ]
  if [ -s "$tmp/$name.err" ]; then
    fail "$script.gp on $name prints nothing on stderr, not:"
    show "$tmp/$name.err"
  else pass; fi
  local got
  got=$(png_size "$tmp/$name.png")
  expect "$script.gp on $name writes a ${size/ /x} PNG (got '${got/ /x}')" [ "$got" = "$size" ]
  # A PNG with a drawn chart is far larger than an empty canvas's few hundred bytes.
  expect "$script.gp on $name draws something ($(stat -c %s "$tmp/$name.png" 2>/dev/null) bytes)" \
    [ "$(stat -c %s "$tmp/$name.png" 2>/dev/null || echo 0)" -gt 5000 ]
}
# expect_refusal NAME SCRIPT TOKEN ARGS...: draws, exits with 1 or 2,
# prints exactly one line on stderr, naming the script and TOKEN, and
# leaves no PNG.
expect_refusal() {
  local name=$1 script=$2 token=$3
  shift 3
  draw "$name" "$script" "$@"
  expect "$script.gp on $name exits with 1 or 2 (got $code)" [ "$code" -eq 1 -o "$code" -eq 2 ]
  local lines
  lines=$(wc -l <"$tmp/$name.err")
  if [ "$lines" -eq 1 ]; then pass; else
    fail "$script.gp on $name prints exactly one line on stderr (got $lines):"
    show "$tmp/$name.err"
  fi
  expect "$script.gp on $name: the line starts with '$script.gp: ' and names '$token': '$(head -n 1 "$tmp/$name.err")'" \
    grep -q "^$script\.gp: .*$token" "$tmp/$name.err"
  expect "$script.gp on $name writes no PNG" [ ! -e "$tmp/$name.png" ]
}

# ------------------------------------------------------------ made-up runs
# make_run DEMO HEADER ROWS: $tmp/DEMO-normal/metrics.csv with ROWS rows,
# written by awk from the step number s (a loss that falls with noise, a
# sparse evaluation column every 50 steps and at step 0).
make_run() {
  local demo=$1 header=$2 rows=$3
  mkdir -p "$tmp/$demo-normal"
  awk -v demo="$demo" -v rows="$rows" -v header="$header" 'BEGIN {
    print header
    srand(1)
    for (s = 0; s < rows; s++) {
      loss = 0.01 + exp(-s / 60) * (0.6 + 0.4 * rand()); sparse = s % 50 == 0
      if (demo == "adding") printf "%d,%s,%s,%.6g\n", s, s ? loss : "", sparse ? loss * 0.8 : "", 0.5 + rand()
      else if (demo == "l1norm") printf "%d,%.6g,%.6g,%.6g\n", s + 1, loss, 1 - exp(-s / 40), 1 - 0.5 * exp(-s / 30)
      else if (demo == "digitsum") printf "%d,%.6g,%.6g,%.4f,%.3f\n", s + 1, loss, loss * 1.1, 1 - exp(-s / 5), 0.5
      else if (demo == "charlm") printf "%d,%s,%s,%s,%.2f\n", s, s ? loss * 3 : "", sparse ? loss * 3.1 : "", sparse ? loss * 3.1 / log(2) : "", s * 0.01
    }
  }' >"$tmp/$demo-normal/metrics.csv"
}
make_run adding step,loss,test_mse,grad_norm 300
printf 'name,value\n"model","irnn"\n"T","150"\n"baseline_mse","0.166987"\n' >"$tmp/adding-normal/params.csv"
make_run l1norm step,loss,w_ih,w_hh 300
make_run digitsum step,loss,val_loss,val_acc,seconds 20
make_run charlm step,loss,val_loss,val_bpc,seconds 300

# variants DEMO: the degenerate copies of $tmp/DEMO-normal: partial (cut
# mid-row, as a kill leaves it), one-row, nan (nan, -nan, inf and garbage
# fields), empty, header-only, no-column (the first metric column renamed).
variants() {
  local demo=$1 normal="$tmp/$1-normal/metrics.csv"
  mkdir -p "$tmp/$demo-"{partial,one-row,nan,empty,header-only,no-column}
  head -c -7 "$normal" >"$tmp/$demo-partial/metrics.csv"
  head -n 2 "$normal" >"$tmp/$demo-one-row/metrics.csv"
  awk -F, -v OFS=, 'NR > 1 && NR % 7 == 0 { $2 = "nan" } NR > 1 && NR % 11 == 0 { $NF = "-nan" }
    NR % 13 == 0 { $2 = "inf" } NR == 20 { $2 = "1.2.3" } { print }' "$normal" >"$tmp/$demo-nan/metrics.csv"
  : >"$tmp/$demo-empty/metrics.csv"
  head -n 1 "$normal" >"$tmp/$demo-header-only/metrics.csv"
  sed '1s/^step,[a-z_]*,/step,renamed,/' "$normal" >"$tmp/$demo-no-column/metrics.csv"
}
for demo in adding l1norm digitsum charlm; do variants "$demo"; done

# The partial files really end mid-row, with no newline (else the case tests nothing).
expect "adding-partial ends without a newline" [ "$(tail -c 1 "$tmp/adding-partial/metrics.csv" | wc -l)" -eq 0 ]

# ------------------------------------------------------------ each script
declare -A size=([adding]="1000 500" [l1norm]="900 650" [digitsum]="1100 480" [charlm]="1000 500")
for demo in adding l1norm digitsum charlm; do
  for case in normal partial one-row nan; do
    expect_chart "$demo-$case" "$demo" "${size[$demo]}" -e "file='$tmp/$demo-$case/metrics.csv'"
  done
  expect_refusal "$demo-empty" "$demo" "is empty" -e "file='$tmp/$demo-empty/metrics.csv'"
  expect_refusal "$demo-header-only" "$demo" "no complete data row" -e "file='$tmp/$demo-header-only/metrics.csv'"
  expect_refusal "$demo-no-column" "$demo" "has no column" -e "file='$tmp/$demo-no-column/metrics.csv'"
  expect_refusal "$demo-missing" "$demo" "cannot read" -e "file='$tmp/nowhere/metrics.csv'"
  expect_refusal "$demo-no-file" "$demo" "set file=" 
done
expect_refusal "adding-quote" adding "quote" -e "file=\"$tmp/it's/metrics.csv\""
# An output gnuplot could not open: one line too.
expect_refusal "l1norm-bad-out" l1norm "cannot write" -e "file='$tmp/l1norm-normal/metrics.csv'" -e "out='$tmp/nowhere/l1norm.png'"

# A run whose only row has no value of what the chart draws: one line, not an empty chart.
mkdir -p "$tmp/adding-blank"
printf 'step,loss,test_mse,grad_norm\n0,,,\n' >"$tmp/adding-blank/metrics.csv"
expect_refusal adding-blank adding "no positive loss or test_mse" -e "file='$tmp/adding-blank/metrics.csv'"

# A loss panel with a single point to draw on its log scale (nan, 0, then
# one positive value; the last row cut short): a chart, and no warning of
# an empty range.
mkdir -p "$tmp/l1norm-one-positive"
printf 'step,loss,w_ih,w_hh\n1,nan,0.6,0.2\n2,0,0.61,nan\n3,0.5,0.62,0.22\n4,0.4' >"$tmp/l1norm-one-positive/metrics.csv"
expect_chart l1norm-one-positive l1norm "${size[l1norm]}" -e "file='$tmp/l1norm-one-positive/metrics.csv'"

# ------------------------------------------------------------ metrics.awk
# What gnuplot is given: the row cut short is dropped, not drawn as a
# number cut short (a "1.2e-" would read as 1.2), and nan, inf, garbage and
# empty fields all become empty.
load_rows() { awk -v file="$1" -v need="$2" -v block=m -v complete="$(tail -c 1 "$1" | wc -l)" -f plots/metrics.awk; }
normal_rows=$(($(wc -l <"$tmp/adding-normal/metrics.csv") - 1))
got=$(load_rows "$tmp/adding-partial/metrics.csv" "step loss" | sed -n 's/^m_rows = //p')
expect "the partial file gives its complete rows, $((normal_rows - 1)) (got '$got')" [ "$got" = $((normal_rows - 1)) ]
got=$(load_rows "$tmp/adding-normal/metrics.csv" "step loss" | sed -n 's/^m_rows = //p')
expect "the normal file gives all its rows, $normal_rows (got '$got')" [ "$got" = "$normal_rows" ]
load_rows "$tmp/l1norm-nan/metrics.csv" "step loss w_ih w_hh" >"$tmp/nan.gp"
bad=$(sed -n '/^\$m << EOD$/,/^EOD$/p' "$tmp/nan.gp" | grep -v -e '^\$m << EOD$' -e '^EOD$' -e '^step,loss,w_ih,w_hh$' |
  grep -v -E '^[-+0-9.eE]+(,[-+0-9.eE]*){3}$' | head -n 1)
expect "the nan file's rows are numbers or empty fields (first other: '$bad')" [ -z "$bad" ]
expect "the nan file's data block has empty fields where nan was" grep -q '^[0-9]*,,' "$tmp/nan.gp"

# ------------------------------------------------------------ the smoothing
# TensorBoard's debiased EMA, weight 0.5, on 1, (empty), 2, (nan), 3: the
# empty and nan rows are skipped, so 0.5/0.5 = 1, 1.25/0.75 = 1.66667,
# 2.125/0.875 = 2.42857; and a second plot element starts afresh.
printf 'step,v\n0,1\n1,\n2,2\n3,nan\n4,3\n' >"$tmp/ema.csv"
gnuplot -e "smooth=0.5" -e "last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0" \
  -e "script = 'plots.sh'" -e "load 'plots/common.gp'" -e "eval read_metrics('m', '$tmp/ema.csv', 'step v')" \
  -e "set table '$tmp/ema.out'; plot \$m using 1:(ema(column(2))) with table, \$m using 1:(ema(column(2))) with table" \
  2>"$tmp/ema.err"
got=$(awk 'NF == 2 { printf "%s %.5f ", $1, $2 }' "$tmp/ema.out" 2>/dev/null)
want="0 1.00000 2 1.66667 4 2.42857 0 1.00000 2 1.66667 4 2.42857 "
expect "ema() is the debiased EMA, restarted per plot element (got '$got', stderr '$(head -c 200 "$tmp/ema.err")')" [ "$got" = "$want" ]

# ------------------------------------------------------------ adding's baseline
# metrics.awk's params.csv reader, which adding.gp's baseline comes from.
param() { awk -v file="$1" -v param="$2" ${3:+-v numeric=1} -f plots/metrics.awk; }
expect "the baseline is read from params.csv (got '$(param "$tmp/adding-normal/params.csv" baseline_mse 1)')" \
  [ "$(param "$tmp/adding-normal/params.csv" baseline_mse 1)" = 0.166987 ]
expect "a setting params.csv lacks reads as nothing" [ -z "$(param "$tmp/adding-normal/params.csv" nothing)" ]
expect "a params.csv that is not there reads as nothing" [ -z "$(param "$tmp/nowhere/params.csv" baseline_mse 1)" ]
expect "param_number refuses a value that is no number" [ -z "$(param "$tmp/adding-normal/params.csv" model 1)" ]
# The chart with and without the baseline differs (so it is drawn).
expect_chart adding-no-params adding "1000 500" -e "file='$tmp/adding-normal/metrics.csv'" -e "params='$tmp/nowhere/params.csv'"
expect "adding.gp draws the baseline when params.csv has one" differ "$tmp/adding-normal.png" "$tmp/adding-no-params.png"

# ------------------------------------------------------------ loss.gp
both="$tmp/adding-normal/metrics.csv $tmp/l1norm-normal/metrics.csv"
expect_chart loss-two loss "1000 500" -e "files='$both'"
expect_chart loss-titles loss "1000 500" -e "files='$both'" -e "titles='a b'" -e "heading='two runs'"
expect_chart loss-metric loss "1000 500" -e "files='$tmp/adding-nan/metrics.csv'" -e "metric='grad_norm'"
expect_chart loss-raw loss "1000 500" -e "files='$both'" -e "smooth=0"
expect_chart loss-partial loss "1000 500" -e "files='$tmp/l1norm-partial/metrics.csv $tmp/charlm-one-row/metrics.csv'"
# The default titles are run names: the same chart as with titles given as the directories' names.
draw loss-names loss -e "files='$both'" -e "titles='adding-normal l1norm-normal'"
expect "loss.gp's default titles are the run directories' names" cmp -s "$tmp/loss-two.png" "$tmp/loss-names.png"
# Smoothing changes the chart; 0 draws only the raw curves.
expect "smooth=0 draws another chart than the default" differ "$tmp/loss-two.png" "$tmp/loss-raw.png"
expect_refusal loss-empty loss "is empty" -e "files='$tmp/adding-normal/metrics.csv $tmp/l1norm-empty/metrics.csv'"
expect_refusal loss-column loss "has no column nope" -e "files='$both'" -e "metric='nope'"
expect_refusal loss-titles-count loss "titles has 1 words for 2 files" -e "files='$both'" -e "titles='a'"
expect_refusal loss-smooth loss "smooth=1 must be in" -e "files='$both'" -e "smooth=1"
expect_refusal loss-no-value loss "no loss value yet" -e "files='$tmp/adding-one-row/metrics.csv'"
expect_refusal loss-no-files loss "set files=" 

finish
