# A metric against step for one run or several, one colour each, named by
# run (the run directory's name, not its path): smoothed as TensorBoard does
# (a debiased exponential moving average), with the raw curve faint behind.
# Log scale when every value is positive.
#   gnuplot -e "files='runs/a/metrics.csv runs/b/metrics.csv'" \
#           -e "titles='a b'" -e "out='plots/loss.png'" [-e "metric='loss'"] plots/loss.gp
# files: metrics.csv files (space-separated); titles: one word per file
# (default: the run directory's name); metric: the column to draw
# (default loss); heading: the chart's title; smooth: the EMA's weight in
# [0, 1), 0 = no smoothing. Its default, 0.9, averages over about the last
# ten rows: ag's demos log every step of small batches, noisier than the
# summaries TensorBoard's 0.6 was made for, yet it keeps a short run's
# shape (the per-demo scripts pick their own).
last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
script = ARG0[last_slash(ARG0) + 1:]
smooth_default = 0.9
load ARG0[1:last_slash(ARG0)] . 'common.gp'
if (!exists("files") || words(files) == 0) { print "loss.gp: set files='run/metrics.csv ...' (see the comment at the top)"; exit status 2 }
if (!exists("out")) out = 'plots/loss.png'
if (out_problem(out) ne '') { print out_problem(out); exit status 2 }
if (!exists("metric")) metric = 'loss'
if (!exists("heading")) heading = metric . ' against step'
if (bad_path(metric) || words(metric) != 1) { print sprintf("loss.gp: metric='%s' is not a column name", metric); exit status 2 }
if (exists("titles") && words(titles) != words(files)) {
    print sprintf("loss.gp: titles has %d words for %d files", words(titles), words(files))
    exit status 2
}
title_of(i) = exists("titles") ? word(titles, i) : run_name(word(files, i))

# Each file into $m1, $m2, ... (columns 1 step, 2 metric); the ranges over all.
runs = words(files)
x_low = NaN; x_high = NaN; y_low = NaN; y_high = NaN; y_lowpos = NaN; values = 0
do for [i = 1:runs] {
    f = word(files, i)
    if (bad_path(f)) { print bad_path_message(f); exit status 2 }
    eval read_metrics(sprintf('m%d', i), f, 'step ' . metric)
    eval sprintf('error = m%d_error', i)
    if (error ne '') { print script . ': ' . error; exit status 1 }
    eval sprintf('count = m%d_n[2]', i)
    eval sprintf('x_low = lesser(x_low, m%d_min[1]); x_high = greater(x_high, m%d_max[1])', i, i)
    eval sprintf('y_low = lesser(y_low, m%d_min[2]); y_high = greater(y_high, m%d_max[2])', i, i)
    eval sprintf('y_lowpos = lesser(y_lowpos, m%d_minpos[2])', i)
    values = values + count
}
if (values == 0) { print sprintf("%s: no %s value yet in %s", script, metric, files); exit status 1 }
log_y = y_low > 0

eval terminal(1000, 500)
set output out
set key outside right top vertical Left reverse noenhanced
set grid
set xlabel 'step'
set ylabel (smooth > 0 ? sprintf('%s (EMA %g; raw faint)', metric, smooth) : metric) noenhanced
set title heading noenhanced
if (log_y) { set logscale y; set format y '10^{%L}' }
eval range('x', x_low, x_high, 0)
eval range('y', log_y ? y_lowpos : y_low, y_high, log_y)
# Raw curves first, so every smoothed one is drawn over them.
plots = ''
do for [i = 1:runs] {
    eval sprintf('count = m%d_n[2]', i)
    if (count > 0 && smooth > 0) {
        plots = plots . sprintf("$m%d using 1:2 with lines lw 1 lc rgb faint(%d) notitle, ", i, i)
    }
}
do for [i = 1:runs] {
    eval sprintf('count = m%d_n[2]', i)
    if (count > 0) {
        plots = plots . sprintf("$m%d using 1:(ema(column(2))) with lines lw 2 lc rgb color(%d) title title_of(%d), ", i, i, i)
    }
}
eval 'plot ' . plots[1:strlen(plots) - 2]
