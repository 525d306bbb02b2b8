# Shared by the plot scripts: reading metrics.csv safely, run names, colours,
# ranges and the smoothing. A script finds it next to itself, wherever
# gnuplot runs, and names itself in messages, with these lines at its top
# (ARG0 is the script's path; within this file, this file's):
#   last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
#   script = ARG0[last_slash(ARG0) + 1:]
#   load ARG0[1:last_slash(ARG0)] . 'common.gp'
# Errors are one line on stderr (gnuplot's print) and exit status 1 (bad
# data) or 2 (bad settings), before the output file is opened: a failed
# plot leaves no empty PNG behind.

plots_dir = ARG0[1:last_slash(ARG0)]

# ------------------------------------------------------------------ paths
# 'runs/x' for 'runs/x/metrics.csv', '' for a bare file name.
dir_part(path) = last_slash(path) > 1 ? path[1:last_slash(path) - 1] : ''
# The run's name: its directory's last component (a bare file: its name).
run_name(path) = dir_part(path) eq '' || dir_part(path) eq '.' ? path : dir_part(path)[last_slash(dir_part(path)) + 1:]
# The shell commands below quote paths with '...': refuse what would break them.
bad_path(path) = strstrt(path, "'") || strstrt(path, '"') || strstrt(path, '\')
bad_path_message(path) = sprintf("%s: %s: a file name with a quote or a backslash is not supported", script, path)
# '' if the chart can be written to path, else the one line that says why
# (gnuplot's own "cannot open file" comes as a dump of the script's line).
out_problem(path) = bad_path(path) ? bad_path_message(path) : \
    system(sprintf("d=$(dirname -- '%s'); [ -d \"$d\" ] && [ -w \"$d\" ] || echo \"%s: cannot write %s: $d is not a writable directory\"", path, script, path))

# The terminal for `out`: SVG when its name ends in .svg (bin/runs report
# puts such charts inline in its HTML page), PNG otherwise:
#   eval terminal(WIDTH, HEIGHT)
is_svg(path) = strlen(path) > 4 && path[strlen(path) - 3:] eq '.svg'
terminal(width, height) = is_svg(out) ? \
    sprintf("set terminal svg size %d,%d enhanced font 'sans,10' background '#ffffff'", width, height) : \
    sprintf("set terminal pngcairo size %d,%d enhanced font ',10'", width, height)

# ---------------------------------------------------------------- reading
# eval read_metrics('NAME', FILE, 'step loss ...') defines $NAME and
# NAME_error, NAME_rows, NAME_n[k], NAME_min[k], NAME_max[k], NAME_minpos[k]
# for the k-th column named (plots/metrics.awk says how). The file is
# complete when it ends in a newline; otherwise a run cut its last row short.
read_metrics(block, file, need) = sprintf("load \"< awk -v file='%s' -v need='%s' -v block=%s -v complete=$(tail -c 1 '%s' 2>/dev/null | wc -l) -f '%smetrics.awk'\"", file, need, block, file, plots_dir)
# A setting's value in a run's params.csv, or '' if it has none (or the
# file is missing); param_number: the same, but '' unless it is a number.
param(params_file, name) = system(sprintf("awk -v file='%s' -v param='%s' -f '%smetrics.awk'", params_file, name, plots_dir))
param_number(params_file, name) = system(sprintf("awk -v file='%s' -v param='%s' -v numeric=1 -f '%smetrics.awk'", params_file, name, plots_dir))
# The datablocks' first line names their columns.
set datafile separator ','
set datafile columnheaders
# NaN values (empty fields, and those the using expressions give) are missing:
# lines connect across them rather than break.
set datafile missing NaN

# -------------------------------------------------------------- smoothing
# TensorBoard's smoothing: an exponential moving average with weight
# smooth (0: none), debiased so the first rows are not pulled towards 0:
#   last = smooth * last + (1 - smooth) * x;  shown: last / (1 - smooth^count)
# where count is the number of values so far. Empty and NaN fields are
# skipped (the average goes on across them). Each plot element starts
# afresh: row 0 ($0, column(0)) resets it. A script sets smooth_default
# before loading this file; -e "smooth=W" overrides it.
if (!exists("smooth")) smooth = exists("smooth_default") ? smooth_default : 0.9
if (!(smooth >= 0 && smooth < 1)) { print sprintf("%s: smooth=%g must be in [0, 1) (0: no smoothing)", script, smooth); exit status 2 }
ema_last = 0
ema_count = 0
ema_restart(row) = row == 0 ? (ema_last = 0, ema_count = 0) : 0
ema(x) = (ema_restart(column(0)), x == x ? (ema_last = smooth * ema_last + (1 - smooth) * x, ema_count = ema_count + 1, ema_last / (1 - smooth ** ema_count)) : NaN)
# For a logarithmic axis: values <= 0 are left out (not drawn).
positive(x) = x > 0 ? x : NaN

# ---------------------------------------------------------------- colours
# One colour per run (matplotlib's), and the same colour faint for the raw
# curve behind its smoothed one (pngcairo's #AARRGGBB: AA = transparency).
colors = '#1f77b4 #d62728 #2ca02c #ff7f0e #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf'
color(i) = word(colors, (i - 1) % words(colors) + 1)
faint(i) = '#C0' . color(i)[2:]

# ----------------------------------------------------------------- ranges
# The smaller and the larger of two values, either of which may be NaN.
lesser(a, b) = a != a ? b : b != b ? a : a < b ? a : b
greater(a, b) = a != a ? b : b != b ? a : a > b ? a : b
# eval range('x', LOW, HIGH, LOG): x: exactly [LOW:HIGH] (the data's
# extent, the same in every panel); y: autoscale. Around a single value
# (one row, or a constant column), where gnuplot would warn of an empty
# range, a range of its own.
range(axis, low, high, log) = low < high ? (axis eq 'x' ? sprintf('set xrange [%.17g:%.17g]', low, high) : sprintf('set autoscale %s', axis)) : \
    log ? sprintf('set %srange [%.17g:%.17g]', axis, low / 2.0, high * 2.0) : \
    sprintf('set %srange [%.17g:%.17g]', axis, low - (low == 0 ? 1 : abs(low) / 2.0), high + (high == 0 ? 1 : abs(high) / 2.0))
