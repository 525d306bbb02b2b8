#!/usr/bin/env bash
# bin/runs and RUN/status.json. On made-up run directories (finished,
# converged, killed with a stale lock, live, diverged, damaged, an older
# run without status.json): `runs list` (statuses, the settings that
# differ, last metrics, --sort, --where, --demo, one-line errors), 300 runs
# listed in under a second, `runs compare` (differing settings marked, the
# --plot PNG, an unknown metric), `runs report` (parsed by python's
# html.parser: well-formed, every run and chart present, nothing external,
# written atomically). On real short demo runs: status.json finished with
# the summary's pairs, stopped by SIGTERM, non-finite, killed -9 (listed as
# killed, never finished), and updated by a resume.
# Prints "N passed, M failed"; exits 1 if M > 0.
check_name=runs
. "$(dirname "$0")/check_common.bash"
runs_bin=${RUNS_BIN:-$root/bin/runs}
for p in runs l1norm adding; do
  if [ ! -x "$root/bin/$p" ]; then
    fail "bin/$p is missing (run make)"
    finish
  fi
done

# runs ARGS...: stdout to $tmp/out, stderr to $tmp/err, exit code in $code.
runs() {
  "$runs_bin" "$@" >"$tmp/out" 2>"$tmp/err"
  code=$?
}
# one_line_error WHAT TOKEN: the last command failed, with exactly one line
# on stderr naming TOKEN.
one_line_error() {
  expect "$1: exits non-zero (got $code)" [ "$code" -ne 0 ]
  expect "$1: one line on stderr (got $(wc -l <"$tmp/err"))" [ "$(wc -l <"$tmp/err")" -eq 1 ]
  expect "$1: names '$2' (got '$(head -n 1 "$tmp/err")')" grep -qF -- "$2" "$tmp/err"
}
# field RUN COLUMN: RUN's value in `runs list`'s COLUMN ($tmp/out).
field() {
  awk -v run="$1" -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    $1 == run && c { print $c }' "$tmp/out"
}

# ------------------------------------------------------ made-up runs
R=$tmp/runs
now=$(date +%s)
# make_run NAME STATUS-JSON LR LOSS...: params.csv (demo adding, lr LR,
# T 20), metrics.csv with one row per loss, status.json as given ("" none).
make_run() {
  local dir=$R/$1 status=$2 lr=$3
  shift 3
  mkdir -p "$dir"
  printf 'name,value\n"run_id","0123456789abcdef"\n"demo","adding"\n"T","20"\n"lr","%s"\n' "$lr" >"$dir/params.csv"
  {
    echo "step,loss,test_mse"
    local step=0
    for loss in "$@"; do
      echo "$step,$loss,"
      step=$((step + 1))
    done
  } >"$dir/metrics.csv"
  [ -n "$status" ] && printf '%s\n' "$status" >"$dir/status.json"
  : >"$dir/.lock"
}
ended() { # ended STATUS [EXTRA]: a status.json that says how the run ended
  printf '{"status": "%s", "detail": "", "started_unix": %d, "ended_unix": %d, "seconds": 12.5, "step": 3, %s
 "results": {"test_mse": "0.01"}, "build": {"version": "0.1.0", "commit": "abc1234"}, "blas": "Haswell"}' \
    "$1" "$((now - 600))" "$((now - 580))" "${2:-}"
}
make_run adding-a "$(ended finished)" 0.01 0.5 0.3 0.2 0.1
make_run adding-b "$(ended finished '"converged": true,')" 0.001 0.5 0.4 0.05 0.02
# A setting empty in one run: still one word in the list's columns.
printf '"note",""\n' >>"$R/adding-a/params.csv"
printf '"note","x"\n' >>"$R/adding-b/params.csv"
make_run adding-killed "$(ended running)" 0.01 0.5 0.45 0.4
make_run adding-live "$(ended running)" 0.01 0.5 0.49
make_run adding-diverged "$(ended non_finite)" 0.1 0.5 1e10 ''
make_run adding-old "" 0.01 0.5 0.3
make_run adding-damaged '{"status": "finished", "step": ' 0.01 0.5 0.3
mkdir -p "$R/adding-nometrics" && cp "$R/adding-a/params.csv" "$R/adding-nometrics/"
mkdir -p "$R/l1norm-x"
printf 'name,value\n"demo","l1norm"\n"lr","0.001"\n' >"$R/l1norm-x/params.csv"
printf 'step,loss,w_ih,w_hh\n0,36,0.6,0.2\n1,20,0.7,0.3\n2,9,0.8,0.5\n3,5' >"$R/l1norm-x/metrics.csv" # the last row cut by a kill
ended finished >"$R/l1norm-x/status.json"
mkdir -p "$R/not-a-run/sub" # no run files: not listed
printf 'garbage "\n' >"$R/adding-badparams.csv" # a file, not a directory: not listed
mkdir -p "$R/adding-badparams" && printf 'name,value\n"a\n' >"$R/adding-badparams/params.csv"
cp "$R/adding-a/metrics.csv" "$R/adding-badparams/"
ended finished >"$R/adding-badparams/status.json"

