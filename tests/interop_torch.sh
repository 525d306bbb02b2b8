#!/usr/bin/env bash
# ag's checkpoints in PyTorch: the demos train briefly (bin/l1norm with and
# without bias, bin/adding with each model, bin/digitsum with each model)
# and write RUN/model.safetensors; tests/interop_torch.c loads each into the
# demo's model and prints fixed inputs (variable lengths) and ag's outputs;
# tests/interop_torch.py loads the same file with docs/load_in_pytorch.py
# into the matching torch module, built from the run's metadata, and checks
# that PyTorch gives ag's outputs (1e-5 relative). Needs PyTorch in
# /usr/bin/python3 (or $AG_TEST_PYTHON); without it the test says so and
# passes. Assumes `make` has built build/libag.a and bin/ (make check builds
# them first). About 7 s.
check_name=interop_torch
. "$(dirname "$0")/check_common.bash"
python=${AG_TEST_PYTHON:-/usr/bin/python3}  # another interpreter, to try the skip

if ! "$python" -c 'import torch' >/dev/null 2>&1; then
  echo "$check_name: SKIP: PyTorch is not installed for $python (Debian package python3-torch)"
  exit 0
fi
for f in build/libag.a bin/l1norm bin/adding bin/digitsum; do
  if [ ! -e "$f" ]; then
    fail "$f is missing (run make)"
    finish
  fi
done

# The dump program, built as the Makefile builds the tests.
if ${CC:-cc} -D_POSIX_C_SOURCE=200809L -Iframework/include -I/usr/include/x86_64-linux-gnu -Imodels -std=c11 -O2 -Wall -Wextra -Wpedantic -Wshadow \
  tests/interop_torch.c models/*.c build/libag.a -lopenblas -lcjson -lcsv -lm -lpthread \
  -o "$tmp/interop_torch" 2>"$tmp/cc.err" && [ ! -s "$tmp/cc.err" ]; then pass; else
  fail "tests/interop_torch.c compiles without warnings:"
  show "$tmp/cc.err"
  finish
fi

# run NAME DEMO ARGS...: trains DEMO into $tmp/NAME with a few steps.
runs=()
run() {
  local name=$1 demo=$2
  shift 2
  if (cd "$tmp" && timeout 60 "$root/bin/$demo" "$@" --quiet --run-dir "$tmp/$name") >"$tmp/$name.out" 2>&1 &&
    [ -s "$tmp/$name/model.safetensors" ]; then
    pass
    runs+=("$name")
  else
    fail "bin/$demo $* --run-dir $tmp/$name writes model.safetensors:"
    show "$tmp/$name.out"
  fi
}
run l1norm l1norm --init w_ih=0.7,w_hh=0.9 --max-steps 100 --test-len 100
run l1norm_bias l1norm --bias --init w_ih=0.8,w_hh=0.7,b_ih=-0.3,b_hh=0.1 --max-steps 100 --test-len 100
adding=(--T 20 --hidden 8 --lr 0.01 --steps 30 --eval-every 10 --train-size 1000 --test-size 100)
for model in irnn rnn-tanh lstm gru; do
  run "adding_$model" adding --model "$model" "${adding[@]}"
done
(cd "$tmp" && "$root/bin/digitsum" gen-data --len 3 --out "$tmp/d3.csv") >"$tmp/gen.out" 2>&1
for model in lstm rnn; do
  run "digitsum_$model" digitsum train --data "$tmp/d3.csv" --model "$model" --hidden 16 --epochs 1 --lr 0.01
done

# ag's outputs: arguments from the run's own name.
checked=()
for name in "${runs[@]}"; do
  case $name in
    l1norm) args=(l1norm 0) ;;
    l1norm_bias) args=(l1norm 1) ;;
    adding_*) args=(adding "${name#adding_}" 8) ;;
    digitsum_*) args=(digitsum "${name#digitsum_}" 16) ;;
  esac
  if "$tmp/interop_torch" "${args[@]}" "$tmp/$name/model.safetensors" >"$tmp/$name/ag.json" 2>"$tmp/$name.err"; then
    pass
    checked+=("$tmp/$name")
  else
    fail "interop_torch ${args[*]} loads $name's model.safetensors:"
    show "$tmp/$name.err"
  fi
done

# PyTorch's, compared: one line per run.
if [ ${#checked[@]} -gt 0 ]; then
  PYTHONDONTWRITEBYTECODE=1 "$python" tests/interop_torch.py "${checked[@]}" >"$tmp/torch.out" 2>&1
  for dir in "${checked[@]}"; do
    line=$(grep -F -e "ok $dir:" -e "FAIL $dir:" "$tmp/torch.out" | head -n 1)
    case $line in
      ok*) pass; echo "${line#ok $tmp/}" ;;
      FAIL*) fail "PyTorch gives ag's outputs: ${line#FAIL $tmp/}" ;;
      *) fail "tests/interop_torch.py says nothing about ${dir#$tmp/}:"; show "$tmp/torch.out" ;;
    esac
  done
fi

finish
