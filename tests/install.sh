#!/usr/bin/env bash
# make install / make uninstall, and programs outside the source tree built
# with nothing but pkg-config: two on the core alone (`pkg-config ag`: a fit
# of y = 2x, and a stacked LSTM, dropout and a GRU cell trained) and
# one on the run layer (`pkg-config ag-run`), each against the shared
# libraries and against the static ones (pkg-config --static). The core
# must need no libcsv: libag.so names none, and the core's program links
# libag.a whole without it. Assumes `make` has built the libraries (make
# check builds them first); make install rebuilds what is stale.
check_name=install
. "$(dirname "$0")/check_common.bash"
prefix=$tmp/prefix
version=0.1.0
show() { sed 's/^/    /' "$@" | head -n 20; }
# run_make LOG ARGS...: make in the source tree, output to $tmp/LOG.
run_make() {
  local log=$tmp/$1
  shift
  make --no-print-directory -C "$root" "$@" >"$log" 2>&1 || { show "$log"; return 1; }
}
# The files of the prefix (not directories), one relative path a line.
files_in() { (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }

# Other packages' files, which uninstall must leave alone.
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
touch "$prefix/include/other.h" "$prefix/lib/libother.so" "$prefix/lib/pkgconfig/other.pc"
others=$(files_in "$prefix")

if ! run_make install.log install PREFIX="$prefix"; then
  fail "make install PREFIX=$prefix"
  finish
fi
pass

# --------------------------------------------------------------- the files
for h in ag.h ag_run.h; do
  expect "include/$h installed, identical to framework/include/$h" cmp -s "framework/include/$h" "$prefix/include/$h"
done
# The core (libag, ag.pc) and the run layer (libag_run, ag-run.pc).
for lib in libag libag_run; do
  expect "lib/$lib.a installed" cmp -s "build/$lib.a" "$prefix/lib/$lib.a"
  expect "lib/$lib.so.$version installed as a file" test -f "$prefix/lib/$lib.so.$version" -a ! -L "$prefix/lib/$lib.so.$version"
  expect "lib/$lib.so.0 -> $lib.so.$version" [ "$(readlink "$prefix/lib/$lib.so.0")" = "$lib.so.$version" ]
  expect "lib/$lib.so -> $lib.so.0" [ "$(readlink "$prefix/lib/$lib.so")" = "$lib.so.0" ]
  soname=$(readelf -d "$prefix/lib/$lib.so.$version" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  expect "$lib.so's soname is $lib.so.0 (got '$soname')" [ "$soname" = "$lib.so.0" ]
done
for pc in ag ag-run; do
  expect "lib/pkgconfig/$pc.pc installed" test -f "$prefix/lib/pkgconfig/$pc.pc"
  expect "$pc.pc names the prefix" grep -qx "prefix=$prefix" "$prefix/lib/pkgconfig/$pc.pc"
done

# has TEXT STRING, lacks TEXT STRING: whether TEXT holds STRING.
has() { grep -qF -- "$2" <<<"$1"; }
lacks() { ! has "$1" "$2"; }
# needed FILE: the shared libraries FILE names (NEEDED), on one line.
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '; }
core_needed=$(needed "$prefix/lib/libag.so.$version")
run_needed=$(needed "$prefix/lib/libag_run.so.$version")
expect "libag.so needs OpenBLAS (NEEDED: $core_needed)" has "$core_needed" libopenblas.so
expect "libag.so needs no libcsv (NEEDED: $core_needed)" lacks "$core_needed" libcsv
expect "libag_run.so needs libag.so.0 (NEEDED: $run_needed)" has "$run_needed" libag.so.0
expect "libag_run.so needs libcsv (NEEDED: $run_needed)" has "$run_needed" libcsv.so

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
for pc in ag ag-run; do
  expect "pkg-config --validate $pc" pkg-config --validate $pc
  modversion=$(pkg-config --modversion $pc 2>&1)
  expect "pkg-config --modversion $pc is $version (got '$modversion')" [ "$modversion" = "$version" ]
  cflags=$(pkg-config --cflags $pc)
  expect "pkg-config --cflags $pc has -I$prefix/include (got '$cflags')" has "$cflags" "-I$prefix/include"
done
core_static=$(pkg-config --static --libs ag)
run_libs=$(pkg-config --libs ag-run)
run_static=$(pkg-config --static --libs ag-run)
expect "pkg-config --static --libs ag names no libcsv (got '$core_static')" lacks "$core_static" -lcsv
expect "pkg-config --libs ag-run has -lag_run, then -lag (got '$run_libs')" grep -qE -- '-lag_run( .*)? -lag( |$)' <<<"$run_libs"
expect "pkg-config --static --libs ag-run has -lcsv (got '$run_static')" has "$run_static" -lcsv

# ----------------------------------------------- an outside program: y = 2x
# One parameter w, fitted by Adam to y = 2x; <ag.h> is all it includes.
cat >"$tmp/fit.c" <<'EOF'
#include <ag.h>

int main(void) {
    int n = 8, one = 1;
    ag_real xs[8], ys[8];
    for (int i = 0; i < n; i++) {
        xs[i] = (ag_real)(i - 4) / 4;
        ys[i] = 2 * xs[i];
    }
    ag_params *params = ag_params_create();
    ag_tensor *w = params ? ag_params_add(params, "w", 1, &one) : NULL;
    ag_ctx *ctx = ag_ctx_create();
    ag_adam opt;
    if (!w || !ctx || ag_adam_init(&opt, params, 0.05) != AG_OK) {
        fprintf(stderr, "fit: %s\n", ag_error_message());
        return 1;
    }
    double first = 0, last = 0;
    for (int step = 0; step < 400; step++) {
        ag_ctx_reset(ctx);
        ag_params_zero_grad(params);
        ag_tensor *x = ag_from_array(ctx, 1, &n, xs);
        ag_tensor *y = ag_from_array(ctx, 1, &n, ys);
        ag_tensor *loss = ag_mse_loss(ctx, ag_mul(ctx, x, w), y);
        if (!loss || ag_backward(ctx, loss) != AG_OK) {
            fprintf(stderr, "fit: step %d: %s\n", step, ag_error_message());
            return 1;
        }
        if (step == 0) first = loss->data[0];
        last = loss->data[0];
        if (ag_adam_step(&opt, params) != AG_OK) {
            fprintf(stderr, "fit: step %d: %s\n", step, ag_error_message());
            return 1;
        }
    }
    double error = (double)w->data[0] - 2;
    printf("fit: loss %g -> %g, w %.6f\n", first, last, (double)w->data[0]);
    ag_adam_free(&opt);
    ag_ctx_free(ctx);
    ag_params_free(params);
    return first > 0 && last < first * 1e-4 && error < 1e-3 && error > -1e-3 ? 0 : 2;
}
EOF
cc=${CC:-cc}
cc_flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -O2)

# check_run NAME [WHAT]: runs $tmp/NAME (env in $run_env), expects it to
# exit 0 with its "WHAT: loss" line (WHAT: fit, the fit of y = 2x).
check_run() {
  local what=${2:-fit}
  (cd "$tmp" && env $run_env "./$1") >"$tmp/$1.out" 2>&1
  local code=$?
  if [ "$code" -eq 0 ] && grep -q "^$what: loss" "$tmp/$1.out"; then
    pass
    echo "install: $1: $(cat "$tmp/$1.out")"
  else
    fail "$1 trains its model, the $what program (exit $code):"
    show "$tmp/$1.out"
  fi
}

# Against the shared library.
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
if "$cc" "${cc_flags[@]}" "$tmp/fit.c" $(pkg-config --cflags --libs ag) -o "$tmp/fit_shared" 2>"$tmp/cc_shared.err"; then
  pass
  expect "fit_shared needs libag.so.0" grep -qF '(NEEDED)             Shared library: [libag.so.0]' \
    <(readelf -d "$tmp/fit_shared")
  expect "fit_shared does not contain the library's code" \
    sh -c "! nm --defined-only '$tmp/fit_shared' | grep -q ' ag_adam_step\$'"
  ldd_out=$(LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/fit_shared")
  expect "ldd resolves libag.so.0 in the prefix" has "$ldd_out" "libag.so.0 => $prefix/lib/libag.so.0"
  expect "fit_shared loads no libcsv (ldd)" lacks "$ldd_out" libcsv
  expect "fit_shared loads no libag_run (ldd)" lacks "$ldd_out" libag_run
  run_env="LD_LIBRARY_PATH=$prefix/lib" check_run fit_shared
else
  fail "compiling against libag.so with pkg-config --cflags --libs ag:"
  show "$tmp/cc_shared.err"
fi

# Against the static library: pkg-config --static's flags, with -lag made
# to mean libag.a (the linker would pick libag.so from the same directory)
# and every object of it linked in (--whole-archive), so that the link
# proves the .pc file names everything libag.a needs; as it names no
# libcsv (checked above), this proves the core uses none.
# whole_archive NAME: the sed script that makes -lNAME link all of libNAME.a.
whole_archive() { printf 's/\\(^\\| \\)-l%s\\( \\|$\\)/\\1-Wl,--whole-archive -l:lib%s.a -Wl,--no-whole-archive\\2/' "$1" "$1"; }
static_libs=$(sed "$(whole_archive ag)" <<<"$core_static")
expect "pkg-config --static --libs ag has -lag (got '$static_libs')" grep -qF -- '-l:libag.a' <<<"$static_libs"
# shellcheck disable=SC2046,SC2086 # pkg-config's output is meant to be split
if "$cc" "${cc_flags[@]}" "$tmp/fit.c" $(pkg-config --static --cflags ag) $static_libs -o "$tmp/fit_static" 2>"$tmp/cc_static.err"; then
  pass
  expect "fit_static does not need libag.so" sh -c "! readelf -d '$tmp/fit_static' | grep -q 'libag\\.so'"
  expect "fit_static contains the library's code" grep -q ' T ag_adam_step$' <(nm --defined-only "$tmp/fit_static")
  expect "fit_static does not need libcsv" sh -c "! readelf -d '$tmp/fit_static' | grep -q 'libcsv'"
  run_env="LD_LIBRARY_PATH=" check_run fit_static
else
  fail "compiling against libag.a with pkg-config --static --cflags --libs ag:"
  show "$tmp/cc_static.err"
fi

# ------------------------- an outside program on the recurrent layers
# The library's stacked LSTM (ag_lstm, dropout between its layers),
# ag_dropout and its GRU cell (ag_gru_cell_sequence_last) trained a few
# steps from outside the tree; the loss must fall 3-fold. Shared and static.
cat >"$tmp/recurrent.c" <<'EOF'
#include <ag.h>

/* A stacked LSTM (2 layers, dropout between them), ag_dropout on its
 * output, a GRU cell over that to the last state and a Linear readout:
 * learns the mean of sequences of different lengths; the loss must fall. */
int main(void) {
    enum { B = 16, T = 6, H = 8 };
    ag_rng rng;
    ag_rng_seed(&rng, 3, 0);
    ag_params *params = ag_params_create();
    ag_ctx *ctx = ag_ctx_create();
    ag_lstm lstm;
    ag_gru_cell gru;
    ag_linear head;
    ag_adam opt;
    ag_sequence_batch s;
    if (!params || !ctx || ag_lstm_init(&lstm, params, "lstm", 1, H, 2, false, 0.1, &rng) != AG_OK ||
        ag_gru_cell_init(&gru, params, "gru", H, H, true, &rng) != AG_OK ||
        ag_linear_init(&head, params, "head", H, 1, true, &rng) != AG_OK || ag_adam_init(&opt, params, 1e-2) != AG_OK ||
        ag_sequence_batch_init(&s, B, T, 1) != AG_OK) {
        fprintf(stderr, "recurrent: %s\n", ag_error_message());
        return 1;
    }
    ag_real targets[B];
    double first = 0, last = 0;
    for (int step = 0; step < 150; step++) {
        for (int b = 0; b < B; b++) {
            s.lengths[b] = 1 + (int)ag_rng_below(&rng, T);
            targets[b] = 0;
            for (int t = 0; t < s.lengths[b]; t++) targets[b] += s.values[b * T + t] = (ag_real)ag_rng_normal(&rng);
            targets[b] /= (ag_real)s.lengths[b];
        }
        ag_ctx_reset(ctx);
        ag_params_zero_grad(params);
        ag_recurrent_output out = ag_lstm_forward(ctx, &lstm, ag_sequence_values(ctx, &s), s.lengths, NULL, NULL, true, &rng);
        ag_tensor *h = ag_gru_cell_sequence_last(ctx, &gru, ag_dropout(ctx, out.output, 0.1, true, &rng), s.lengths,
                                                 ag_zeros(ctx, 2, (int[]){B, H}));
        ag_tensor *loss = ag_mse_loss(ctx, ag_linear_forward(ctx, &head, h), ag_from_array(ctx, 2, (int[]){B, 1}, targets));
        if (!loss || ag_backward(ctx, loss) != AG_OK || ag_adam_step(&opt, params) != AG_OK) {
            fprintf(stderr, "recurrent: step %d: %s\n", step, ag_error_message());
            return 1;
        }
        double value = loss->data[0];
        if (step < 10) first += value / 10;
        if (step >= 140) last += value / 10;
    }
    printf("recurrent: loss %g -> %g\n", first, last);
    ag_sequence_batch_free(&s);
    ag_adam_free(&opt);
    ag_ctx_free(ctx);
    ag_params_free(params);
    return first > 0 && last < first / 3 ? 0 : 2;
}
EOF
# shellcheck disable=SC2046
if "$cc" "${cc_flags[@]}" "$tmp/recurrent.c" $(pkg-config --cflags --libs ag) -o "$tmp/recurrent_shared" 2>"$tmp/cc_recurrent_shared.err"; then
  pass
  expect "recurrent_shared needs libag.so.0" has "$(needed "$tmp/recurrent_shared")" libag.so.0
  run_env="LD_LIBRARY_PATH=$prefix/lib" check_run recurrent_shared recurrent
else
  fail "compiling the recurrent program against libag.so with pkg-config --cflags --libs ag:"
  show "$tmp/cc_recurrent_shared.err"
fi
# shellcheck disable=SC2046,SC2086
if "$cc" "${cc_flags[@]}" "$tmp/recurrent.c" $(pkg-config --static --cflags ag) $static_libs -o "$tmp/recurrent_static" 2>"$tmp/cc_recurrent_static.err"; then
  pass
  expect "recurrent_static contains the GRU cell's code" grep -q ' T ag_gru_cell_sequence_last$' <(nm --defined-only "$tmp/recurrent_static")
  run_env="LD_LIBRARY_PATH=" check_run recurrent_static recurrent
else
  fail "compiling the recurrent program against libag.a with pkg-config --static --cflags --libs ag:"
  show "$tmp/cc_recurrent_static.err"
fi

# ------------------------------ an outside program on the run layer: a run
# A run directory with params.csv and metrics.csv, a progress line and the
# clock: <ag_run.h> and `pkg-config ag-run`, which brings the core along.
cat >"$tmp/run.c" <<'EOF'
#include <ag_run.h>

int main(int argc, char **argv) {
    ag_run *run = argc == 2 ? ag_run_create("install", argv[1]) : NULL;
    const char *const columns[1] = {"loss"};
    double start = ag_seconds();
    ag_progress progress;
    ag_progress_start(&progress, stdout, 3, 1, true);
    if (!run || ag_run_set_param(run, "hidden", "%d", 4) != AG_OK || ag_run_write_params(run) != AG_OK ||
        ag_run_begin_metrics(run, columns, 1) != AG_OK) {
        fprintf(stderr, "run: %s\n", ag_error_message());
        return 1;
    }
    for (int step = 1; step <= 3; step++) {
        double loss = 1.0 / step;
        if (ag_run_log(run, step, &loss) != AG_OK) {
            fprintf(stderr, "run: step %d: %s\n", step, ag_error_message());
            return 1;
        }
        ag_progress_update(&progress, step, loss);
    }
    ag_progress_end(&progress);
    if (ag_run_close(run) != AG_OK) {
        fprintf(stderr, "run: %s\n", ag_error_message());
        return 1;
    }
    double seconds = ag_seconds() - start;
    printf("run: 3 rows in %s/metrics.csv\n", argv[1]);
    return seconds >= 0 ? 0 : 2;
}
EOF
# params.csv begins with the run's random id; the rest is as set.
printf 'name,value\n"run_id","ID"\n"hidden","4"\n' >"$tmp/params.expected"
printf 'step,loss\n1,1\n2,0.5\n3,0.333333333\n' >"$tmp/metrics.expected"

# check_run_layer NAME: runs $tmp/NAME (env in $run_env) into a new run
# directory and expects its params.csv and metrics.csv.
check_run_layer() {
  local dir=$tmp/$1-run
  (cd "$tmp" && env $run_env "./$1" "$dir") >"$tmp/$1.out" 2>&1
  local code=$?
  if [ "$code" -eq 0 ] && cmp -s "$tmp/params.expected" <(sed '2s/^"run_id","[0-9a-f]\{16\}"$/"run_id","ID"/' "$dir/params.csv") &&
    cmp -s "$tmp/metrics.expected" "$dir/metrics.csv"; then
    pass
    echo "install: $1: $(cat "$tmp/$1.out")"
  else
    fail "$1 writes its run directory (exit $code):"
    show "$tmp/$1.out" "$dir/params.csv" "$dir/metrics.csv"
  fi
}

# shellcheck disable=SC2046
if "$cc" "${cc_flags[@]}" "$tmp/run.c" $(pkg-config --cflags --libs ag-run) -o "$tmp/run_shared" 2>"$tmp/cc_run_shared.err"; then
  pass
  run_shared_needed=$(needed "$tmp/run_shared")
  expect "run_shared needs libag_run.so.0 (NEEDED: $run_shared_needed)" has "$run_shared_needed" libag_run.so.0
  expect "run_shared needs libag.so.0 (NEEDED: $run_shared_needed)" has "$run_shared_needed" libag.so.0
  run_env="LD_LIBRARY_PATH=$prefix/lib" check_run_layer run_shared
else
  fail "compiling against libag_run.so with pkg-config --cflags --libs ag-run:"
  show "$tmp/cc_run_shared.err"
fi

# Both archives whole, as above: ag-run.pc names all that libag_run.a needs.
run_static_libs=$(sed -e "$(whole_archive ag_run)" -e "$(whole_archive ag)" <<<"$run_static")
for lib in ag_run ag; do
  expect "pkg-config --static --libs ag-run has -l$lib (got '$run_static_libs')" has "$run_static_libs" "-l:lib$lib.a"
done
# shellcheck disable=SC2046,SC2086
if "$cc" "${cc_flags[@]}" "$tmp/run.c" $(pkg-config --static --cflags ag-run) $run_static_libs -o "$tmp/run_static" 2>"$tmp/cc_run_static.err"; then
  pass
  expect "run_static does not need libag.so or libag_run.so" sh -c "! readelf -d '$tmp/run_static' | grep -q 'libag'"
  expect "run_static contains the run layer's code" grep -q ' T ag_run_log$' <(nm --defined-only "$tmp/run_static")
  run_env="LD_LIBRARY_PATH=" check_run_layer run_static
else
  fail "compiling against libag_run.a with pkg-config --static --cflags --libs ag-run:"
  show "$tmp/cc_run_static.err"
fi

# ------------------------------------------------ the MPI layer (ag-mpi)
# A program that sums two chunks' gradients with ag_mpi.h, built with
# pkg-config ag-mpi alone: one process, then two under mpirun, print the
# same sum.
expect "lib/libag_mpi.a installed" cmp -s build/libag_mpi.a "$prefix/lib/libag_mpi.a"
expect "include/ag_mpi.h installed" cmp -s framework/include/ag_mpi.h "$prefix/include/ag_mpi.h"
cat >"$tmp/mpi.c" <<'C'
#include <ag_mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (ag_mpi_start(&argc, &argv) != AG_OK) return 1;
    ag_params *params = ag_params_create();
    ag_tensor *w = ag_params_add(params, "w", 1, (int[]){3});
    ag_mpi_exchange *x = ag_mpi_exchange_create(params, 2, 1);
    if (!w || !x) return 1;
    int first, count;
    ag_mpi_chunks(2, &first, &count);
    for (int k = first; k < first + count; k++) {
        for (int i = 0; i < 3; i++) w->grad[i] = (ag_real)(0.1 * (k + 1) * (i + 1));
        ag_real loss = (ag_real)(k + 1);
        ag_mpi_exchange_keep(x, k, &loss);
    }
    ag_real loss;
    ag_mpi_exchange_sum(x, &loss);
    if (ag_mpi_rank() == 0) printf("%d %.9g %.9g %.9g %.9g\n", ag_mpi_size(), w->grad[0], w->grad[1], w->grad[2], loss);
    ag_mpi_exchange_free(x);
    ag_params_free(params);
    ag_mpi_stop();
    return 0;
}
C
# shellcheck disable=SC2046
if PKG_CONFIG_PATH="$prefix/lib/pkgconfig" "$cc" "${cc_flags[@]}" "$tmp/mpi.c" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs ag-mpi) -o "$tmp/mpi" 2>"$tmp/cc_mpi.err"; then
  pass
  one=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/mpi")
  expect "the ag-mpi program in one process: 0.1+0.2, 0.2+0.4, 0.3+0.6 and loss 3 (got '$one')" \
    [ "$one" = "1 0.300000012 0.600000024 0.900000036 3" ]
  two=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 LD_LIBRARY_PATH="$prefix/lib" \
    timeout 60 mpirun -x LD_LIBRARY_PATH --oversubscribe -np 2 "$tmp/mpi" 2>"$tmp/mpi.err")
  expect "the same sums from two processes (got '$two')" [ "${two#2 }" = "${one#1 }" ] 
