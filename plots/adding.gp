# adding: one run of the adding problem. The test MSE (points and line, every
# --eval-every steps: the paper's measure) over the training loss (the MSE of
# each batch of 16, smoothed, with the raw values faint behind), log scale,
# and the dashed baseline every model first sits on: the test set's MSE of
# always answering 1 (params.csv's baseline_mse; a run of an older ag has
# none, and the chart then has no baseline).
#   gnuplot -e "file='runs/adding-.../metrics.csv'" -e "out='plots/adding.png'" plots/adding.gp
# Optional: -e "params='.../params.csv'" (default: next to metrics.csv),
# -e "smooth=W" (the EMA's weight, 0 = none; default 0.98: a batch of 16
# is noisy, and a run has thousands of steps).
last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
script = ARG0[last_slash(ARG0) + 1:]
smooth_default = 0.98
load ARG0[1:last_slash(ARG0)] . 'common.gp'
if (!exists("file")) { print "adding.gp: set file='runs/adding-.../metrics.csv'"; exit status 2 }
if (!exists("out")) out = 'plots/adding.png'
if (out_problem(out) ne '') { print out_problem(out); exit status 2 }
if (!exists("params")) params = dir_part(file) . (dir_part(file) eq '' ? '' : '/') . 'params.csv'
if (bad_path(file)) { print bad_path_message(file); exit status 2 }
if (bad_path(params)) { print bad_path_message(params); exit status 2 }

# Columns 1 step, 2 loss, 3 test_mse.
eval read_metrics('m', file, 'step loss test_mse')
if (m_error ne '') { print script . ': ' . m_error; exit status 1 }
low = lesser(m_minpos[2], m_minpos[3])
if (low != low) { print sprintf("%s: %s has no positive loss or test_mse yet", script, file); exit status 1 }
high = greater(m_max[2], m_max[3])
baseline = param_number(params, 'baseline_mse')
if (baseline ne '' && baseline > 0) { low = lesser(low, baseline + 0); high = greater(high, baseline + 0) }
model = param(params, 'model')
T = param(params, 'T')

eval terminal(1000, 500)
set output out
set title sprintf('adding: %s%s', run_name(file), model eq '' ? '' : sprintf(' (%s, T = %s)', model, T)) noenhanced
set key outside right top vertical Left reverse noenhanced
set logscale y
set format y '10^{%L}'
set grid
set xlabel 'step'
set ylabel 'MSE'
eval range('x', m_min[1], m_max[1], 0)
eval range('y', low, high, 1)
loss_title = sprintf("training loss, EMA %g", smooth)
baseline_title = baseline eq '' ? '' : sprintf("baseline (answer 1): %.3f", baseline + 0)
plots = ''
if (m_n[2] > 0) plots = plots . \
    "$m using 'step':(positive(column('loss'))) with lines lw 1 lc rgb faint(1) notitle, " . \
    "$m using 'step':(positive(ema(column('loss')))) with lines lw 2 lc rgb color(1) title loss_title, "
if (m_n[3] > 0) plots = plots . \
    "$m using 'step':(positive(column('test_mse'))) with linespoints pt 7 ps 0.7 lw 2 lc rgb color(2) title 'test MSE', "
if (baseline ne '' && baseline > 0) plots = plots . \
    "baseline + 0 with lines dt 2 lw 1.5 lc rgb 'gray30' title baseline_title, "
eval 'plot ' . plots[1:strlen(plots) - 2]
