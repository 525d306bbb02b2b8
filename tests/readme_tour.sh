#!/usr/bin/env bash
# Compiles and runs the README's API tour, so the code users copy first
# cannot rot: it must build warning-free and its loss must fall 100-fold.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/<!-- tour -->/{found=1} found && /^```c$/{inside=1; next} inside && /^```$/{exit} inside{print}' \
  "$root/README.md" > "$work/tour.c"
if [ ! -s "$work/tour.c" ]; then echo "readme_tour: no tour code found in README.md"; exit 1; fi
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -I"$root/framework/include" "$work/tour.c" \
  "$root/build/libag.a" -lopenblas -lcjson -lm -o "$work/tour"
(cd "$work" && ./tour) > "$work/out.txt"
first=$(awk '/loss/{print $4; exit}' "$work/out.txt")
last=$(awk '/loss/{v=$4} END{print v}' "$work/out.txt")
if [ -f "$work/tour.safetensors" ] && awk -v f="$first" -v l="$last" 'BEGIN{exit !(l < f / 100)}'; then
  echo "readme_tour: loss $first -> $last, checkpoint written"
  echo "1 passed, 0 failed"
else
  cat "$work/out.txt"
  echo "readme_tour: loss $first -> $last did not fall 100-fold, or no checkpoint"
  echo "0 passed, 1 failed"
  exit 1
fi
