#!/usr/bin/env bash
# Bad input for every program (bin/l1norm, bin/adding, bin/digitsum and its
# four commands, bin/charlm train and sample), from one table: bad flags
# (unknown, missing, not numbers, out of range, huge, NaN and Inf, empty,
# --flag=, a --prime outside the model's vocabulary), missing, unreadable
# and wrong kinds of files (a directory, a FIFO, an empty file), malformed
# CSV data, texts too short for charlm's streams (or a directory with no
# text in it), damaged model files and training checkpoints (truncated,
# bit-flipped, NaN weights or carried state, another model's, edited
# metadata: charlm's vocabulary and sizes; edits re-signed so that the
# check behind the checksum refuses them, or not, so that the checksum
# does), another run's checkpoint copied into a run directory, a run's text
# changed before its --resume, and tampered metrics.csv of a run given to
# --resume.
#
# Every case must fail cleanly: an exit code in 1..127 (no crash, no
# signal), exactly one line on stderr, in printable ASCII, naming the token
# of its table row (the flag, or the file with its line, tensor or
# setting), and nothing created, changed or removed anywhere under the
# test's directory: no run directory, no runs/ in the working directory, no
# temporary *.tmp.* file, no --out file, and a --resume directory exactly as
# it was. A row whose token starts with '~' is a damage that may leave a
# valid file (a flipped bit in the float data): the program may then run to
# the end (exit 0); if it stops, it must stop as cleanly. A row whose token
# is '=ok' must exit 0.
#
# Each program runs in an empty working directory, under `timeout` and a
# 4 GiB address-space limit (BAD_INPUT_VMEM, in KiB, or 'unlimited'), so an
# absurd allocation fails at once instead of filling the machine. Reading an
# unreadable file needs a user other than root: as root the cases run under
# `setpriv` as nobody; where that cannot be done they are skipped, with a
# note. BAD_INPUT_BIN runs other builds of the programs (default bin/);
# BAD_INPUT_SHOW=1 prints each case's exit code and message.
# Prints "N passed, M failed"; exits 1 if M > 0.
check_name=bad_input
. "$(dirname "$0")/check_common.bash"
export LC_ALL=C # byte-wise [^ -~] below
umask 022
bin=${BAD_INPUT_BIN:-$root/bin}
vmem=${BAD_INPUT_VMEM:-4194304}
for p in l1norm adding digitsum charlm; do
  if [ ! -x "$bin/$p" ]; then
    fail "$bin/$p is missing (run make)"
    finish
  fi
done
# /usr/bin/python3 -I starts in a twentieth of the time of a pyenv shim.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3) || {
  fail "python3 is needed to edit checkpoints"
  finish
}

# $tmp/log (outputs) is the only place a case may write; $F holds the
# fixtures, $B the base runs, $C a case's own copies.
chmod 755 "$tmp" # for the cases run as nobody
log=$tmp/log F=$tmp/f B=$tmp/base C=$tmp/c work=$tmp/work
mkdir "$log" "$F" "$B" "$C" && mkdir -m 1777 "$work"

# --------------------------------------------------------------- helpers
# st FILE [unsigned] OP ARGS: edits a safetensors file in place (8-byte
# little-endian header length, JSON header, data):
#   meta KEY VALUE | nometa KEY       set or remove a metadata string
#   tensor NAME VALUE                 every element of NAME to the float VALUE
#   dtype NAME DTYPE                  the header's dtype of NAME
#   trunc prefix|header|data|last     cut inside the length, the header, the
#                                     data, or just the last byte
#   flip WHERE MASK                   XOR one byte: prefix:K (byte K of the
#                                     length), header:K (byte K of the JSON),
#                                     data:NAME:K (byte K of NAME's data)
#   fliptext TEXT K MASK              XOR byte K of TEXT's first place in the header
#   replace OLD NEW                   same-length text edit of the header
#   append TEXT
# Every edit but trunc then recomputes the file's checksum ("ag.crc32c",
# with tests/checkpoint_tool.py), so that what the row tests (a setting, a
# shape, a value) is what the program finds wrong; with `unsigned` it does
# not, and the damage must be caught by the checksum.
# One python3 serves every edit (starting one takes longer than a case):
# it reads "N\0ARG1\0...ARGN\0" records and answers each with a line.
cat >"$tmp/st.py" <<'EOF'
import json, os, struct, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.environ['AG_TESTS'])
import checkpoint_tool
def edit(path, op, args):
    signed = op != 'unsigned'
    if not signed: op, args = args[0], args[1:]
    raw = bytearray(open(path, 'rb').read())
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(bytes(raw[8:8 + n]))
    data = raw[8 + n:]
    def rewrite():
        text = json.dumps(header, separators=(',', ':')).encode()
        text += b' ' * (-len(text) % 8)
        return bytearray(struct.pack('<Q', len(text)) + text + data)
    def offset(where):
        kind, _, rest = where.partition(':')
        if kind == 'prefix': return int(rest)
        if kind == 'header': return 8 + int(rest)
        name, _, k = rest.rpartition(':')
        return 8 + n + header[name]['data_offsets'][0] + int(k)
    if op == 'meta': header['__metadata__'][args[0]] = args[1]; raw = rewrite()
    elif op == 'nometa': del header['__metadata__'][args[0]]; raw = rewrite()
    elif op == 'dtype': header[args[0]]['dtype'] = args[1]; raw = rewrite()
    elif op == 'tensor':
        begin, end = header[args[0]]['data_offsets']
        data[begin:end] = struct.pack('<f', float(args[1])) * ((end - begin) // 4)
        raw = rewrite()
    elif op == 'trunc':
        cut = {'prefix': 4, 'header': 8 + n // 2, 'data': 8 + n + len(data) // 2, 'last': len(raw) - 1}[args[0]]
        raw = raw[:cut]
    elif op == 'flip': raw[offset(args[0])] ^= int(args[1], 0)
    elif op == 'fliptext':
        at = raw.find(os.fsencode(args[0]), 8, 8 + n)
        if at < 0: raise ValueError('%r is not in the header' % args[0])
        raw[at + int(args[1])] ^= int(args[2], 0)
    elif op == 'replace':
        old, new = os.fsencode(args[0]), os.fsencode(args[1])
        at = raw.find(old, 8, 8 + n)
        if len(old) != len(new) or at < 0: raise ValueError('%r is not in the header, or %r is longer' % (old, new))
        raw[at:at + len(old)] = new
    elif op == 'append': raw += os.fsencode(args[0])
    else: raise ValueError('unknown edit ' + op)
    if signed and op != 'trunc': raw = checkpoint_tool.sign(raw)
    open(path, 'wb').write(raw)
def field():
    text = bytearray()
    while (c := sys.stdin.buffer.read(1)) != b'\0':
        if not c: sys.exit(0)
        text += c
    return os.fsdecode(bytes(text))
while True:
    args = [field() for _ in range(int(field()))]
    try:
        edit(args[0], args[1], args[2:])
        print('ok', flush=True)
    except Exception as e:
        print('error: %r' % e, flush=True)
EOF
coproc ST { AG_TESTS=$root/tests "$python" -I "$tmp/st.py"; }
st() {
  local reply
  printf '%s\0' "$#" "$@" >&"${ST[1]}"
  read -r -u "${ST[0]}" reply
  [ "$reply" = ok ] || fail "st $*: $reply"
}

# Case preparations, used in the table's second column.
# copy_run BASE: $R, a fresh copy of the base run BASE to resume.
copy_run() {
  R=$C/run
  cp -r "$B/$1" "$R"
}
# edit_run BASE ST-ARGS: copy_run, then edits its checkpoint.
edit_run() {
  copy_run "$1"
  shift
  st "$R/checkpoint.safetensors" "$@"
}
# model FILE ST-ARGS: $M, a copy of FILE (relative to $B), edited.
model() {
  M=$C/model.safetensors
  cp "$B/$1" "$M"
  shift
  if [ $# -gt 0 ]; then st "$M" "$@"; fi
}
# metrics BASE HOW: copy_run, then tampers with its metrics.csv.
metrics() {
  copy_run "$1"
  local m=$R/metrics.csv
  case $2 in
  swap) awk 'NR == 3 { held = $0; next } { print } NR == 4 { print held }' "$B/$1/metrics.csv" >"$m" ;;
  header) sed -i '1s/loss/lost/' "$m" ;;
  extra-column) sed -i '2s/$/,1/' "$m" ;;
  step-not-number) sed -i '2s/^[0-9]*/x/' "$m" ;;
  empty) : >"$m" ;;
  missing) rm "$m" ;;
  directory) rm "$m" && mkdir "$m" ;;
  duplicate) sed -n 2p "$B/$1/metrics.csv" >>"$m" ;;
  last-row-gone) sed -i '$d' "$m" ;;
  header-only) sed -i '2,$d' "$m" ;;
  newline-in-header) sed -i '1s/^step/"st\nep"/' "$m" ;;
  open-quote) sed -i '2s/^/"/' "$m" ;;
  crlf) sed -i 's/$/\r/' "$m" ;;
  value-not-number) sed -i '3s/^\([0-9]*\),[^,]*/\1,abc/' "$m" ;;
  esac
}
# fifo TEXT: $FIFO, a FIFO that a background writer fills with TEXT once a
# reader opens it (given up after 20 s).
fifo() {
  FIFO=$C/fifo.csv
  mkfifo "$FIFO"
  (timeout 20 bash -c 'printf "%s" "$1" >"$2"' _ "$1" "$FIFO" &) >/dev/null 2>&1
}

# As root, the unreadable-file cases run as nobody; otherwise as this user.
if [ "$(id -u)" != 0 ]; then
  as_other=()
elif setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  as_other=(skip)
  echo "$check_name: note: setpriv cannot run a program as nobody here: the unreadable-file cases are skipped"
fi
if ! (ulimit -v "$vmem") 2>/dev/null; then
  echo "$check_name: note: ulimit -v $vmem fails here: the cases that need the memory limit are skipped"
  vmem=unlimited
fi

