# Shared by the demo scripts (tests/demo_*.sh), which source it after
# setting $demo (the program's name in bin/). Not a test itself: it has no
# .sh suffix, so `make check` does not run it.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
program="$root/bin/$demo"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# Every run starts in $tmp/work, so a program that wrongly made runs/ would
# do it there (where it is seen), never in the repository.
mkdir "$tmp/work"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "demo_$demo: FAIL: $*"
}
# expect DESCRIPTION COMMAND...: passes if COMMAND succeeds.
expect() {
  local what=$1
  shift
  if "$@"; then pass; else fail "$what"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

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
show() { sed 's/^/    /' "$@" | head -n 20; }

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
