#!/usr/bin/env bash
# make install / make uninstall, and a program outside the source tree built
# with nothing but `pkg-config ag`: against libag.so (dynamically) and
# against libag.a (pkg-config --static). Assumes `make` has built the
# libraries (make check builds them first); make install rebuilds what is
# stale.
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
expect "lib/libag.a installed" cmp -s build/libag.a "$prefix/lib/libag.a"
expect "lib/libag.so.$version installed as a file" test -f "$prefix/lib/libag.so.$version" -a ! -L "$prefix/lib/libag.so.$version"
expect "lib/libag.so.0 -> libag.so.$version" [ "$(readlink "$prefix/lib/libag.so.0")" = "libag.so.$version" ]
expect "lib/libag.so -> libag.so.0" [ "$(readlink "$prefix/lib/libag.so")" = "libag.so.0" ]
soname=$(readelf -d "$prefix/lib/libag.so.$version" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
expect "the shared library's soname is libag.so.0 (got '$soname')" [ "$soname" = libag.so.0 ]
expect "lib/pkgconfig/ag.pc installed" test -f "$prefix/lib/pkgconfig/ag.pc"
expect "ag.pc names the prefix" grep -qx "prefix=$prefix" "$prefix/lib/pkgconfig/ag.pc"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
expect "pkg-config --validate ag" pkg-config --validate ag
modversion=$(pkg-config --modversion ag 2>&1)
expect "pkg-config --modversion ag is $version (got '$modversion')" [ "$modversion" = "$version" ]
cflags=$(pkg-config --cflags ag)
expect "pkg-config --cflags ag has -I$prefix/include (got '$cflags')" grep -qF -- "-I$prefix/include" <<<"$cflags"

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
        ag_adam_step(&opt, params);
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

# check_run NAME: runs $tmp/NAME (env in $run_env), expects the fit to work.
check_run() {
  (cd "$tmp" && env $run_env "./$1") >"$tmp/$1.out" 2>&1
  local code=$?
  if [ "$code" -eq 0 ] && grep -q '^fit: loss' "$tmp/$1.out"; then
    pass
    echo "install: $1: $(cat "$tmp/$1.out")"
  else
    fail "$1 fits y = 2x (exit $code):"
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
  expect "ldd resolves libag.so.0 in the prefix" grep -qF "libag.so.0 => $prefix/lib/libag.so.0" \
    <(LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/fit_shared")
  run_env="LD_LIBRARY_PATH=$prefix/lib" check_run fit_shared
else
  fail "compiling against libag.so with pkg-config --cflags --libs ag:"
  show "$tmp/cc_shared.err"
fi

# Against the static library: pkg-config --static's flags, with -lag made
# to mean libag.a (the linker would pick libag.so from the same directory)
# and every object of it linked in (--whole-archive), so that the link
# proves the .pc file names everything libag.a needs, run.o's libcsv too.
# shellcheck disable=SC2046
static_libs=$(pkg-config --static --libs ag | sed 's/\(^\| \)-lag\( \|$\)/\1-Wl,--whole-archive -l:libag.a -Wl,--no-whole-archive\2/')
expect "pkg-config --static --libs ag has -lag (got '$static_libs')" grep -qF -- '-l:libag.a' <<<"$static_libs"
# shellcheck disable=SC2086
if "$cc" "${cc_flags[@]}" "$tmp/fit.c" $(pkg-config --static --cflags ag) $static_libs -o "$tmp/fit_static" 2>"$tmp/cc_static.err"; then
  pass
  expect "fit_static does not need libag.so" sh -c "! readelf -d '$tmp/fit_static' | grep -q 'libag\\.so'"
  expect "fit_static contains the library's code" grep -q ' T ag_adam_step$' <(nm --defined-only "$tmp/fit_static")
  run_env="LD_LIBRARY_PATH=" check_run fit_static
else
  fail "compiling against libag.a with pkg-config --static --cflags --libs ag:"
  show "$tmp/cc_static.err"
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
  expect "DESTDIR: lib/libag.so.0 staged under DESTDIR/opt/ag" test -L "$stage/opt/ag/lib/libag.so.0"
  expect "DESTDIR: ag.pc names the final prefix /opt/ag" grep -qx "prefix=/opt/ag" "$stage/opt/ag/lib/pkgconfig/ag.pc"
  expect "DESTDIR: ag.pc's paths have no staging directory in them" sh -c "! grep -qF '$stage' '$stage/opt/ag/lib/pkgconfig/ag.pc'"
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
