#!/usr/bin/env bash
# make check-browser (not part of make check: it needs Chromium): a few
# short real demo runs, their `runs report`, opened from the file system
# by headless Chromium and screenshot into plots/runs_report.png (the
# README shows it). The screenshot must be a PNG of the window's size, and
# its chart area must not be blank: the first run colour of
# plots/common.gp (#1f77b4) drawn over many pixels. A .bash file, so that
# make check (tests/*.sh) does not run it. Prints "N passed, M failed".
check_name=check_browser
. "$(dirname "$0")/check_common.bash"
browser=$(command -v chromium || command -v chromium-browser)
if [ -z "$browser" ]; then
  fail "no chromium (make check-browser installs the Debian package)"
  finish
fi
shot=${SHOT:-$root/plots/runs_report.png}
width=1200
height=1400

# Short runs of two demos, two settings of one of them.
work=$tmp/work
mkdir -p "$work/runs"
(
  cd "$work" || exit 1
  "$root/bin/l1norm" --quiet --max-steps 3000 --run-dir runs/l1norm-short
  for lr in 1e-3 1e-2; do
    "$root/bin/adding" --quiet --T 30 --hidden 32 --steps 400 --eval-every 50 --test-size 200 --lr "$lr" \
      --run-dir "runs/adding-lr$lr"
  done
) >"$tmp/runs.out" 2>&1 || { fail "the demo runs failed:"; show "$tmp/runs.out"; finish; }
(cd "$work" && "$root/bin/runs" report runs --out "$tmp/report.html") >"$tmp/out" 2>"$tmp/err"
expect "runs report exits with 0 ($(head -c 200 "$tmp/err"))" [ $? -eq 0 ]

rm -f "$shot.new.png"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --window-size="$width,$height" --screenshot="$shot.new.png" "file://$tmp/report.html" >"$tmp/browser.out" 2>&1
expect "chromium wrote a screenshot ($(tail -n 1 "$tmp/browser.out"))" [ -s "$shot.new.png" ]

# The PNG's size from its header, and the pixels of the run colour,
# decoded with python's zlib (8-bit RGB or RGBA, the five PNG filters).
measure=$(python3 - "$shot.new.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, chunks = 8, {}
idat = b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        w, h, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
channels = {2: 3, 6: 4}[color]
assert depth == 8
raw = zlib.decompress(idat)
stride = w * channels
prev = bytearray(stride)
blue = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for x in range(stride):
        a = line[x - channels] if x >= channels else 0
        b = prev[x]
        c = prev[x - channels] if x >= channels else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, channels):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if abs(r - 0x1f) < 40 and abs(g - 0x77) < 40 and abs(bl - 0xb4) < 40:
            blue += 1
    prev = line
print(w, h, blue)
EOF
)
read -r shot_w shot_h blue <<<"$measure"
expect "the screenshot is ${width}x$height (got '$measure')" [ "${shot_w:-0}" = "$width" ] && [ "${shot_h:-0}" = "$height" ]
expect "the charts are drawn: over 500 pixels of the run colour #1f77b4 (got ${blue:-none})" [ "${blue:-0}" -gt 500 ]
if [ "$failed" -eq 0 ]; then
  mv "$shot.new.png" "$shot"
  echo "$check_name: $shot"
else
  rm -f "$shot.new.png"
fi
finish