# ---------------------------------------------------------------- fixtures
"$bin/digitsum" gen-data --len 2 --only --out "$F/d.csv" >/dev/null || fail "gen-data for the fixtures failed"
mkdir "$F/dir" "$F/empty_run" "$F/dir_checkpoint" "$F/fifo_checkpoint" "$F/readonly"
mkdir "$F/dir_checkpoint/checkpoint.safetensors"
mkfifo "$F/fifo" "$F/fifo_checkpoint/checkpoint.safetensors"
: >"$F/empty.csv"
mkdir "$F/empty_checkpoint" && : >"$F/empty_checkpoint/checkpoint.safetensors"
cp "$F/d.csv" "$F/unreadable.csv" && chmod 000 "$F/unreadable.csv"
chmod 555 "$F/readonly"
# CSV files: each bad on a known line.
w() { printf "$2" >"$F/$1"; }
w nan_digits.csv '12,3\nnan,3\n'
w nan_sum.csv '12,3\n12,nan\n'
w inf_sum.csv '12,3\n12,inf\n'
w huge_sum.csv '12,3\n12,1e400\n'
w huge_digits.csv '12,3\n99999999999999999999999999999999999,315\n'
w letter.csv '12,3\n1a,1\n'
w negative.csv '12,3\n-1,1\n'
w plus_sum.csv '12,3\n12,+3\n'
w wrong_sum.csv '12,3\n45,9\n12,4\n'
w one_field.csv '12,3\n12\n'
w three_fields.csv '12,3\n12,3,4\n'
w empty_fields.csv '12,3\n,\n'
w header_only.csv 'digits,sum\n'
w other_header.csv 'digits,total\n12,3\n'
w blank_lines.csv '\n\n\n'
w crlf_bad.csv '12,3\r\n45,9\r\n1x,1\r\n'
w crlf.csv '12,3\r\n45,9\r\n11,2\r\n'
w open_quote.csv '12,3\n"12,3\n'
w mid_quote.csv '12,3\n"1"2,3\n'
w nul.csv '12,3\n12,3\0junk\n'
w nul_digits.csv '12,3\n1\0002,3\n'
w binary.csv '12,3\n\xff\xfe,1\n'
w bom.csv '\xef\xbb\xbf12,3\n'
w escape.csv '12,3\n\x1b[31m,1\n'
w no_final_newline.csv '12,3\n45,9\n12,4'
w space_before.csv '12,3\n 12,3\n'
w space_after.csv '12,3\n12,3 \n'
w tab.csv '12,3\n\t12,3\n'
w space_header.csv 'digits, sum\n12,3\n'
w quoted.csv '12,3\n"12","3"\n'
w quoted_sum.csv '12,3\n12,"3"\n'
"$bin/digitsum" gen-data --len 2 --only --sample 100 --seed 5 --out "$F/d_other.csv" >/dev/null || fail "gen-data d_other.csv failed"
{ printf '12,3\n'; head -c 100000 /dev/zero | tr '\0' 1; printf ',3\n'; } >"$F/long_line.csv"
cp "$F/d.csv" "$F/fifo_source.csv"
# Base runs, tiny and quick; digitsum with three epochs for three metrics rows.
# The *_other runs are other runs of the same demo (another seed and
# length), whose checkpoints are copied into a base run.
quick=(--quiet --threads 1)
"$bin/l1norm" --max-steps 50 "${quick[@]}" --run-dir "$B/l1" >/dev/null || fail "base run l1norm failed"
"$bin/l1norm" --max-steps 30 --seed 7 "${quick[@]}" --run-dir "$B/l1_other" >/dev/null || fail "base run l1norm seed 7 failed"
adding_args=(--T 10 --hidden 4 --eval-every 10 --test-size 16 --train-size 64 "${quick[@]}")
"$bin/adding" "${adding_args[@]}" --steps 10 --seed 7 --run-dir "$B/add_other" >/dev/null || fail "base run adding seed 7 failed"
adding_args+=(--steps 20)
"$bin/adding" "${adding_args[@]}" --run-dir "$B/add" >/dev/null || fail "base run adding failed"
"$bin/adding" "${adding_args[@]}" --model lstm --run-dir "$B/add_lstm" >/dev/null || fail "base run adding lstm failed"
"$bin/adding" "${adding_args[@]}" --optim sgd --lr 0.01 --run-dir "$B/add_sgd" >/dev/null || fail "base run adding sgd failed"
"$bin/digitsum" train --data "$F/d.csv" --hidden 8 --epochs 3 "${quick[@]}" --run-dir "$B/ds" >/dev/null ||
  fail "base run digitsum failed"
"$bin/digitsum" train --data "$F/d.csv" --model rnn --hidden 8 --epochs 1 "${quick[@]}" --run-dir "$B/ds_rnn" >/dev/null ||
  fail "base run digitsum rnn failed"
"$bin/digitsum" train --data "$F/d.csv" --hidden 8 --epochs 2 --seed 7 "${quick[@]}" --run-dir "$B/ds_other" >/dev/null ||
  fail "base run digitsum seed 7 failed"
# charlm's texts: 40 made-up lines (938 bytes, 27 distinct bytes), the same
# without its line breaks (another vocabulary: no newline), 1 byte, 19
# bytes (one short of two streams of 8 + 1 training bytes and 2 validation
# bytes) and 470 kB (room for --batch 4096 --seq-len 100); a directory
# holding the text only as a symbolic link, a fortune index (.dat) and a
# hidden file, none of them read.
awk 'BEGIN { split("the a cat dog sat ran on under mat log and then", w, " "); s = 7
  for (line = 0; line < 40; line++) { out = ""
    for (i = 0; i < 5; i++) { s = (s * 1103515245 + 12345) % 2147483648; out = out w[1 + int(s / 65536) % 12] " " }
    print out line % 10 "." } }' >"$F/text.txt"
tr '\n' ' ' <"$F/text.txt" >"$F/text_flat.txt"
printf a >"$F/one.txt"
head -c 19 "$F/text.txt" >"$F/short.txt"
yes "$(<"$F/text.txt")" | head -c 470000 >"$F/big.txt"
mkdir "$F/links" && ln -s "$F/text.txt" "$F/links/text.txt" && cp "$F/text.txt" "$F/links/text.dat" &&
  cp "$F/text.txt" "$F/links/.text"
# Two charlm runs on the text (the *_other one another seed), one on the
# flat text; a step is about a millisecond.
charlm_args=(--hidden 8 --embed 4 --batch 2 --seq-len 8 "${quick[@]}")
"$bin/charlm" train --data "$F/text.txt" "${charlm_args[@]}" --steps 6 --run-dir "$B/cl" >/dev/null || fail "base run charlm failed"
"$bin/charlm" train --data "$F/text.txt" "${charlm_args[@]}" --steps 3 --seed 7 --run-dir "$B/cl_other" >/dev/null ||
  fail "base run charlm seed 7 failed"
"$bin/charlm" train --data "$F/text_flat.txt" "${charlm_args[@]}" --steps 3 --run-dir "$B/cl_flat" >/dev/null ||
  fail "base run charlm flat failed"
# The base runs' ids (params.csv's run_id), for the tokens' {id:NAME}.
declare -A run_id
for d in "$B"/*/; do
  d=${d%/}
  run_id[${d##*/}]=$(sed -n 's/^"run_id","\(.*\)"$/\1/p' "$d/params.csv")
  [ -n "${run_id[${d##*/}]}" ] || fail "base run ${d##*/} has no run_id in its params.csv"
done

