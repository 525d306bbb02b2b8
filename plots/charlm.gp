# charlm: a character language model's training and validation bits per
# character on one chart. Train: metrics.csv's loss (cross-entropy in nats,
# every step) over log(2), smoothed, with the raw values faint behind;
# validation: val_bpc (every --eval-every steps) as points and line.
#   gnuplot -e "file='runs/charlm-.../metrics.csv'" -e "out='plots/charlm.png'" plots/charlm.gp
# Optional: -e "smooth=W" (the EMA's weight, 0 = none; default 0.95: one
# batch's loss is noisy, and the average still follows a few thousand
# steps' curve within about twenty).
last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
script = ARG0[last_slash(ARG0) + 1:]
smooth_default = 0.95
load ARG0[1:last_slash(ARG0)] . 'common.gp'
if (!exists("file")) { print "charlm.gp: set file='runs/charlm-.../metrics.csv'"; exit status 2 }
if (!exists("out")) out = 'plots/charlm.png'
if (out_problem(out) ne '') { print out_problem(out); exit status 2 }
if (bad_path(file)) { print bad_path_message(file); exit status 2 }

# Columns 1 step, 2 loss (nats), 3 val_bpc.
eval read_metrics('m', file, 'step loss val_bpc')
if (m_error ne '') { print script . ': ' . m_error; exit status 1 }
if (m_n[2] + m_n[3] == 0) { print sprintf("%s: %s has no loss or val_bpc value yet", script, file); exit status 1 }
bits(nats) = nats / log(2)

eval terminal(1000, 500)
set output out
set title sprintf('charlm: %s', run_name(file)) noenhanced
set key outside right top vertical Left reverse noenhanced
set grid
set xlabel 'step'
set ylabel 'bits per character'
eval range('x', m_min[1], m_max[1], 0)
eval range('y', lesser(bits(m_min[2]), m_min[3]), greater(bits(m_max[2]), m_max[3]), 0)
train_title = smooth > 0 ? sprintf('training, EMA %g', smooth) : 'training'
plots = ''
if (m_n[2] > 0 && smooth > 0) plots = plots . \
    "$m using 'step':(bits(column('loss'))) with lines lw 1 lc rgb faint(1) notitle, "
if (m_n[2] > 0) plots = plots . \
    "$m using 'step':(bits(ema(column('loss')))) with lines lw 2 lc rgb color(1) title train_title, "
if (m_n[3] > 0) plots = plots . \
    "$m using 'step':'val_bpc' with linespoints pt 7 ps 0.7 lw 2 lc rgb color(2) title 'validation', "
eval 'plot ' . plots[1:strlen(plots) - 2]