# The live run: its .lock held (fcntl, as a run holds it) by a process of ours.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)' "$R/adding-live/.lock" >"$tmp/locker.out" &
locker=$!
for _ in $(seq 50); do grep -q locked "$tmp/locker.out" 2>/dev/null && break; sleep 0.1; done

# ------------------------------------------------------------------ list
runs list "$R"
expect "list exits with 0 (got $code; stderr: $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
cp "$tmp/out" "$tmp/list.out"
listed=$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')
expect "list shows the 10 runs, sorted by name, not the non-runs (got '$listed')" \
  [ "$listed" = "adding-a adding-b adding-badparams adding-damaged adding-diverged adding-killed adding-live adding-nometrics adding-old l1norm-x " ]
for pair in adding-a:finished adding-b:converged adding-killed:killed adding-live:running adding-diverged:non-finite \
  adding-old:unknown adding-damaged:damaged l1norm-x:finished; do
  expect "list: ${pair%%:*} has status ${pair#*:} (got '$(field "${pair%%:*}" status)')" \
    [ "$(field "${pair%%:*}" status)" = "${pair#*:}" ]
done
expect "list: the killed run (status running, lock free) is never finished" [ "$(field adding-killed status)" = killed ]
header=$(head -n 1 "$tmp/out")
expect "list: the setting that differs (lr) is a column: '$header'" grep -qw lr <<<"$header"
lacks_word() { ! grep -qw "$1" <<<"$2"; }
expect "list: a setting all runs share (T) is not" lacks_word T "$header"
expect "list: the metrics are columns (loss, test_mse, w_ih, w_hh)" grep -q 'loss  *test_mse  *w_ih  *w_hh' <<<"$header"
expect "list: adding-a's last loss is 0.1 (got '$(field adding-a loss)')" [ "$(field adding-a loss)" = 0.1 ]
expect "list: adding-a's empty setting shows as \"\" (got '$(field adding-a note)')" [ "$(field adding-a note)" = '""' ]
expect "list: adding-a's steps are status.json's 3 (got '$(field adding-a steps)')" [ "$(field adding-a steps)" = 3 ]
expect "list: adding-a's duration is 12.5s (got '$(field adding-a duration)')" [ "$(field adding-a duration)" = 12.5s ]
expect "list: a row cut short is not read (l1norm-x's loss is 9, got '$(field l1norm-x loss)')" [ "$(field l1norm-x loss)" = 9 ]
expect "list: adding-diverged's last finite loss is 1e+10 (got '$(field adding-diverged loss)')" \
  [ "$(field adding-diverged loss)" = 1e+10 ]
expect "list: the demo comes from params.csv (l1norm-x: '$(field l1norm-x demo)')" [ "$(field l1norm-x demo)" = l1norm ]
problem_of() { grep "^$1 " "$tmp/list.out"; }
expect "list: the damaged status.json is named as the problem" grep -q 'status.json: not a JSON object' <(problem_of adding-damaged)
expect "list: the missing metrics.csv is named" grep -q 'metrics.csv: missing' <(problem_of adding-nometrics)
expect "list: the damaged params.csv is named" grep -q 'params.csv: not a name,value file' <(problem_of adding-badparams)
expect "list: the run without status.json says so" grep -q 'no status.json' <(problem_of adding-old)
expect "list: nothing on stderr (got '$(head -c 200 "$tmp/err")')" [ ! -s "$tmp/err" ]

