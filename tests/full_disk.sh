#!/usr/bin/env bash
# A full disk: a resumed run whose rewrite of metrics.csv finds no space
# left stops with the reason ("No space left on device", not "short
# write"), in one line, exit code 1, and leaves the run as it was (no
# temporary file). The disk is a tmpfs of 64 KiB, filled up, mounted in a
# private mount namespace (unshare --mount, as root) so that it goes away
# with the command whatever happens; where that cannot be done the test is
# skipped with a note. Prints "N passed, M failed"; exits 1 if M > 0.
check_name=full_disk
. "$(dirname "$0")/check_common.bash"
l1norm=$root/bin/l1norm
if [ ! -x "$l1norm" ]; then
  fail "$l1norm is missing (run make)"
  finish
fi
disk=$tmp/disk
mkdir "$disk"
in_namespace() { unshare --mount --propagation private "$@"; }
if [ "$(id -u)" != 0 ] || ! in_namespace mount -t tmpfs -o size=64k tmpfs "$disk" 2>/dev/null; then
  echo "$check_name: note: no tmpfs can be mounted here (needs root and unshare --mount): skipped"
  finish
fi

"$l1norm" --max-steps 300 --quiet --threads 1 --run-dir "$tmp/base" >/dev/null || fail "the base run failed"
# In the namespace: the run copied onto the tmpfs, the rest of it filled,
# then the resume; what is left to check is copied out.
in_namespace bash -c '
  set -u
  tmp=$1 disk=$2 l1norm=$3
  mount -t tmpfs -o size=64k tmpfs "$disk" || exit 99
  cp -r "$tmp/base" "$disk/run" || exit 99
  dd if=/dev/zero of="$disk/fill" bs=1k 2>/dev/null
  [ "$(df -k --output=avail "$disk" | tail -n 1 | tr -d " ")" -eq 0 ] || exit 98
  (cd "$disk/run" && ls -A | sort && cksum checkpoint.safetensors metrics.csv params.csv) >"$tmp/before"
  "$l1norm" --resume "$disk/run" --quiet --threads 1 >"$tmp/out" 2>"$tmp/err"
  echo $? >"$tmp/code"
  (cd "$disk/run" && ls -A | sort && cksum checkpoint.safetensors metrics.csv params.csv) >"$tmp/after"
' _ "$tmp" "$disk" "$l1norm"
status=$?
if [ "$status" -eq 99 ] || [ "$status" -eq 98 ]; then
  fail "the full tmpfs could not be set up (status $status)"
  finish
fi
code=$(cat "$tmp/code")
expect "a resume onto a full disk exits with 1 (got $code)" [ "$code" -eq 1 ]
expect "  with one line on stderr (got $(wc -l <"$tmp/err"))" [ "$(wc -l <"$tmp/err")" -eq 1 ]
expect "  naming metrics.csv and the reason: '$(head -n 1 "$tmp/err")'" \
  grep -q "metrics.csv: write of temporary file .*metrics.csv.tmp.[0-9]* failed: No space left on device$" "$tmp/err"
if cmp -s "$tmp/before" "$tmp/after"; then pass; else
  fail "  and leaves the run as it was (files and checksums before, after):"
  diff "$tmp/before" "$tmp/after" | show
fi
finish