else
  fail "compiling against libag_mpi.a with pkg-config --cflags --libs ag-mpi:"
  show "$tmp/cc_mpi.err"
fi

# --------------------------------------------------------------- uninstall
if run_make uninstall.log uninstall PREFIX="$prefix"; then pass; else fail "make uninstall PREFIX=$prefix"; fi
left=$(files_in "$prefix")
if [ "$left" = "$others" ]; then pass; else
  fail "after uninstall the prefix holds exactly the other packages' files; it holds:"
  echo "$left" | sed 's/^/    /'
fi

# ------------------------------------------------------------------ DESTDIR
# Staged into DESTDIR, with the .pc file naming the final PREFIX; install
# twice (over an existing installation) then uninstall.
stage=$tmp/stage
if run_make destdir.log install DESTDIR="$stage" PREFIX=/opt/ag &&
  run_make destdir.log install DESTDIR="$stage" PREFIX=/opt/ag; then
  pass
  for lib in libag libag_run; do
    expect "DESTDIR: lib/$lib.so.0 staged under DESTDIR/opt/ag" test -L "$stage/opt/ag/lib/$lib.so.0"
  done
  for pc in ag ag-run; do
    expect "DESTDIR: $pc.pc names the final prefix /opt/ag" grep -qx "prefix=/opt/ag" "$stage/opt/ag/lib/pkgconfig/$pc.pc"
    expect "DESTDIR: $pc.pc's paths have no staging directory in them" sh -c "! grep -qF '$stage' '$stage/opt/ag/lib/pkgconfig/$pc.pc'"
  done
  if run_make destdir.log uninstall DESTDIR="$stage" PREFIX=/opt/ag; then pass; else fail "make uninstall with DESTDIR"; fi
  left=$(files_in "$stage")
  if [ -z "$left" ]; then pass; else
    fail "DESTDIR: after uninstall the stage holds files:"
    echo "$left" | sed 's/^/    /'
  fi
else
  fail "make install DESTDIR=$stage PREFIX=/opt/ag (twice)"
fi

finish