# --------------------------------------------------------------- the table
# CATEGORY | TOKEN | PREPARATION (bash, or -) | PROGRAM ARGS (bash words)
# $F: fixtures, $B: base runs; $R, $M and $FIFO come from the preparation.
# A token may name $F, $C and {id:BASE}, the run id of base run BASE.
# `other` before the program runs it as another user (nobody, as root).
# l1norm, adding, `digitsum train` and `charlm train` resume with $l1 $add
# $ds $cl (--resume $R = $C/run, and quick flags); $predict and $score are
# digitsum predict and eval.
l1="l1norm --resume $C/run --quiet --threads 1"
add="adding --resume $C/run --quiet --threads 1"
ds="digitsum train --resume $C/run --quiet --threads 1"
cl="charlm train --resume $C/run --quiet --threads 1"
# $clt: charlm train of a tiny model (add --data), $cls: charlm sample (add a model).
clt="charlm train --hidden 8 --embed 4 --batch 2 --seq-len 8 --steps 2 --quiet --threads 1"
cls="charlm sample --length 5 --checkpoint"
predict='digitsum predict --hidden 8'
score="digitsum eval --hidden 8 --data $F/d.csv"
table=$(cat <<'EOF'
flags | unknown flag '--bogus' | - | l1norm --bogus
flags | --lr needs a value | - | l1norm --lr
flags | --lr needs a value (got the flag '--quiet') | - | l1norm --lr --quiet
flags | --run-dir needs a value | - | l1norm --run-dir --quiet
flags | --resume needs a value | - | l1norm --resume --max-steps 5
flags | --lr: 'abc' | - | l1norm --lr abc
flags | --lr: 'nan' | - | l1norm --lr nan
flags | --lr: 'inf' | - | l1norm --lr inf
flags | --lr: '-inf' | - | l1norm --lr -inf
flags | --lr: '' | - | l1norm --lr ''
flags | --lr: '' | - | l1norm --lr=
flags | --lr: '0' must be > 0 | - | l1norm --lr 0
flags | --lr: '-1' | - | l1norm --lr -1
flags | --lr: '1e400' | - | l1norm --lr 1e400
flags | --lr: '1e-400' must be > 0 | - | l1norm --lr 1e-400
flags | --lr: '1?2' | - | l1norm --lr $'1\n2'
flags | --batch: '0' | - | l1norm --batch 0
flags | --batch: '-3' | - | l1norm --batch -3
flags | --batch: '99999999999999999999' must be >= 1 and <= 1048576 | - | l1norm --batch 99999999999999999999
flags | --batch: '1.5' is not an integer | - | l1norm --batch 1.5
flags | --batch: '1e3' is not an integer | - | l1norm --batch 1e3
flags | --batch: '0x10' is not an integer | - | l1norm --batch 0x10
flags | --batch: '' | - | l1norm --batch=
flags | --max-steps: '1e30' | - | l1norm --max-steps 1e30
flags | --max-steps: '1000000001' | - | l1norm --max-steps 1000000001
flags | --max-len: '0' | - | l1norm --max-len 0
flags | --test-len: '100000001' | - | l1norm --test-len 100000001
flags | --seed: '-1' | - | l1norm --seed -1
flags | --seed: '4294967296' must be >= 0 and <= 4294967295 | - | l1norm --seed 4294967296
flags | --threads: '65' | - | l1norm --threads 65
flags | --checkpoint-every: '0' | - | l1norm --checkpoint-every 0
flags | --bias-tolerance: 'nan' | - | l1norm --bias-tolerance nan
flags | --quiet takes no value | - | l1norm --quiet=1
flags | --bias takes no value | - | l1norm --bias=
flags | unexpected argument 'extra' | - | l1norm extra
flags | unexpected argument '--' | - | l1norm --
flags | unexpected argument '-x' | - | l1norm -x
flags | --init: the value is empty | - | l1norm --init ''
flags | --init: w_hh is missing | - | l1norm --init w_ih=1
flags | --init: 'w_ih=nan' | - | l1norm --init w_ih=nan,w_hh=1
flags | --init: 'w_ih=1e39' is beyond the range of a float | - | l1norm --init w_ih=1e39,w_hh=1
flags | --init: w_ih is given twice | - | l1norm --init=w_ih=1,w_hh=1,w_ih=2
flags | --init: b_ih needs --bias | - | l1norm --init w_ih=1,w_hh=1,b_ih=0,b_hh=0
flags | --init: 'w_ih=?[31m' | - | l1norm --init $'w_ih=\e[31m,w_hh=1'
flags | --run-dir: not with --resume | - | l1norm --run-dir $C/x --resume $B/l1
flags | out of memory | - | l1norm --batch 1048576 --max-len 1048576
flags | unknown flag '--bogus' | - | adding --bogus
flags | --T needs a value | - | adding --T
flags | --T: '1e9' is not an integer | - | adding --T 1e9
flags | --T: '1000000000' must be >= 2 and <= 100000 | - | adding --T 1000000000
flags | --T: '1' | - | adding --T 1
flags | --hidden: '100000' | - | adding --hidden 100000
flags | --hidden: '0' | - | adding --hidden 0
flags | --steps: '1e30' | - | adding --steps 1e30
flags | --steps: '0' | - | adding --steps 0
flags | --steps: '-5' | - | adding --steps -5
flags | --steps: '' | - | adding --steps=
flags | --batch: '99999999999999999999' | - | adding --batch 99999999999999999999
flags | --batch: '65537' | - | adding --batch 65537
flags | --lr: 'nan' | - | adding --lr nan
flags | --lr: 'inf' | - | adding --lr inf
flags | --clip: '0' | - | adding --clip 0
flags | --clip: 'nan' | - | adding --clip nan
flags | --identity-scale: '11' | - | adding --identity-scale 11
flags | --forget-bias: 'inf' | - | adding --forget-bias inf
flags | --stop-below: '-1' | - | adding --stop-below -1
flags | --epochs: '-1' | - | adding --epochs -1
flags | --eval-every: '0' | - | adding --eval-every 0
flags | --train-size: '0' | - | adding --train-size 0
flags | --test-size: '1e9' | - | adding --test-size 1e9
flags | --model: the value is empty | - | adding --model ''
flags | --model: the value is empty | - | adding --model=
flags | --model: 'gru2' is not one of irnn, rnn-tanh, lstm, gru | - | adding --model gru2
flags | --model: 'IRNN' | - | adding --model IRNN
flags | --model: 'lstm?' | - | adding --model $'lstm\n'
flags | --optim: 'rmsprop' is not one of adam, sgd | - | adding --optim rmsprop
flags | --optim: the value is empty | - | adding --optim=
flags | --resume: the value is empty | - | adding --resume ''
flags | out of memory | - | adding --batch 65536 --T 100000
flags | --train-size: '1000000000' must be >= 1 and <= 100000000 | - | adding --train-size 1000000000
flags | give a command | - | digitsum
flags | unknown command 'frob' | - | digitsum frob
flags | unknown command '--bogus' | - | digitsum --bogus
flags | unknown command 'TRAIN' | - | digitsum TRAIN
flags | --out is required | - | digitsum gen-data
flags | --out needs a value | - | digitsum gen-data --out
flags | --out: the value is empty | - | digitsum gen-data --out ''
flags | --len: '0' | - | digitsum gen-data --len 0 --out $C/x.csv
flags | --len: '33' | - | digitsum gen-data --len 33 --sample 5 --out $C/x.csv
flags | --len 8: all sequences would be 10^8 rows; use --sample N | - | digitsum gen-data --len 8 --out $C/x.csv
flags | --sample: '-1' | - | digitsum gen-data --sample -1 --out $C/x.csv
flags | --sample: '1000000001' | - | digitsum gen-data --sample 1000000001 --out $C/x.csv
flags | out of memory for 1000000000 rows | - | digitsum gen-data --sample 1000000000 --len 4 --out $C/x.csv
flags | --seed: '-1' | - | digitsum gen-data --seed -1 --sample 5 --out $C/x.csv
flags | --only takes no value | - | digitsum gen-data --only=1 --out $C/x.csv
flags | unexpected argument 'extra' | - | digitsum gen-data --out $C/x.csv extra
flags | --data is required | - | digitsum train
flags | --data needs a value | - | digitsum train --data
flags | --data needs a value (got the flag '--epochs') | - | digitsum train --data --epochs 1
flags | --epochs: '0' | - | digitsum train --data $F/d.csv --epochs 0
flags | --epochs: '1e30' | - | digitsum train --data $F/d.csv --epochs 1e30
flags | --hidden: '100000' | - | digitsum train --data $F/d.csv --hidden 100000
flags | --batch: '4097' | - | digitsum train --data $F/d.csv --batch 4097
flags | --lr: 'nan' | - | digitsum train --data $F/d.csv --lr nan
flags | --lr: 'inf' | - | digitsum train --data $F/d.csv --lr inf
flags | --weight-decay: 'inf' | - | digitsum train --data $F/d.csv --weight-decay inf
flags | --weight-decay: '-1' | - | digitsum train --data $F/d.csv --weight-decay -1
flags | --split: '0' | - | digitsum train --data $F/d.csv --split 0
flags | --split 1 leaves 100 training and 0 validation rows | - | digitsum train --data $F/d.csv --split 1
flags | --split: 'nan' | - | digitsum train --data $F/d.csv --split nan
flags | --model: 'gru' is not one of rnn, lstm | - | digitsum train --data $F/d.csv --model gru
flags | --model: the value is empty | - | digitsum train --data $F/d.csv --model ''
flags | --threads: '65' | - | digitsum train --data $F/d.csv --threads 65
flags | --checkpoint-every: '0' | - | digitsum train --data $F/d.csv --checkpoint-every 0
flags | --run-dir: not with --resume | - | digitsum train --run-dir $C/x --resume $B/ds
flags | --checkpoint is required | - | digitsum predict 12
flags | give digit sequences | - | digitsum predict --checkpoint $B/ds/model.safetensors --hidden 8
flags | --hidden: '0' | - | digitsum predict --checkpoint $B/ds/model.safetensors --hidden 0 12
flags | --hidden: '100000' | - | digitsum predict --checkpoint $B/ds/model.safetensors --hidden 100000 12
flags | --model: 'gru' | - | digitsum predict --checkpoint $B/ds/model.safetensors --model gru 12
flags | '12a': 'a' at position 3 is not a digit | - | $predict --checkpoint $B/ds/model.safetensors 12a
flags | '': a sequence has 0 digits | - | $predict --checkpoint $B/ds/model.safetensors ''
flags | a sequence has 33 digits | - | $predict --checkpoint $B/ds/model.safetensors 123456789012345678901234567890123
flags | '-5': '-' at position 1 | - | $predict --checkpoint $B/ds/model.safetensors -5
flags | '1?2': byte 0x0a at position 2 | - | $predict --checkpoint $B/ds/model.safetensors $'1\n2'
flags | stdin:2: '3x': 'x' at position 2 | stdin=$'12\n3x\n45\n' | $predict --checkpoint $B/ds/model.safetensors -
flags | unknown flag '--bogus' | - | digitsum predict --bogus
flags | --checkpoint and --data are required | - | digitsum eval --checkpoint $B/ds/model.safetensors
flags | --hidden: '-1' | - | $score --checkpoint $B/ds/model.safetensors --hidden -1
flags | unexpected argument 'x' | - | $score --checkpoint $B/ds/model.safetensors x
files | nowhere/checkpoint.safetensors: cannot open: No such file | - | l1norm --resume $F/nowhere
files | empty_run: no checkpoint.safetensors there | - | l1norm --resume $F/empty_run
files | d.csv/checkpoint.safetensors: cannot open: Not a directory | - | l1norm --resume $F/d.csv
files | dir_checkpoint/checkpoint.safetensors: is a directory | - | l1norm --resume $F/dir_checkpoint
files | fifo_checkpoint/checkpoint.safetensors: is something else, not a regular file | - | l1norm --resume $F/fifo_checkpoint
files | empty_checkpoint/checkpoint.safetensors: file is empty | - | l1norm --resume $F/empty_checkpoint
files | checkpoint.safetensors: cannot open: Permission denied | copy_run l1; chmod 000 $R/checkpoint.safetensors | other $l1
files | metrics.csv: cannot open: Permission denied | copy_run l1; chmod 000 $R/metrics.csv; chmod 666 $R/.lock | other $l1
files | .lock: Permission denied | copy_run l1; chmod 444 $R/.lock | other $l1
files | Permission denied | copy_run l1; chmod 555 $R | other $l1
files | d.csv exists and is not a directory | - | l1norm --run-dir $F/d.csv
files | cannot create directory | - | l1norm --run-dir $F/nowhere/run
files | readonly/run: Permission denied | - | other l1norm --run-dir $F/readonly/run
files | already holds a run (metrics.csv) | - | l1norm --run-dir $B/l1
files | nowhere/checkpoint.safetensors: cannot open: No such file | - | adding --resume $F/nowhere
files | start it again with --run-dir | - | adding --resume $F/empty_run
files | dir_checkpoint/checkpoint.safetensors: is a directory | - | adding --resume $F/dir_checkpoint
files | empty_checkpoint/checkpoint.safetensors: file is empty | - | adding --resume $F/empty_checkpoint
files | checkpoint.safetensors: cannot open: Permission denied | copy_run add; chmod 000 $R/checkpoint.safetensors | other $add
files | Permission denied | copy_run add; chmod 555 $R | other $add
files | d.csv exists and is not a directory | - | adding --run-dir $F/d.csv
files | already holds a run (metrics.csv) | - | adding --run-dir $B/add
files | nowhere/checkpoint.safetensors: cannot open: No such file | - | digitsum train --resume $F/nowhere
files | empty_run: no checkpoint.safetensors there | - | digitsum train --resume $F/empty_run
files | dir_checkpoint/checkpoint.safetensors: is a directory | - | digitsum train --resume $F/dir_checkpoint
files | fifo_checkpoint/checkpoint.safetensors: is something else | - | digitsum train --resume $F/fifo_checkpoint
files | checkpoint.safetensors: cannot open: Permission denied | copy_run ds; chmod 000 $R/checkpoint.safetensors | other $ds
files | Permission denied | copy_run ds; chmod 555 $R | other $ds
files | d.csv exists and is not a directory | - | digitsum train --data $F/d.csv --run-dir $F/d.csv
files | already holds a run (metrics.csv) | - | digitsum train --data $F/d.csv --run-dir $B/ds
files | nowhere.csv: cannot open: No such file | - | digitsum train --data $F/nowhere.csv
files | dir: cannot read: Is a directory | - | digitsum train --data $F/dir
files | empty.csv: no data rows | - | digitsum train --data $F/empty.csv
files | unreadable.csv: cannot open: Permission denied | - | other digitsum train --data $F/unreadable.csv
files | fifo.csv:2: 'x' at position 2 is not a digit | fifo $'12,3\n1x,1\n' | digitsum train --data $FIFO
files | fifo.csv:2: | fifo $'12,3\n1x,1\n' | $score --checkpoint $B/ds/model.safetensors --data $FIFO
files | nowhere.csv: cannot open | - | $score --checkpoint $B/ds/model.safetensors --data $F/nowhere.csv
files | dir: cannot read: Is a directory | - | $score --checkpoint $B/ds/model.safetensors --data $F/dir
files | empty.csv: no data rows | - | $score --checkpoint $B/ds/model.safetensors --data $F/empty.csv
files | unreadable.csv: cannot open: Permission denied | - | other $score --checkpoint $B/ds/model.safetensors --data $F/unreadable.csv
files | nowhere.safetensors: cannot open: No such file | - | $score --checkpoint $F/nowhere.safetensors
files | dir: is a directory, not a regular file | - | $score --checkpoint $F/dir
files | empty.csv: file is empty | - | $score --checkpoint $F/empty.csv
files | fifo: is something else, not a regular file | - | $predict --checkpoint $F/fifo 12
files | nowhere.safetensors: cannot open: No such file | - | $predict --checkpoint $F/nowhere.safetensors 12
files | dir: is a directory, not a regular file | - | $predict --checkpoint $F/dir 12
files | d.csv: header length | - | $predict --checkpoint $F/d.csv 12
files | unreadable.csv: cannot open: Permission denied | - | other $predict --checkpoint $F/unreadable.csv 12
files | --out: $F/dir: is a directory, not a regular file | - | digitsum gen-data --len 2 --out $F/dir
files | is a directory, not a regular file | - | digitsum gen-data --len 2 --out $F/dir/
files | --out: $F/fifo: is something else, not a regular file | - | digitsum gen-data --len 2 --out $F/fifo
files | nowhere/x.csv: cannot create temporary file $F/nowhere/x.csv.tmp. | - | digitsum gen-data --len 2 --out $F/nowhere/x.csv
files | readonly/x.csv: cannot create temporary file | - | other digitsum gen-data --len 2 --out $F/readonly/x.csv
csv | nan_digits.csv:2: 'n' at position 1 is not a digit | - | digitsum train --data $F/nan_digits.csv
csv | nan_sum.csv:2: the sum of '12' is 3, not 'nan' | - | digitsum train --data $F/nan_sum.csv
csv | inf_sum.csv:2: | - | digitsum train --data $F/inf_sum.csv
csv | huge_sum.csv:2: | - | digitsum train --data $F/huge_sum.csv
csv | huge_digits.csv:2: a sequence has 35 digits | - | digitsum train --data $F/huge_digits.csv
csv | letter.csv:2: 'a' at position 2 | - | digitsum train --data $F/letter.csv
csv | negative.csv:2: '-' at position 1 | - | digitsum train --data $F/negative.csv
csv | plus_sum.csv:2: | - | digitsum train --data $F/plus_sum.csv
csv | wrong_sum.csv:3: the sum of '12' is 3, not '4' | - | digitsum train --data $F/wrong_sum.csv
csv | one_field.csv:2: | - | digitsum train --data $F/one_field.csv
csv | three_fields.csv:2: | - | digitsum train --data $F/three_fields.csv
csv | empty_fields.csv:2: | - | digitsum train --data $F/empty_fields.csv
csv | header_only.csv: no data rows | - | digitsum train --data $F/header_only.csv
csv | other_header.csv:1: | - | digitsum train --data $F/other_header.csv
csv | blank_lines.csv: no data rows | - | digitsum train --data $F/blank_lines.csv
csv | crlf_bad.csv:3: 'x' at position 2 | - | digitsum train --data $F/crlf_bad.csv
csv | =ok | - | $score --checkpoint $B/ds/model.safetensors --data $F/crlf.csv
csv | open_quote.csv:2: | - | digitsum train --data $F/open_quote.csv
csv | mid_quote.csv:2: | - | digitsum train --data $F/mid_quote.csv
csv | long_line.csv:2: | - | digitsum train --data $F/long_line.csv
csv | nul.csv:2: | - | digitsum train --data $F/nul.csv
csv | nul_digits.csv:2: | - | digitsum train --data $F/nul_digits.csv
csv | binary.csv:2: byte 0xff at position 1 | - | digitsum train --data $F/binary.csv
csv | bom.csv:1: byte 0xef at position 1 | - | digitsum train --data $F/bom.csv
csv | escape.csv:2: byte 0x1b at position 1 | - | digitsum train --data $F/escape.csv
csv | no_final_newline.csv:3: | - | digitsum train --data $F/no_final_newline.csv
csv | nan_sum.csv:2: | - | $score --checkpoint $B/ds/model.safetensors --data $F/nan_sum.csv
csv | open_quote.csv:2: | - | $score --checkpoint $B/ds/model.safetensors --data $F/open_quote.csv
csv | long_line.csv:2: | - | $score --checkpoint $B/ds/model.safetensors --data $F/long_line.csv
csv | nul.csv:2: | - | $score --checkpoint $B/ds/model.safetensors --data $F/nul.csv
csv | header_only.csv: no data rows | - | $score --checkpoint $B/ds/model.safetensors --data $F/header_only.csv
csv | space_before.csv:2: column 1, ' 12', has a space or tab before or after it | - | digitsum train --data $F/space_before.csv
csv | space_after.csv:2: column 2, '3 ', has a space | - | digitsum train --data $F/space_after.csv
csv | tab.csv:2: column 1, '?12', has a space or tab | - | digitsum train --data $F/tab.csv
csv | space_header.csv:1: column 2, ' sum', has a space | - | digitsum train --data $F/space_header.csv
csv | quoted.csv:2: a quote character: the format (digits,sum) has no quoted fields | - | digitsum train --data $F/quoted.csv
csv | quoted_sum.csv:2: a quote character | - | $score --checkpoint $B/ds/model.safetensors --data $F/quoted_sum.csv
csv | space_after.csv:2: column 2 | - | $score --checkpoint $B/ds/model.safetensors --data $F/space_after.csv
model | file is truncated: 4 bytes | model ds/model.safetensors trunc prefix | $predict --checkpoint $M 12
model | header length | model ds/model.safetensors trunc header | $predict --checkpoint $M 12
model | (file truncated or corrupt) | model ds/model.safetensors trunc data | $predict --checkpoint $M 12
model | linear.bias' has data_offsets | model ds/model.safetensors trunc last | $score --checkpoint $M
model | is more than the | model ds/model.safetensors flip prefix:2 0x01 | $predict --checkpoint $M 12
model | over the limit | model ds/model.safetensors flip prefix:7 0x80 | $predict --checkpoint $M 12
model | header is not valid JSON | model ds/model.safetensors flip header:0 0xff | $predict --checkpoint $M 12
model | header is not valid JSON | model ds/model.safetensors replace '"dtype"' '"dtype ' | $predict --checkpoint $M 12
model | tensor 'linear.bias' has shape [22] | model ds/model.safetensors replace '[12]' '[22]' | $predict --checkpoint $M 12
model | tensor '__m?tadata__' has no dtype string | model ds/model.safetensors replace __metadata__ $'__m\x85tadata__' | $predict --checkpoint $M 12
model | 8 trailing bytes | model ds/model.safetensors append 'trailing' | $predict --checkpoint $M 12
model | dtype F16; only F32 | model ds/model.safetensors dtype linear.bias F16 | $predict --checkpoint $M 12
model | ~ | model ds/model.safetensors flip data:lstm.weight_hh:3 0x80 | $predict --checkpoint $M 12
model | ~ | model ds/model.safetensors flip data:linear.weight:2 0x10 | $score --checkpoint $M
model | value of lstm.weight_hh[0] is nan | model ds/model.safetensors tensor lstm.weight_hh nan | $predict --checkpoint $M 12
model | value of linear.bias[0] is inf | model ds/model.safetensors tensor linear.bias inf | $score --checkpoint $M
model | tensor 'rnn.weight_ih' is missing | - | $predict --checkpoint $B/ds/model.safetensors --model rnn 12
model | tensor 'lstm.weight_ih' is missing | - | $predict --checkpoint $B/ds_rnn/model.safetensors 12
model | tensor 'lstm.weight_ih' has shape [32, 12], expected [36, 12] | - | digitsum predict --checkpoint $B/ds/model.safetensors --hidden 9 12
model | tensor 'rnn.weight_ih' has shape | - | $score --checkpoint $B/ds_rnn/model.safetensors --model rnn --hidden 16
model | tensor 'lstm.weight_ih' is missing | - | $predict --checkpoint $B/l1/model.safetensors 12
model | tensor 'lstm.weight_ih' has shape [16, 2], expected [16, 12] | - | digitsum predict --checkpoint $B/add_lstm/model.safetensors --hidden 4 12
model | tensor 'lstm.weight_ih' is missing | - | $predict --checkpoint $B/add/checkpoint.safetensors 12
model | model.safetensors: checksum mismatch: the file is damaged | model ds/model.safetensors unsigned flip data:lstm.weight_hh:3 0x80 | $predict --checkpoint $M 12
model | checksum mismatch: the file is damaged | model ds/model.safetensors unsigned fliptext '"hidden":"8"' 10 0x01 | $score --checkpoint $M
model | '__metadata__' appears twice in the header | model ds/model.safetensors replace '"lstm.bias_ih"' '"__metadata__"' | $predict --checkpoint $M 12
model | metadata key 'epochs' appears twice in the header | model ds/model.safetensors replace '"hidden"' '"epochs"' | $predict --checkpoint $M 12
checkpoint | file is truncated | edit_run l1 trunc prefix | $l1
checkpoint | header length | edit_run l1 trunc header | $l1
checkpoint | (file truncated or corrupt) | edit_run l1 trunc data | $l1
checkpoint | train.recent_loss' has data_offsets | edit_run l1 trunc last | $l1
checkpoint | is more than the | edit_run l1 flip prefix:2 0x01 | $l1
checkpoint | over the limit | edit_run l1 flip prefix:6 0x01 | $l1
checkpoint | header is not valid JSON (error near byte 0 | edit_run l1 flip header:0 0x01 | $l1
checkpoint | c/run | edit_run l1 flip header:20 0x80 | $l1
checkpoint | ~ | edit_run l1 flip data:rnn.weight_hh:3 0x80 | $l1
checkpoint | ~ | edit_run l1 flip data:train.recent_loss:399 0x40 | $l1
checkpoint | value of rnn.weight_hh[0] is nan | edit_run l1 tensor rnn.weight_hh nan | $l1
checkpoint | value of rnn.weight_ih[0] is inf | edit_run l1 tensor rnn.weight_ih inf | $l1
checkpoint | moments | edit_run l1 tensor optimizer.exp_avg_sq -1 | $l1
checkpoint | train.step -5 is out of range | edit_run l1 meta train.step -5 | $l1
checkpoint | metadata 'train.step' is 'abc', not an integer | edit_run l1 meta train.step abc | $l1
checkpoint | 'train.step' is '99999999999999999999', not an integer | edit_run l1 meta train.step 99999999999999999999 | $l1
checkpoint | metadata 'train.step' is missing | edit_run l1 nometa train.step | $l1
checkpoint | train.step 1000000 is out of range | edit_run l1 meta train.step 1000000 | $l1
checkpoint | 'train.rng.data' is '1,2', not STATE,INCREMENT (odd) | edit_run l1 meta train.rng.data 1,2 | $l1
checkpoint | 'train.rng.data' is 'x' | edit_run l1 meta train.rng.data x | $l1
checkpoint | 'train.rng.data' is '1,3,5' | edit_run l1 meta train.rng.data 1,3,5 | $l1
checkpoint | saved setting: --lr: 'abc' is not a finite number | edit_run l1 meta lr abc | $l1
checkpoint | saved setting: --lr: 'nan' | edit_run l1 meta lr nan | $l1
checkpoint | saved setting: --lr: '1?2' holds a control character | edit_run l1 meta lr $'1\n2' | $l1
checkpoint | saved setting: --init: 'w_ih=1?,w_hh=1' holds a control character | edit_run l1 meta init $'w_ih=1\n,w_hh=1' | $l1
checkpoint | saved setting: --seed: '-1' | edit_run l1 meta seed -1 | $l1
checkpoint | saved setting: --bias: '2' is not 0 or 1 | edit_run l1 meta bias 2 | $l1
checkpoint | saved setting: --max-steps: '1e30' | edit_run l1 meta max_steps 1e30 | $l1
checkpoint | saved setting: --lr: 'lr' is missing from the checkpoint | edit_run l1 nometa lr | $l1
checkpoint | was made with initial_w_ih=1?2 | edit_run l1 meta initial_w_ih $'1\n2' | $l1
checkpoint | is a 'adding' checkpoint, not one of l1norm | edit_run l1 meta demo adding | $l1
checkpoint | is a 'l1?norm' checkpoint | edit_run l1 meta demo $'l1\nnorm' | $l1
checkpoint | is not a training checkpoint | edit_run l1 nometa demo | $l1
checkpoint | holds 'sgd' state, not adam | edit_run l1 meta optimizer sgd | $l1
checkpoint | holds 'adam?' state, not adam | edit_run l1 meta optimizer $'adam\e' | $l1
checkpoint | optimizer.step -1 is negative | edit_run l1 meta optimizer.step -1 | $l1
checkpoint | --lr 0.01: the run in | copy_run l1 | $l1 --lr 0.01
checkpoint | is a 'adding' checkpoint, not one of l1norm | copy_run add | $l1
checkpoint | is a 'digitsum' checkpoint, not one of l1norm | copy_run ds | $l1
checkpoint | file is truncated | edit_run add trunc prefix | $add
checkpoint | header length | edit_run add trunc header | $add
checkpoint | (file truncated or corrupt) | edit_run add trunc data | $add
checkpoint | is more than the | edit_run add flip prefix:2 0x01 | $add
checkpoint | header is not valid JSON (error near byte 0 | edit_run add flip header:0 0x01 | $add
checkpoint | c/run | edit_run add flip header:40 0x80 | $add
checkpoint | ~ | edit_run add flip data:rnn.weight_hh:3 0x80 | $add
checkpoint | ~ | edit_run add flip data:optimizer.exp_avg:3 0x01 | $add
checkpoint | value of rnn.weight_hh[0] is nan | edit_run add tensor rnn.weight_hh nan | $add
checkpoint | value of linear.bias[0] is -inf | edit_run add tensor linear.bias -inf | $add
checkpoint | moments is inf | edit_run add tensor optimizer.exp_avg inf | $add
checkpoint | train.step -5 is out of range | edit_run add meta train.step -5 | $add
checkpoint | metadata 'train.step' is 'abc' | edit_run add meta train.step abc | $add
checkpoint | train.position -1 is out of range | edit_run add meta train.position -1 | $add
checkpoint | train.position 9999 is out of range | edit_run add meta train.position 9999 | $add
checkpoint | metadata 'train.stopped_early' is 'x' | edit_run add meta train.stopped_early x | $add
checkpoint | 'train.rng.order' is '1,2' | edit_run add meta train.rng.order 1,2 | $add
checkpoint | metadata 'train.rng.order' is missing | edit_run add nometa train.rng.order | $add
checkpoint | saved setting: --T: '1e9' | edit_run add meta T 1e9 | $add
checkpoint | saved setting: --hidden: '100000' | edit_run add meta hidden 100000 | $add
checkpoint | tensor 'rnn.weight_ih' has shape [4, 2], expected [16, 2] | edit_run add meta hidden 16 | $add
checkpoint | tensor 'lstm.weight_ih' is missing | edit_run add meta model lstm | $add
checkpoint | tensor 'rnn.weight_ih' is missing | edit_run add_lstm meta model irnn | $add
checkpoint | saved setting: --model: 'lstm?x' holds a control character | edit_run add meta model $'lstm\nx' | $add
checkpoint | --model: 'gru2' | edit_run add meta model gru2 | $add
checkpoint | holds 'adam' state, not sgd | edit_run add meta optim sgd | $add
checkpoint | holds 'sgd' state, not adam | edit_run add_sgd meta optim adam | $add
checkpoint | --model irnn: the run in | copy_run add_lstm | $add --model irnn
checkpoint | --hidden 5: the run in | copy_run add | $add --hidden 5
checkpoint | --T 11: the run in | copy_run add | $add --T=11
checkpoint | is a 'digitsum' checkpoint, not one of adding | copy_run ds | $add
checkpoint | is a 'l1norm' checkpoint, not one of adding | copy_run l1 | $add
checkpoint | file is truncated | edit_run ds trunc prefix | $ds
checkpoint | header length | edit_run ds trunc header | $ds
checkpoint | (file truncated or corrupt) | edit_run ds trunc data | $ds
checkpoint | over the limit | edit_run ds flip prefix:5 0x10 | $ds
checkpoint | header is not valid JSON (error near byte 0 | edit_run ds flip header:0 0x01 | $ds
checkpoint | c/run | edit_run ds flip header:100 0x80 | $ds
checkpoint | ~ | edit_run ds flip data:lstm.bias_ih:3 0x80 | $ds
checkpoint | ~ | edit_run ds flip data:optimizer.exp_avg_sq:3 0x80 | $ds
checkpoint | value of lstm.bias_ih[0] is -inf | edit_run ds tensor lstm.bias_ih -inf | $ds
checkpoint | value of linear.weight[0] is nan | edit_run ds tensor linear.weight nan | $ds
checkpoint | moments | edit_run ds tensor optimizer.exp_avg_sq nan | $ds
checkpoint | train.epoch -5 is out of range | edit_run ds meta train.epoch -5 | $ds
checkpoint | train.epoch 4 is out of range | edit_run ds meta train.epoch 4 | $ds
checkpoint | metadata 'train.epoch' is '' | edit_run ds meta train.epoch '' | $ds
checkpoint | does not reach the saved data order | edit_run ds meta train.epoch 2 | $ds
checkpoint | 'train.rng.order' is 'x' | edit_run ds meta train.rng.order x | $ds
checkpoint | does not reach the saved data order | edit_run ds meta train.rng.order 1,3 | $ds
checkpoint | saved setting: --lr: 'abc' | edit_run ds meta lr abc | $ds
checkpoint | saved setting: --split: '2' | edit_run ds meta split 2 | $ds
checkpoint | saved setting: --data: the value is empty | edit_run ds meta data '' | $ds
checkpoint | nowhere.csv: cannot open | edit_run ds meta data $F/nowhere.csv | $ds
checkpoint | saved setting: --data: | edit_run ds meta data $'/tmp/x\n.csv' | $ds
checkpoint | tensor 'rnn.weight_ih' is missing | edit_run ds meta model rnn | $ds
checkpoint | --model: 'gru' is not one of rnn, lstm | edit_run ds meta model gru | $ds
checkpoint | tensor 'lstm.weight_ih' has shape [32, 12], expected [64, 12] | edit_run ds meta hidden 16 | $ds
checkpoint | crlf.csv does not reach the saved data order | edit_run ds meta data $F/crlf.csv | $ds
checkpoint | --data $F/crlf.csv: the run in | copy_run ds | $ds --data $F/crlf.csv
checkpoint | --hidden 16: the run in | copy_run ds | $ds --hidden 16
checkpoint | is a 'l1norm' checkpoint, not one of digitsum | copy_run l1 | $ds
checkpoint | is a 'adding' checkpoint, not one of digitsum | copy_run add_lstm | $ds
checkpoint | checkpoint.safetensors: checksum mismatch: the file is damaged (CRC-32C | edit_run l1 unsigned replace '"train.step":"50"' '"train.step":"20"' | $l1
checkpoint | checksum mismatch: the file is damaged | edit_run l1 unsigned meta train.step 20 | $l1
checkpoint | checksum mismatch: the file is damaged | edit_run l1 unsigned fliptext '"train.step":"' 14 0x01 | $l1
checkpoint | checksum mismatch: the file is damaged | edit_run l1 unsigned flip data:rnn.weight_hh:3 0x80 | $l1
checkpoint | checksum mismatch: the file is damaged | edit_run l1 unsigned flip data:train.recent_loss:399 0x01 | $l1
checkpoint | metadata key 'ag.crc32b' is a damaged 'ag.crc32c' (one bit off) | edit_run l1 unsigned fliptext '"ag.crc32c"' 9 0x01 | $l1
checkpoint | not 8 lowercase hex digits: the file is damaged | edit_run l1 unsigned fliptext '"ag.crc32c":"' 13 0x20 | $l1
checkpoint | $C/run/checkpoint.safetensors belongs to run {id:l1_other} but $C/run/params.csv to run {id:l1} (a checkpoint copied from another run?) | copy_run l1; cp $B/l1_other/checkpoint.safetensors $R/ | $l1
checkpoint | checksum mismatch: the file is damaged | edit_run add unsigned meta train.step 10 | $add
checkpoint | checksum mismatch: the file is damaged | edit_run add unsigned fliptext '"T":"10"' 5 0x01 | $add
checkpoint | checksum mismatch: the file is damaged | edit_run add unsigned flip data:rnn.weight_hh:3 0x80 | $add
checkpoint | checksum mismatch: the file is damaged | edit_run add unsigned flip data:optimizer.exp_avg:3 0x01 | $add
checkpoint | belongs to run {id:add_other} but $C/run/params.csv to run {id:add} (a checkpoint copied | copy_run add; cp $B/add_other/checkpoint.safetensors $R/ | $add
checkpoint | checkpoint.safetensors has no run id but $C/run/params.csv belongs to run {id:add} | edit_run add nometa ag.run_id | $add
checkpoint | checkpoint.safetensors belongs to run {id:add} but $C/run/params.csv has no run id | copy_run add; sed -i '/^"run_id",/d' $R/params.csv | $add
checkpoint | params.csv: run_id 'xyz' is not 16 hex digits | copy_run add; sed -i 's/^"run_id",.*/"run_id","xyz"/' $R/params.csv | $add
checkpoint | ag.run_id '12' is not 16 hex digits | edit_run add meta ag.run_id 12 | $add
checkpoint | belongs to run {id:ds_other} but $C/run/params.csv to run {id:ds} (a checkpoint copied | copy_run ds; cp $B/ds_other/checkpoint.safetensors $R/ | $ds
checkpoint | checksum mismatch: the file is damaged | edit_run ds unsigned meta train.epoch 2 | $ds
checkpoint | checksum mismatch: the file is damaged | edit_run ds unsigned flip data:lstm.bias_ih:3 0x80 | $ds
metrics | line 4: step '2' is not an integer above the previous row's | metrics l1 swap | $l1
metrics | the header's column 2 is 'lost', expected 'loss' | metrics l1 header | $l1
metrics | line 2 has 5 fields, expected 4 | metrics l1 extra-column | $l1
metrics | line 2: step 'x' | metrics l1 step-not-number | $l1
metrics | metrics.csv: no header line | metrics l1 empty | $l1
metrics | metrics.csv: cannot open: No such file | metrics l1 missing | $l1
metrics | metrics.csv: cannot read: Is a directory | metrics l1 directory | $l1
metrics | line 52: step '1' | metrics l1 duplicate | $l1
metrics | ends at step 49, before the checkpoint's step 50 | metrics l1 last-row-gone | $l1
metrics | has no rows, but the checkpoint is at step 50 | metrics l1 header-only | $l1
metrics | the header's column 1 is 'st?ep' | metrics l1 newline-in-header | $l1
metrics | metrics.csv: | metrics l1 open-quote | $l1
metrics | =ok | metrics l1 crlf | $l1
metrics | line 4: step '1' | metrics add swap | $add
metrics | the header's column 2 is 'lost' | metrics add header | $add
metrics | line 2 has 5 fields | metrics add extra-column | $add
metrics | metrics.csv: no header line | metrics add empty | $add
metrics | metrics.csv: cannot open | metrics add missing | $add
metrics | before the checkpoint's step 20 | metrics add last-row-gone | $add
metrics | has no rows | metrics add header-only | $add
metrics | line 3, column 2: 'abc' is not a number | metrics add value-not-number | $add
metrics | line 3, column 2: 'abc' is not a number | metrics l1 value-not-number | $l1
metrics | metrics.csv: | metrics add open-quote | $add
metrics | line 4: step '2' | metrics ds swap | $ds
metrics | the header's column 2 is 'lost' | metrics ds header | $ds
metrics | line 2 has 6 fields, expected 5 | metrics ds extra-column | $ds
metrics | metrics.csv: no header line | metrics ds empty | $ds
metrics | metrics.csv: cannot open | metrics ds missing | $ds
metrics | metrics.csv: cannot read: Is a directory | metrics ds directory | $ds
metrics | line 5: step '1' | metrics ds duplicate | $ds
metrics | ends at step 2, before the checkpoint's step 3 | metrics ds last-row-gone | $ds
metrics | has no rows, but the checkpoint is at step 3 | metrics ds header-only | $ds
metrics | the header's column 1 is 'st?ep' | metrics ds newline-in-header | $ds
files | $F/hi?/checkpoint.safetensors: cannot open: No such file | - | l1norm --resume $F/hi$'\xe9'
files | the run goes on in $F/hi?) | - | adding --run-dir $C/x --resume $F/hi$'\xe9'
files | $F/hi?.csv: cannot open: No such file | - | digitsum train --data $F/hi$'\xe9'.csv
files | $F/hi?.safetensors: cannot open: No such file | - | $predict --checkpoint $F/hi$'\xe9'.safetensors 12
files | $F/hi?/x.csv: cannot create temporary file $F/hi?/x.csv.tmp. | - | digitsum gen-data --len 2 --out $F/hi$'\xe9'/x.csv
files | 0 validation rows of $F/../c/d?.csv | cp $F/d.csv $C/d$'\xe9'.csv | digitsum train --data $F/../c/d$'\xe9'.csv --split 1
files | r?n was made with lr=0.001; a resumed run keeps its settings | copy_run l1; mv $R $C/r$'\xe9'n | l1norm --resume $C/r$'\xe9'n --lr 0.5
files | r?n: replaying 2 epochs of | edit_run ds meta train.epoch 2; mv $R $C/r$'\xe9'n | digitsum train --resume $C/r$'\xe9'n --quiet
files | m?.safetensors: value of linear.bias[0] is inf | model ds/model.safetensors tensor linear.bias inf; mv $M $C/m$'\xe9'.safetensors | $predict --checkpoint $C/m$'\xe9'.safetensors 12
flags | stdin:1: '0000000000000000000000000000000000000000...': a sequence has 300 digits | stdin=$(printf %0300d 7) | $predict --checkpoint $B/ds/model.safetensors -
model | model.safetensors: loss nan, accuracy 0 on $F/d.csv: no score | model ds/model.safetensors tensor lstm.weight_ih 1e38; st $M tensor lstm.weight_hh 1e38; st $M tensor linear.weight 1e38 | $score --checkpoint $M
checkpoint | ag_adam_load: optimizer.step 9223372036854775807 is beyond 2^53 | edit_run l1 meta optimizer.step 9223372036854775807 | $l1
checkpoint | ag_sgd_load: optimizer.step 9007199254740993 is beyond 2^53 | edit_run add_sgd meta optimizer.step 9007199254740993 | $add
checkpoint | $F/d_other.csv holds other rows than the run was trained on (fingerprint | edit_run ds meta data $F/d_other.csv | $ds
checkpoint | metadata 'train.data_fingerprint' is 'xyz', not 16 hex digits | edit_run ds meta train.data_fingerprint xyz | $ds
checkpoint | =ok | edit_run ds nometa train.data_fingerprint | $ds
flags | give a command | - | charlm
flags | unknown command 'frob' | - | charlm frob
flags | unknown command 'TRAIN' | - | charlm TRAIN
flags | unknown command '--bogus' | - | charlm --bogus
flags | unknown flag '--bogus' | - | charlm train --bogus
flags | unknown flag '--bogus' | - | charlm sample --bogus
flags | --data needs a value | - | charlm train --data
flags | --data: the value is empty | - | $clt --data ''
flags | --seq-len needs a value (got the flag '--quiet') | - | $clt --data $F/text.txt --seq-len --quiet
flags | --seq-len: '0' must be >= 1 | - | $clt --data $F/text.txt --seq-len 0
flags | --seq-len: '100001' | - | $clt --data $F/text.txt --seq-len 100001
flags | --batch: '0' | - | $clt --data $F/text.txt --batch 0
flags | --batch: '65537' | - | $clt --data $F/text.txt --batch 65537
flags | --batch: '1.5' is not an integer | - | $clt --data $F/text.txt --batch 1.5
flags | --layers: '0' must be >= 1 and <= 8 | - | $clt --data $F/text.txt --layers 0
flags | --layers: '9' must be >= 1 and <= 8 | - | $clt --data $F/text.txt --layers 9
flags | --dropout: '1' | - | $clt --data $F/text.txt --dropout 1
flags | --dropout: 'nan' | - | $clt --data $F/text.txt --dropout nan
flags | --dropout: '-0.1' | - | $clt --data $F/text.txt --dropout -0.1
flags | --lr: 'inf' | - | $clt --data $F/text.txt --lr inf
flags | --lr: '0' must be > 0 | - | $clt --data $F/text.txt --lr 0
flags | --clip: 'nan' | - | $clt --data $F/text.txt --clip nan
flags | --hidden: '100000' | - | $clt --data $F/text.txt --hidden 100000
flags | --hidden: '0' | - | $clt --data $F/text.txt --hidden 0
flags | --embed: '0' | - | $clt --data $F/text.txt --embed 0
flags | --epochs: '0' | - | $clt --data $F/text.txt --epochs 0
flags | --steps: '-1' | - | $clt --data $F/text.txt --steps -1
flags | --steps: '1e30' | - | $clt --data $F/text.txt --steps 1e30
flags | --eval-every: '0' | - | $clt --data $F/text.txt --eval-every 0
flags | --seed: '-1' | - | $clt --data $F/text.txt --seed -1
flags | --threads: '65' | - | $clt --data $F/text.txt --threads 65
flags | --checkpoint-every: '0' | - | $clt --data $F/text.txt --checkpoint-every 0
flags | unexpected argument 'extra' | - | $clt --data $F/text.txt extra
flags | --run-dir: not with --resume | - | charlm train --run-dir $C/x --resume $B/cl
flags | a step of --batch 4096 --seq-len 100: ag_arena_alloc: out of memory | - | $clt --data $F/big.txt --hidden 1024 --batch 4096 --seq-len 100
flags | --checkpoint is required | - | charlm sample
flags | --checkpoint needs a value | - | charlm sample --checkpoint
flags | --length: '-1' | - | $cls $B/cl/model.safetensors --length -1
flags | --length: '100000001' | - | $cls $B/cl/model.safetensors --length 100000001
flags | --length: '1.5' is not an integer | - | $cls $B/cl/model.safetensors --length 1.5
flags | --temperature: '-1' | - | $cls $B/cl/model.safetensors --temperature -1
flags | --temperature: 'nan' | - | $cls $B/cl/model.safetensors --temperature nan
flags | --temperature: 'inf' | - | $cls $B/cl/model.safetensors --temperature inf
flags | --temperature: '101' | - | $cls $B/cl/model.safetensors --temperature 101
flags | --seed: '4294967296' | - | $cls $B/cl/model.safetensors --seed 4294967296
flags | --threads: '65' | - | $cls $B/cl/model.safetensors --threads 65
flags | unexpected argument 'x' | - | $cls $B/cl/model.safetensors x
flags | --prime: byte 'Z' at position 4 is not in the model's vocabulary (27 bytes) | - | $cls $B/cl/model.safetensors --prime theZ
flags | --prime: byte 0x0a at position 4 is not in the model's vocabulary (26 bytes) | - | $cls $B/cl_flat/model.safetensors --prime $'the\ncat'
flags | --prime: byte 0xe9 at position 1 | - | $cls $B/cl/model.safetensors --prime $'\xe9t'
flags | --prime: byte 0x1b at position 2 | - | $cls $B/cl/model.safetensors --prime $'t\e[31m'
flags | --prime: the value is empty | - | $cls $B/cl/model.safetensors --prime ''
files | $F/nowhere.txt: No such file | - | $clt --data $F/nowhere.txt
files | $F/dir: a directory with no text file in it | - | $clt --data $F/dir
files | $F/links: a directory with no text file in it | - | $clt --data $F/links
files | $F/empty.csv: the text is empty | - | $clt --data $F/empty.csv
files | --data $F/one.txt: 1 bytes are too short | - | $clt --data $F/one.txt
files | --data $F/short.txt: 19 bytes are too short: the training text (90%, 17 bytes) cut into --batch 2 streams must give each at least --seq-len 8 + 1 bytes, and the validation text (the rest) 2 bytes: a text of at least 20 bytes | - | $clt --data $F/short.txt
files | 938 bytes are too short: the training text (90%, 844 bytes) cut into --batch 100 streams | - | $clt --data $F/text.txt --batch 100
files | $F/unreadable.csv: Permission denied | - | other $clt --data $F/unreadable.csv
files | $C/texts: Permission denied | mkdir $C/texts; cp $F/text.txt $C/texts/; chmod 000 $C/texts | other $clt --data $C/texts
files | $C/texts/text.txt: Permission denied | mkdir $C/texts; cp $F/text.txt $C/texts/; chmod 000 $C/texts/text.txt | other $clt --data $C/texts
files | =ok | fifo "$(<$F/text.txt)" | $clt --data $FIFO --run-dir $C/x
files | --data: /dev/zero: is a device, not a text file | - | $clt --data /dev/zero
files | d.csv exists and is not a directory | - | $clt --data $F/text.txt --run-dir $F/d.csv
files | already holds a run (metrics.csv) | - | $clt --data $F/text.txt --run-dir $B/cl
files | readonly/run: Permission denied | - | other $clt --data $F/text.txt --run-dir $F/readonly/run
files | nowhere/checkpoint.safetensors: cannot open: No such file | - | charlm train --resume $F/nowhere
files | empty_run: no checkpoint.safetensors there | - | charlm train --resume $F/empty_run
files | dir_checkpoint/checkpoint.safetensors: is a directory | - | charlm train --resume $F/dir_checkpoint
files | fifo_checkpoint/checkpoint.safetensors: is something else | - | charlm train --resume $F/fifo_checkpoint
files | empty_checkpoint/checkpoint.safetensors: file is empty | - | charlm train --resume $F/empty_checkpoint
files | checkpoint.safetensors: cannot open: Permission denied | copy_run cl; chmod 000 $R/checkpoint.safetensors | other $cl
files | Permission denied | copy_run cl; chmod 555 $R | other $cl
files | --resume $C/run: the run's text (its --data): $C/gone.txt: No such file | edit_run cl meta data $C/gone.txt | $cl
files | nowhere.safetensors: cannot open: No such file | - | $cls $F/nowhere.safetensors
files | dir: is a directory, not a regular file | - | $cls $F/dir
files | empty.csv: file is empty | - | $cls $F/empty.csv
files | fifo: is something else, not a regular file | - | $cls $F/fifo
files | text.txt: header length | - | $cls $F/text.txt
files | unreadable.csv: cannot open: Permission denied | - | other $cls $F/unreadable.csv
model | file is truncated: 4 bytes | model cl/model.safetensors trunc prefix | $cls $M
model | header length | model cl/model.safetensors trunc header | $cls $M
model | (file truncated or corrupt) | model cl/model.safetensors trunc data | $cls $M
model | has data_offsets | model cl/model.safetensors trunc last | $cls $M
model | over the limit | model cl/model.safetensors flip prefix:7 0x80 | $cls $M
model | header is not valid JSON | model cl/model.safetensors flip header:0 0xff | $cls $M
model | dtype F16; only F32 | model cl/model.safetensors dtype linear.bias F16 | $cls $M
model | 8 trailing bytes | model cl/model.safetensors append 'trailing' | $cls $M
model | ~ | model cl/model.safetensors flip data:lstm.weight_hh_l1:3 0x80 | $cls $M
model | ~ | model cl/model.safetensors flip data:embed.weight:2 0x10 | $cls $M
model | ~ | model cl/model.safetensors flip data:linear.bias:3 0x40 | $cls $M
model | checksum mismatch: the file is damaged | model cl/model.safetensors unsigned flip data:linear.weight:3 0x80 | $cls $M
model | checksum mismatch: the file is damaged | model cl/model.safetensors unsigned meta hidden 16 | $cls $M
model | value of lstm.weight_hh_l0[0] is nan | model cl/model.safetensors tensor lstm.weight_hh_l0 nan | $cls $M
model | value of linear.bias[0] is inf | model cl/model.safetensors tensor linear.bias inf | $cls $M
model | value of embed.weight[0] is -inf | model cl/model.safetensors tensor embed.weight -inf | $cls $M
model | a model of 'adding', not of charlm | - | $cls $B/add/model.safetensors
model | a model of 'digitsum', not of charlm | - | $cls $B/ds/model.safetensors
model | a model of 'l1norm', not of charlm | - | $cls $B/l1/model.safetensors
model | a model of 'digitsum', not of charlm | - | $cls $B/ds/checkpoint.safetensors
model | not a charlm model (no 'demo' in its metadata) | model cl/model.safetensors nometa demo | $cls $M
model | a model of 'charlm?' | model cl/model.safetensors meta demo $'charlm\n' | $cls $M
model | the vocabulary holds 3 hex digits | model cl/model.safetensors meta vocab 0a2 | $cls $M
model | the vocabulary holds 0 hex digits | model cl/model.safetensors meta vocab '' | $cls $M
model | its metadata has no 'vocab' | model cl/model.safetensors nometa vocab | $cls $M
model | the vocabulary holds 514 hex digits | model cl/model.safetensors meta vocab $(printf %02x {0..255})ff | $cls $M
model | the vocabulary has 'zz' at 2 | model cl/model.safetensors replace '"vocab":"0a20' '"vocab":"0azz' | $cls $M
model | the vocabulary has '0A' at 0 | model cl/model.safetensors replace '"vocab":"0a' '"vocab":"0A' | $cls $M
model | not in increasing order at byte 1 | model cl/model.safetensors replace '"vocab":"0a20' '"vocab":"200a' | $cls $M
model | not in increasing order at byte 1 | model cl/model.safetensors replace '"vocab":"0a20' '"vocab":"0a0a' | $cls $M
model | (vocabulary 19 bytes, embed 4, hidden 8, layers 2) do not fit its tensors: | model cl/model.safetensors meta vocab 0a202e30313233343536373839616364656768 | $cls $M
model | tensor 'embed.weight' has shape [27, 4], expected [28, 4] | model cl/model.safetensors meta vocab 0a202e303132333435363738396163646567686c6d6e6f7273747576 | $cls $M
model | (vocabulary 27 bytes, embed 4, hidden 16, layers 2) make a model of 16604 bytes, more than the file's 6764 | model cl/model.safetensors meta hidden 16 | $cls $M
model | (vocabulary 27 bytes, embed 4, hidden 4, layers 2) do not fit its tensors: ag_checkpoint_read_params: $C/model.safetensors: tensor 'lstm.weight_ih_l0' has shape [32, 4], expected [16, 4] | model cl/model.safetensors meta hidden 4 | $cls $M
model | --checkpoint $C/model.safetensors: its metadata has no 'hidden' | model cl/model.safetensors nometa hidden | $cls $M
model | its metadata's 'hidden' is '0', not an integer in 1..4096 | model cl/model.safetensors meta hidden 0 | $cls $M
model | 'hidden' is '-1', not | model cl/model.safetensors meta hidden -1 | $cls $M
model | 'hidden' is '1e12', not | model cl/model.safetensors meta hidden 1e12 | $cls $M
model | 'hidden' is '1000000000000', not | model cl/model.safetensors meta hidden 1000000000000 | $cls $M
model | 'hidden' is '99999999999999999999', not | model cl/model.safetensors meta hidden 99999999999999999999 | $cls $M
model | 'hidden' is 'eight', not | model cl/model.safetensors meta hidden eight | $cls $M
model | 'hidden' is '', not | model cl/model.safetensors meta hidden '' | $cls $M
model | 'layers' is '0', not an integer in 1..8 | model cl/model.safetensors meta layers 0 | $cls $M
model | 'layers' is '9', not an integer in 1..8 | model cl/model.safetensors meta layers 9 | $cls $M
model | its metadata has no 'layers' | model cl/model.safetensors nometa layers | $cls $M
model | (vocabulary 27 bytes, embed 4, hidden 8, layers 3) make a model of 7804 bytes | model cl/model.safetensors meta layers 3 | $cls $M
model | tensor 'lstm.weight_ih_l2' is missing | model cl/checkpoint.safetensors meta layers 3 | $cls $M
model | it holds tensor 'lstm.weight_ih_l1', of a layer past its 'layers' 1 | model cl/model.safetensors meta layers 1 | $cls $M
model | 'embed' is '-1', not an integer in 1..4096 | model cl/model.safetensors meta embed -1 | $cls $M
model | its metadata has no 'embed' | model cl/model.safetensors nometa embed | $cls $M
model | tensor 'embed.weight' has shape [27, 4], expected [27, 8] | model cl/model.safetensors meta embed 8 | $cls $M
model | its settings (vocabulary 27 bytes, embed 4096, hidden 4096, layers 8) make a model of 4296900716 bytes, more than the file's | model cl/model.safetensors meta embed 4096; st $M meta hidden 4096; st $M meta layers 8 | $cls $M
model | tensor 'lstm.weight_hh_l1' is missing | model cl/model.safetensors replace '"lstm.weight_hh_l1"' '"lstm.weight_hh_l9"' | $cls $M
model | tensor 'embed.weight' is missing | model cl/model.safetensors replace '"embed.weight"' '"embed.weighs"' | $cls $M
model | =ok | - | $cls $B/cl/checkpoint.safetensors
checkpoint | is a 'adding' checkpoint, not one of charlm | copy_run add | $cl
checkpoint | is a 'digitsum' checkpoint, not one of charlm | copy_run ds | $cl
checkpoint | is a 'l1norm' checkpoint, not one of charlm | copy_run l1 | $cl
checkpoint | is a 'charlm' checkpoint, not one of digitsum | copy_run cl | $ds
checkpoint | belongs to run {id:cl_other} but $C/run/params.csv to run {id:cl} (a checkpoint copied | copy_run cl; cp $B/cl_other/checkpoint.safetensors $R/ | $cl
checkpoint | belongs to run {id:cl_flat} but $C/run/params.csv to run {id:cl} | copy_run cl; cp $B/cl_flat/checkpoint.safetensors $R/ | $cl
checkpoint | file is truncated | edit_run cl trunc prefix | $cl
checkpoint | header length | edit_run cl trunc header | $cl
checkpoint | (file truncated or corrupt) | edit_run cl trunc data | $cl
checkpoint | has data_offsets | edit_run cl trunc last | $cl
checkpoint | saved setting: --layers: '?' | edit_run cl fliptext '"layers":"2"' 10 0x80 | $cl
checkpoint | ~ | edit_run cl flip data:lstm.weight_hh_l0:3 0x80 | $cl
checkpoint | ~ | edit_run cl flip data:train.state.c:3 0x40 | $cl
checkpoint | ~ | edit_run cl flip data:optimizer.exp_avg:3 0x01 | $cl
checkpoint | checksum mismatch: the file is damaged | edit_run cl unsigned flip data:train.state.h:3 0x80 | $cl
checkpoint | checksum mismatch: the file is damaged | edit_run cl unsigned meta train.rng.dropout 1,3 | $cl
checkpoint | value of lstm.weight_ih_l1[0] is nan | edit_run cl tensor lstm.weight_ih_l1 nan | $cl
checkpoint | moments | edit_run cl tensor optimizer.exp_avg_sq nan | $cl
checkpoint | value of train.state.h[0] is nan | edit_run cl tensor train.state.h nan | $cl
checkpoint | value of train.state.c[0] is inf | edit_run cl tensor train.state.c inf | $cl
checkpoint | 'train.state.h' is missing | edit_run cl replace '"train.state.h"' '"train.state.x"' | $cl
checkpoint | 'train.state.c' is missing | edit_run cl replace '"train.state.c"' '"train.state.x"' | $cl
checkpoint | train.state.h | edit_run cl meta batch 4 | $cl
checkpoint | metadata 'train.rng.dropout' is 'x' | edit_run cl meta train.rng.dropout x | $cl
checkpoint | 'train.rng.dropout' is '1,2', not STATE,INCREMENT (odd) | edit_run cl meta train.rng.dropout 1,2 | $cl
checkpoint | metadata 'train.rng.dropout' is missing | edit_run cl nometa train.rng.dropout | $cl
checkpoint | train.step -5 is out of range | edit_run cl meta train.step -5 | $cl
checkpoint | train.step 7 is out of range | edit_run cl meta train.step 7 | $cl
checkpoint | saved setting: --hidden: '100000' | edit_run cl meta hidden 100000 | $cl
checkpoint | saved setting: --dropout: '1' | edit_run cl meta dropout 1 | $cl
checkpoint | saved setting: --seq-len: '0' | edit_run cl meta seq_len 0 | $cl
checkpoint | saved setting: --data: the value is empty | edit_run cl meta data '' | $cl
checkpoint | tensor 'lstm.weight_ih_l0' has shape [32, 4], expected [64, 4] | edit_run cl meta hidden 16 | $cl
checkpoint | tensor 'lstm.weight_ih_l2' is missing | edit_run cl meta layers 3 | $cl
checkpoint | tensor 'optimizer.exp_avg' has shape [1375], expected [799] | edit_run cl meta layers 1 | $cl
checkpoint | --hidden 16: the run in | copy_run cl | $cl --hidden 16
checkpoint | --data $F/text_flat.txt: the run in | copy_run cl | $cl --data $F/text_flat.txt
checkpoint | the text in $C/text.txt is not the one the run began on (then 938 bytes, fingerprint 656223ec80c52dc0; now 938 bytes, fingerprint d2ecc22d7648dfa4): a run goes on with the text it began with | edit_run cl meta data $C/text.txt; sed 's/cat/act/g' $F/text.txt >$C/text.txt | $cl
checkpoint | the text in $C/text.txt is not the one the run began on (then 938 bytes, fingerprint 656223ec80c52dc0; now 947 bytes | edit_run cl meta data $C/text.txt; { cat $F/text.txt; echo the end.; } >$C/text.txt | $cl
checkpoint | the text in $C/text.txt is not the one the run began on | edit_run cl meta data $C/text.txt; sed 's/cat/cXt/' $F/text.txt >$C/text.txt | $cl
checkpoint | the text in $F/text_flat.txt is not the one the run began on | edit_run cl meta data $F/text_flat.txt | $cl
checkpoint | metadata 'data_fingerprint' is 'xyz', not 16 hex digits | edit_run cl meta data_fingerprint xyz | $cl
checkpoint | was made with vocab=0a2, this run has vocab=0a202e | edit_run cl meta vocab 0a2 | $cl
checkpoint | =ok | edit_run cl nometa data_fingerprint | $cl
checkpoint | =ok | copy_run cl | $cl
checkpoint | the checkpoint holds no optimizer state, not adam | copy_run cl; cp $R/model.safetensors $R/checkpoint.safetensors | $cl
checkpoint | --steps 20: the run in $C/run was made with steps=6; a resumed run keeps its settings | copy_run cl | $cl --steps 20
metrics | line 4: step '1' is not an integer above the previous row's | metrics cl swap | $cl
metrics | the header's column 2 is 'lost', expected 'loss' | metrics cl header | $cl
metrics | line 2 has 6 fields, expected 5 | metrics cl extra-column | $cl
metrics | line 2: step 'x' | metrics cl step-not-number | $cl
metrics | metrics.csv: no header line | metrics cl empty | $cl
metrics | metrics.csv: cannot open: No such file | metrics cl missing | $cl
metrics | metrics.csv: cannot read: Is a directory | metrics cl directory | $cl
metrics | line 9: step '0' | metrics cl duplicate | $cl
metrics | ends at step 5, before the checkpoint's step 6 | metrics cl last-row-gone | $cl
metrics | has no rows, but the checkpoint is at step 6 | metrics cl header-only | $cl
metrics | the header's column 1 is 'st?ep' | metrics cl newline-in-header | $cl
metrics | metrics.csv: | metrics cl open-quote | $cl
metrics | line 3, column 2: 'abc' is not a number | metrics cl value-not-number | $cl
metrics | =ok | metrics cl crlf | $cl
EOF
)

# ------------------------------------------------------------ the loop
# Forks are slow here (about 10 ms), so the loop makes few: builtins for
# the checks, one `find` a case for what changed.
trim() { # trim NAME: strips the variable's surrounding whitespace
  local -n v=$1
  v=${v#"${v%%[![:space:]]*}"}
  v=${v%"${v##*[![:space:]]}"}
}
[ "$vmem" = unlimited ] || ulimit -v "$vmem"
cd "$work" || exit 1
declare -A count
n_cases=0 skipped=0
while IFS='|' read -r category token prep command; do
  trim category && trim token && trim prep && trim command
  [ -z "$category" ] && continue
  n_cases=$((n_cases + 1))
  R= M= FIFO= stdin= changed= code=1
  [ "$prep" = - ] || eval "$prep" </dev/null || fail "[$category] $command: the preparation '$prep' failed"
  eval "set -- $command"
  runner=()
  if [ "$1" = other ]; then
    shift
    runner=("${as_other[@]}")
  fi
  if [ "${runner[*]}" = skip ] || { [ "$vmem" = unlimited ] && [[ $token == *"out of memory"* ]]; }; then
    skipped=$((skipped + 1))
  else
    count[$category]=$((${count[$category]:-0} + 1))
    program=$1
    shift
    printf -v what '%q ' "$@"
    what="[$category] $program ${what//"$tmp"/\$tmp}"
    # $log/in, written last before the run, is the mark: whatever changes
    # under $tmp after it (but in the log, and the FIFOs, which reading
    # changes), the program changed.
    printf '%s' "$stdin" >"$log/in"
    timeout 20 "${runner[@]}" "$bin/$program" "$@" <"$log/in" >"$log/out" 2>"$log/err"
    code=$?
    changed=$(find "$tmp" \( -path "$log" -o -type p \) -prune -o -cnewer "$log/in" -print)
    mapfile -t err <"$log/err"
    first=${err[0]:-}
    [ -z "${BAD_INPUT_SHOW:-}" ] || echo "$what-> $code: ${first//"$tmp"/\$tmp}"
    if [ "$token" = "=ok" ]; then
      expect "$what exits with 0 (got $code: ${err[*]:0:3})" [ "$code" -eq 0 ]
    elif [ "${token:0:1}" = "~" ] && [ "$code" -eq 0 ]; then
      pass # the damage left a valid file, and the program ran on it
    else
      token=${token#"~"}
      token=${token//"\$F"/$F}
      token=${token//"\$C"/$C}
      for k in "${!run_id[@]}"; do token=${token//"{id:$k}"/${run_id[$k]}}; done
      expect "$what exits with a code in 1..127 (got $code)" [ "$code" -gt 0 -a "$code" -lt 128 ]
      if [ "${#err[@]}" -eq 1 ] && [ -n "$first" ] && ! [[ $first =~ [^\ -~] ]]; then pass; else
        fail "$what prints exactly one line of printable ASCII on stderr (got ${#err[@]} lines):"
        cat -A "$log/err" | show
      fi
      [ -z "$token" ] || expect "$what names '$token': '$first'" [ -n "$first" -a -z "${first##*"$token"*}" ]
      if [ -z "$changed" ]; then pass; else
        fail "$what (prepared by '$prep') changes files under \$tmp:"
        echo "${changed//"$tmp"/\$tmp}" | show
      fi
    fi
  fi
  # A fresh $C and $work for the next case.
  if [ "$prep" != - ] || [ -n "$changed" ] || [ "$code" -eq 0 ]; then
    [[ $prep != *chmod* ]] || chmod -R u+rwX "$C"
    find "$C" "$work" -mindepth 1 -delete
  fi
done <<<"$table"
leftovers=$(find "$tmp" -name '*.tmp.*')
expect "no temporary file is left anywhere (${leftovers//"$tmp"/\$tmp})" [ -z "$leftovers" ]

summary_line="$check_name: $n_cases cases:"
for category in flags files csv model checkpoint metrics; do summary_line+=" $category ${count[$category]:-0}"; done
[ "$skipped" -gt 0 ] && summary_line+=", $skipped skipped"
echo "$summary_line"
finish