runs list "$R" --sort loss --demo adding
order=$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')
expect "list --sort loss --demo adding: smallest last loss first, runs without one last (got '$order')" \
  [ "$order" = "adding-b adding-a adding-badparams adding-damaged adding-old adding-killed adding-live adding-diverged adding-nometrics " ]
runs list "$R" --sort -loss
expect "list --sort -loss: largest first (got '$(sed -n 2p "$tmp/out" | cut -c 1-40)')" [ "$(awk 'NR == 2 { print $1 }' "$tmp/out")" = adding-diverged ]
runs list "$R" --where lr=0.001 --where demo=adding
expect "list --where lr=0.001 --where demo=adding: adding-b only (got '$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')')" \
  [ "$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')" = "adding-b " ]
runs list "$R" --where status=killed
expect "list --where status=killed: adding-killed only" [ "$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')" = "adding-killed " ]
runs list "$R" --where lr=7
expect "list --where lr=7: no runs, exit 0 (got $code: $(cat "$tmp/out"))" [ "$code" -eq 0 ] && grep -q '^no runs' "$tmp/out"

runs list "$R/adding-b"
expect "list of a run directory itself lists that run (got '$(awk 'NR > 1 { print $1 }' "$tmp/out")')" \
  [ "$(awk 'NR > 1 { print $1 }' "$tmp/out" | tr '\n' ' ')" = "adding-b " ]
runs list "$R" --sort lss
one_line_error "list --sort lss (no such metric)" "there are: loss, test_mse, w_ih, w_hh; or when, duration, steps"
runs list "$R" --sort -steps --demo l1norm
expect "list --sort -steps works (got $code)" [ "$code" -eq 0 ]
runs list "$R" --where lrr=1
one_line_error "list --where lrr=1 (no such setting)" "no run has a setting 'lrr'"
runs list "$R" --where lr
one_line_error "list --where lr (no =)" "is not KEY=VALUE"
runs list "$tmp/nowhere"
one_line_error "list of a missing directory" "nowhere"
runs list "$R" --bogus
one_line_error "list --bogus" "--bogus"
runs frobnicate
one_line_error "an unknown command" "frobnicate"
runs --help
expect "--help exits with 0 and prints the usage" grep -q 'runs list' "$tmp/out"

# 300 runs, listed in well under a second.
many=$tmp/many
mkdir "$many"
python3 - "$R/adding-a" "$many" <<'EOF'
import os, shutil, sys
source, many = sys.argv[1], sys.argv[2]
params = open(os.path.join(source, "params.csv")).read()
for i in range(1, 301):
    d = os.path.join(many, f"adding-{i}")
    os.mkdir(d)
    for name in ("metrics.csv", "status.json"):
        shutil.copy(os.path.join(source, name), d)
    with open(os.path.join(d, "params.csv"), "w") as f:
        f.write(params.replace('"lr","0.01"', f'"lr","0.{i}"'))
EOF
start=$(date +%s%N)
runs list "$many" --sort loss
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect "list of 300 runs exits with 0 and lists 300 (got $code, $(($(wc -l <"$tmp/out") - 1)))" \
  [ "$code" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 301 ]
expect "list of 300 runs takes under a second (took $elapsed_ms ms)" [ "$elapsed_ms" -lt 1000 ]
echo "$check_name: note: runs list of 300 runs: $elapsed_ms ms"

