# Shared by the test scripts (tests/*.sh), which set $check_name and source
# it: the repository as working directory, a temporary directory $tmp
# removed on exit, and the pass/fail bookkeeping that ends in the line
# "N passed, M failed" and a non-zero exit if M > 0. Not a test itself: it
# has no .sh suffix, so `make check` does not run it.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "$check_name: FAIL: $*"
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
# show FILE: its first lines, indented, under a failure.
show() { sed 's/^/    /' "$@" | head -n 20; }
