# Shared by the demo scripts (tests/demo_*.sh), which source it after
# setting $demo (the program's name in bin/): check_common.bash, and what
# running a demo and checking its output needs. Not a test itself: it has
# no .sh suffix, so `make check` does not run it.
check_name="demo_$demo"
. "$(dirname "$0")/check_common.bash"
program="$root/bin/$demo"
# Every run starts in $tmp/work, so a program that wrongly made runs/ would
# do it there (where it is seen), never in the repository.
mkdir "$tmp/work"

# run_demo ARGS...: runs the program in $tmp/work with stdin from $tmp/in
# (empty unless a check fills it), stdout to $tmp/out, stderr to $tmp/err
# (files: not a terminal), and sets $code.
: >"$tmp/in"
run_demo() {
  (cd "$tmp/work" && timeout 120 "$program" "$@") <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
  code=$?
}

# summary KEY [FILE]: the value of KEY=... on the last line of FILE.
summary() {
  tail -n 1 "${2:-$tmp/out}" | awk -v k="$1" '$1 == "summary:" {
    for (i = 2; i <= NF; i++) { p = index($i, "="); if (p > 1 && substr($i, 1, p - 1) == k) { print substr($i, p + 1); exit } }
  }'
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_number() { [[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]; }
less_than() { is_number "$1" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
between() { is_number "$1" && awk -v a="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(a + 0 >= lo + 0 && a + 0 <= hi + 0) }'; }
# close A B TOLERANCE: |A - B| <= TOLERANCE for two numbers.
close() { is_number "$1" && is_number "$2" && awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

# expect_one_line_error WHAT TOKEN: the last run failed with 0 < code < 128
# and printed exactly one line on stderr, naming TOKEN.
expect_one_line_error() {
  local what=$1 token=$2 lines
  expect "$what exits with a code in 1..127 (got $code)" [ "$code" -gt 0 -a "$code" -lt 128 ]
  lines=$(wc -l <"$tmp/err")
  if [ "$lines" -eq 1 ] && [ -n "$(head -n 1 "$tmp/err")" ]; then pass; else
    fail "$what prints exactly one line on stderr (got $lines):"
    show "$tmp/err"
  fi
  expect "$what the error names '$token': '$(head -n 1 "$tmp/err")'" grep -qF -e "$token" "$tmp/err"
}

# bad_case TOKEN ARGS...: the program, given ARGS and a fresh --run-dir,
# fails with 0 < code < 128 and exactly one line on stderr naming TOKEN,
# and creates neither its run directory nor anything in the working
# directory. bad_case_args DIR ARGS... sets the array `args` to what the
# program gets; a demo with subcommands redefines it.
bad_case_args() {
  local dir=$1
  shift
  args=(--run-dir "$dir" "$@")
}
bad_cases=0
bad_case() {
  local token=$1
  shift
  bad_cases=$((bad_cases + 1))
  local dir="$tmp/bad-$bad_cases" what="$demo $*:"
  bad_case_args "$dir" "$@"
  run_demo "${args[@]}"
  expect_one_line_error "$what" "$token"
  expect "$what creates no run directory" [ ! -e "$dir" ]
  expect "$what creates nothing in the working directory" [ -z "$(ls -A "$tmp/work")" ]
}