# --------------------------------------------------------------- compare
runs compare "$R/adding-a" "$R/adding-b" "$R/adding-killed"
expect "compare exits with 0 (got $code; $(head -c 200 "$tmp/err"))" [ "$code" -eq 0 ]
expect "compare: the run names head the columns" grep -q '^ *adding-a  *adding-b  *adding-killed$' "$tmp/out"
expect "compare: lr differs, marked *" grep -q '^\* lr  *0.01  *0.001  *0.01$' "$tmp/out"
expect "compare: T does not, unmarked" grep -q '^  T  *20  *20  *20$' "$tmp/out"
expect "compare: statuses side by side" grep -q '^status  *finished  *converged  *killed$' "$tmp/out"
expect "compare: last losses side by side" grep -q '^  loss  *0.1  *0.02  *0.4$' "$tmp/out"
expect "compare: the build and the BLAS kernel" grep -q '^blas  *Haswell' "$tmp/out"
runs compare "$R/adding-a" "$R/adding-b" --plot "$tmp/compare.png" --metric loss --smooth 0
expect "compare --plot exits with 0 (got $code; $(head -c 200 "$tmp/err"))" [ "$code" -eq 0 ]
expect "compare --plot writes a PNG" [ "$(head -c 4 "$tmp/compare.png" 2>/dev/null | tail -c 3)" = PNG ]
runs compare "$R/adding-a" "$R/l1norm-x" --plot "$tmp/bad.png" --metric test_mse
one_line_error "compare --metric test_mse that l1norm-x lacks" "in common: loss"
expect "compare with a bad --metric draws nothing" [ ! -e "$tmp/bad.png" ]
runs compare "$R/adding-a" "$R/adding-b" --plot "$tmp/bad.png" --smooth 1
one_line_error "compare --smooth 1" "--smooth '1' is not a number in [0, 1)"
runs compare "$R/adding-a"
one_line_error "compare of one run" "two runs or more"
runs compare "$R/adding-a" "$tmp/nowhere"
one_line_error "compare with a missing run" "nowhere is not a directory"
runs compare "$R/adding-a" "$R/not-a-run"
one_line_error "compare with a directory holding no run" "holds no run"

# ---------------------------------------------------------------- report
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
runs report "$R" --out "$tmp/report.html"
expect "report exits with 0 (got $code; $(head -c 300 "$tmp/err"))" [ "$code" -eq 0 ]
# Charts: one overlay per demo (adding, l1norm) and one per run with a
# complete row (all but adding-nometrics): 2 + 9.
if python3 tests/runs_html_check.py "$tmp/report.html" 10 11 adding-a adding-b adding-killed adding-live \
  adding-diverged adding-old adding-damaged adding-nometrics adding-badparams l1norm-x >"$tmp/html.out"; then pass; else
  fail "the report is not well-formed or lacks runs or charts:"
  show "$tmp/html.out"
fi
expect "report: the run without metrics says why it has no chart" grep -q 'no chart: metrics.csv: missing' "$tmp/report.html"
expect "report: leaves no temporary file" [ -z "$(find "$tmp" -name 'report.html.tmp.*')" ]
runs report "$R"
one_line_error "report without --out" "--out"
runs report "$R" --out "$tmp/nowhere/report.html"
one_line_error "report into a missing directory" "nowhere"
expect "report into a missing directory writes nothing" [ ! -e "$tmp/nowhere" ]

# A long noisy run: its chart is thinned to what the chart's pixels show
# (gnuplot's SVG of 50,000 steps, raw and smoothed, is 1.5 MB a chart; the
# page has two: the run's and its demo's overlay).
long=$tmp/long
mkdir -p "$long/adding-long"
cp "$R/adding-a/params.csv" "$R/adding-a/status.json" "$long/adding-long/"
awk 'BEGIN { srand(1); print "step,loss,test_mse"; for (i = 0; i < 50000; i++) printf "%d,%.6g,\n", i, exp(-i / 10000) * (1 + rand()) }' \
  >"$long/adding-long/metrics.csv"
runs report "$long" --out "$tmp/long.html"
size=$(wc -c <"$tmp/long.html")
expect "report of a 50,000-step run exits with 0 (got $code; $(head -c 200 "$tmp/err"))" [ "$code" -eq 0 ]
expect "  and is under 300 kB, its curves thinned (got $size bytes)" [ "$size" -lt 300000 ]
if python3 tests/runs_html_check.py "$tmp/long.html" 1 2 adding-long >"$tmp/html.out"; then pass; else
  fail "the long run's report:"
  show "$tmp/html.out"
fi

