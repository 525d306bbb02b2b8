#!/usr/bin/env bash
# Keeps docs/adding-a-model.md and docs/adding-an-op.md from rotting: every
# ```c block after a "<!-- from FILE -->" line must appear word for word in
# FILE, and the block after "<!-- program -->" (in adding-a-model.md) must
# compile with -Werror against models/gru.c and build/libag.a and bring its
# loss down 20-fold; the program of docs/sequence-classifier.md (a stacked
# LSTM classifier, under 60 lines) must compile with -Werror against
# build/libag.a alone, reach a test accuracy above 0.9 and bring its loss
# down 4-fold.
check_name=docs_tutorial
. "$(dirname "$0")/check_common.bash"
set -o pipefail
doc="$root/docs/adding-a-model.md"
work=$tmp

# Splits the doc into numbered blocks: block-N.c and block-N.source (the
# FILE of the marker before it, or "program").
split_blocks() { # DOC PREFIX
  awk -v dir="$work" -v prefix="$2" '
    /^<!-- from [^ ]+ -->$/ { source = $3; next }
    /^<!-- program -->$/ { source = "program"; next }
    /^```c$/ && source != "" { n++; inside = 1; file = dir "/block-" prefix n ".c"; print source > (dir "/block-" prefix n ".source"); next }
    inside && /^```$/ { inside = 0; source = ""; next }
    inside { print > file }
  ' "$1"
}
split_blocks "$doc" model-
split_blocks "$root/docs/adding-an-op.md" op-
split_blocks "$root/docs/sequence-classifier.md" seq-

blocks=$(ls "$work"/block-model-*.source 2>/dev/null | wc -l)
[ "$blocks" -ge 5 ] && pass || fail "expected at least 5 marked code blocks in $doc, found $blocks"
blocks=$(ls "$work"/block-op-*.source 2>/dev/null | wc -l)
[ "$blocks" -ge 4 ] && pass || fail "expected at least 4 marked code blocks in docs/adding-an-op.md, found $blocks"
program=""
seq_program=""
for marker in "$work"/block-*.source; do
  [ -e "$marker" ] || continue
  source=$(cat "$marker")
  block="${marker%.source}.c"
  if [ "$source" = program ]; then
    case $block in */block-seq-*) seq_program=$block ;; *) program=$block ;; esac
    continue
  fi
  # Word for word: the block's lines must occur as consecutive lines of the file.
  # (perl-base is essential on Debian)
  if perl -0777 -e 'open my $b, "<", $ARGV[0] or exit 2; open my $f, "<", $ARGV[1] or exit 2;
      my $block = <$b>; my $text = <$f>; $block =~ s/\n+\z//; exit(length($block) && index($text, $block) >= 0 ? 0 : 1)' \
      "$block" "$root/$source"
  then pass; else fail "a snippet no longer matches $source:"; sed 's/^/    /' "$block" | head -5; fi
done

if [ -z "$program" ]; then
  fail "no <!-- program --> block in $doc"
elif ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -I"$root/framework/include" -I"$root/models" \
    "$program" "$root/models/gru.c" "$root/build/libag.a" -lopenblas -lcjson -lm -lpthread -o "$work/train_gru" \
    2> "$work/cc.err"; then
  pass
  if (cd "$work" && ./train_gru > out.txt 2> err.txt); then pass; else fail "the program failed: $(head -c 300 "$work/err.txt")"; fi
  first=$(awk '/loss/{print $4; exit}' "$work/out.txt")
  last=$(awk '/loss/{v=$4} END{print v}' "$work/out.txt")
  if [ -n "$first" ] && awk -v f="$first" -v l="$last" 'BEGIN{exit !(l < f / 20)}'; then pass
  else fail "the loss went from '$first' to '$last', not 20-fold down"; fi
  [ -s "$work/gru.safetensors" ] && pass || fail "the program wrote no gru.safetensors"
  echo "docs_tutorial: loss $first -> $last"
else
  fail "the program does not compile:"; sed 's/^/    /' "$work/cc.err" | head -10
fi

# docs/sequence-classifier.md: the whole program under 60 lines, on ag.h alone.
if [ -z "$seq_program" ]; then
  fail "no <!-- program --> block in docs/sequence-classifier.md"
else
  lines=$(wc -l < "$seq_program")
  [ "$lines" -lt 60 ] && pass || fail "the sequence classifier has $lines lines, not under 60"
  if ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -I"$root/framework/include" \
      "$seq_program" "$root/build/libag.a" -lopenblas -lcjson -lm -lpthread -o "$work/classify" 2> "$work/cc_seq.err"; then
    pass
    if (cd "$work" && ./classify > seq.txt 2> seq_err.txt); then pass; else fail "the classifier failed: $(head -c 300 "$work/seq_err.txt")"; fi
    first=$(awk '/loss/{print $4; exit}' "$work/seq.txt")
    last=$(awk '/loss/{v=$4} END{print v}' "$work/seq.txt")
    accuracy=$(awk '/^test accuracy/{print $3}' "$work/seq.txt")
    if [ -n "$first" ] && awk -v f="$first" -v l="$last" 'BEGIN{exit !(l < f / 4)}'; then pass
    else fail "the classifier's loss went from '$first' to '$last', not 4-fold down"; fi
    if [ -n "$accuracy" ] && awk -v a="$accuracy" 'BEGIN{exit !(a > 0.9)}'; then pass
    else fail "the classifier's test accuracy is '$accuracy', not above 0.9"; fi
    echo "docs_tutorial: classifier loss $first -> $last, test accuracy $accuracy"
  else
    fail "the sequence classifier does not compile:"; sed 's/^/    /' "$work/cc_seq.err" | head -10
  fi
fi
finish
