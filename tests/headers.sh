#!/usr/bin/env bash
# The public headers stand alone and are valid C and C++: each is included
# first in a translation unit (so a missing #include shows), and twice (the
# include guard), compiled warning-free as C11 and C++17; then a C++
# program calling functions of both headers links against build/libag_run.a
# and build/libag.a (which only works if the headers' extern "C" blocks are
# right) and runs. With clang
# installed, its C and C++ front ends compile the headers too.
check_name=headers
. "$(dirname "$0")/check_common.bash"

# compile WHAT COMPILER FLAGS... SOURCE: compiles SOURCE to an object.
compile() {
  local what=$1
  shift
  if "$@" -c -o "$tmp/out.o" 2>"$tmp/err"; then pass; else
    fail "$what:"
    show "$tmp/err"
  fi
}

c_flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
cxx_flags=(-std=c++17 -Wall -Wextra -Wpedantic -Werror)
cc=${CC:-cc}
cxx=${CXX:-g++}
have_cxx=1
if ! command -v "$cxx" >/dev/null 2>&1; then
  fail "no C++ compiler ($cxx): install g++ to check the headers from C++"
  have_cxx=0
fi
clang_c=$(command -v clang || true)
clang_cxx=$(command -v clang++ || true)

headers=(framework/include/*.h)
for header in "${headers[@]}"; do
  name=$(basename "$header")
  # First in its translation unit, then again (the include guard), and one
  # declaration that uses it.
  printf '#include <%s>\n#include <%s>\ntypedef ag_status check_type;\n' "$name" "$name" >"$tmp/${name%.h}.c"
  src=$tmp/${name%.h}.c
  compile "$name standalone in C11" "$cc" "${c_flags[@]}" -Iframework/include "$src"
  if [ "$have_cxx" = 1 ]; then
    compile "$name standalone in C++17" "$cxx" "${cxx_flags[@]}" -Iframework/include -x c++ "$src"
  fi
  if [ -n "$clang_c" ]; then
    compile "$name standalone in C11 (clang)" "$clang_c" "${c_flags[@]}" -Iframework/include "$src"
  fi
  if [ -n "$clang_cxx" ]; then
    compile "$name standalone in C++17 (clang++)" "$clang_cxx" "${cxx_flags[@]}" -Iframework/include -x c++ "$src"
  fi
done

# A C++ program on build/libag_run.a and build/libag.a: a gradient through
# mul and sum, an error value, the clock, and from ag_run.h the stop signal
# (none caught). Undefined references here mean a header lost its extern "C".
cat >"$tmp/prog.cpp" <<'EOF'
#include <ag.h>
#include <ag_run.h>

#include <cstdio>

int main() {
    ag_ctx *ctx = ag_ctx_create();
    const int shape[1] = {3};
    const ag_real values[3] = {1, 2, 3};
    ag_tensor *x = ag_from_array(ctx, 1, shape, values);
    ag_set_requires_grad(x, true);
    ag_tensor *loss = ag_sum(ctx, ag_mul(ctx, x, x));
    if (!loss || ag_backward(ctx, loss) != AG_OK) {
        std::fprintf(stderr, "backward: %s\n", ag_error_message());
        return 1;
    }
    const int other_shape[1] = {2};
    ag_tensor *bad = ag_add(ctx, x, ag_zeros(ctx, 1, other_shape));
    ag_rng rng;
    ag_rng_seed(&rng, 42, 0);
    double u = ag_rng_uniform(&rng), t = ag_seconds();
    int stop = ag_run_stop_signal();
    std::printf("loss %g grad %g %g %g error '%s' u %g t %d stop %d\n", (double)loss->data[0], (double)x->grad[0],
                (double)x->grad[1], (double)x->grad[2], ag_error_message(), u, t > 0, stop);
    bool ok = loss->data[0] == 14 && x->grad[0] == 2 && x->grad[1] == 4 && x->grad[2] == 6 && bad == NULL &&
              ag_error_code() == AG_ERROR_SHAPE && u >= 0 && u < 1 && t > 0 && stop == 0;
    ag_ctx_free(ctx);
    return ok ? 0 : 2;
}
EOF
if [ "$have_cxx" = 1 ]; then
  if [ ! -f build/libag.a ] || [ ! -f build/libag_run.a ]; then
    fail "build/libag.a or build/libag_run.a missing (run make first)"
  elif "$cxx" "${cxx_flags[@]}" -Iframework/include "$tmp/prog.cpp" build/libag_run.a build/libag.a \
    -lopenblas -lcjson -lcsv -lm -lpthread -o "$tmp/prog" 2>"$tmp/err"; then
    pass
    if (cd "$tmp" && OPENBLAS_NUM_THREADS=1 ./prog) >"$tmp/prog.out" 2>&1; then
      pass
      echo "headers: C++ program: $(cat "$tmp/prog.out")"
    else
      fail "the C++ program on libag_run.a and libag.a:"
      show "$tmp/prog.out"
    fi
  else
    fail "linking a C++ program against build/libag_run.a and build/libag.a:"
    show "$tmp/err"
  fi
fi

finish