# ------------------------------------------------- status.json of real runs
# status KEY DIR: a value of DIR/status.json (python's json: the file parses).
status() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1] + "/status.json")).get(sys.argv[2])
print("" if v is None else json.dumps(v) if isinstance(v, (bool, dict)) else v)' "$2" "$1" 2>/dev/null
}
W=$tmp/real
mkdir "$W"
bin/l1norm --quiet --threads 1 --max-steps 20000 --run-dir "$W/l1-done" >"$tmp/l1.out" 2>&1
expect "l1norm: status finished (got '$(status status "$W/l1-done")')" [ "$(status status "$W/l1-done")" = finished ]
expect "l1norm: converged true" [ "$(status converged "$W/l1-done")" = true ]
summary_steps=$(tail -n 1 "$tmp/l1.out" | tr ' ' '\n' | sed -n 's/^steps=//p')
expect "l1norm: step is the summary's steps ($summary_steps, got '$(status step "$W/l1-done")')" \
  [ "$(status step "$W/l1-done")" = "$summary_steps" ]
results=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("summary: " + " ".join(k + "=" + v for k, v in r.items()))' "$W/l1-done/status.json" 2>&1)
expect "l1norm: results are the summary line's pairs, in order" [ "$results" = "$(tail -n 1 "$tmp/l1.out")" ]
expect "l1norm: the build's version is recorded" grep -q '"version":[[:space:]]*"[0-9]' "$W/l1-done/status.json"
expect "l1norm: the BLAS kernel is recorded" grep -q '"blas":[[:space:]]*"[A-Za-z]' "$W/l1-done/status.json"
expect "l1norm: start and end times" [ -n "$(status started "$W/l1-done")" ] && [ -n "$(status ended "$W/l1-done")" ]

bin/l1norm --quiet --init w_ih=1e30,w_hh=1e30 --run-dir "$W/l1-inf" >/dev/null 2>&1
expect "l1norm overflowing: status non_finite (got '$(status status "$W/l1-inf")')" [ "$(status status "$W/l1-inf")" = non_finite ]
expect "  its detail names the parameter" grep -q 'rnn.weight_' <<<"$(status detail "$W/l1-inf")"

# SIGTERM: stopped; kill -9: still "running" on disk, listed as killed.
slow=(--T 50 --hidden 32 --steps 1000000 --eval-every 100000 --test-size 16 --checkpoint-every 50 --quiet --threads 1)
for kind in TERM KILL; do
  bin/adding "${slow[@]}" --run-dir "$W/add-$kind" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    # a checkpoint has refreshed status.json: a step of two digits or more
    grep -q '"step":[[:space:]]*[1-9][0-9]' "$W/add-$kind/status.json" 2>/dev/null && break
    sleep 0.05
  done
  kill -"$kind" "$pid"
  wait "$pid" 2>/dev/null
done
expect "adding SIGTERM: status stopped (got '$(status status "$W/add-TERM")')" [ "$(status status "$W/add-TERM")" = stopped ]
expect "  detail SIGTERM" [ "$(status detail "$W/add-TERM")" = SIGTERM ]
expect "adding kill -9: status.json still says running" [ "$(status status "$W/add-KILL")" = running ]
runs list "$W"
expect "list: the run killed with -9 is 'killed' (got '$(field add-KILL status)')" [ "$(field add-KILL status)" = killed ]
expect "list: the SIGTERM one 'stopped', l1-done 'converged', l1-inf 'non-finite'" \
  [ "$(field add-TERM status) $(field l1-done status) $(field l1-inf status)" = "stopped converged non-finite" ]
# A resumed run updates the file: resumed once, then stopped again.
bin/adding --resume "$W/add-TERM" --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
  grep -q '"resumes":[[:space:]]*1,' "$W/add-TERM/status.json" 2>/dev/null && break
  sleep 0.05
done
expect "resumed: status.json says running, resumed once (got '$(status status "$W/add-TERM")', '$(status resumes "$W/add-TERM")')" \
  [ "$(status status "$W/add-TERM") $(status resumes "$W/add-TERM")" = "running 1" ]
runs list "$W"
expect "list: the resumed run, live, is 'running' (got '$(field add-TERM status)')" [ "$(field add-TERM status)" = running ]
kill -TERM "$pid"
wait "$pid" 2>/dev/null
expect "resumed then SIGTERM: stopped again" [ "$(status status "$W/add-TERM")" = stopped ]
finish
