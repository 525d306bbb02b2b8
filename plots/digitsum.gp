# digitsum: training and validation loss (log scale) and validation accuracy
# per epoch. The legends sit under the panels, clear of the curves.
#   gnuplot -e "file='runs/digitsum-.../metrics.csv'" -e "out='plots/digitsum.png'" plots/digitsum.gp
last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
script = ARG0[last_slash(ARG0) + 1:]
load ARG0[1:last_slash(ARG0)] . 'common.gp'
if (!exists("file")) { print "digitsum.gp: set file='runs/digitsum-.../metrics.csv'"; exit status 2 }
if (!exists("out")) out = 'plots/digitsum.png'
if (out_problem(out) ne '') { print out_problem(out); exit status 2 }
if (bad_path(file)) { print bad_path_message(file); exit status 2 }

# Columns 1 step (the epoch), 2 loss, 3 val_loss, 4 val_acc.
eval read_metrics('m', file, 'step loss val_loss val_acc')
if (m_error ne '') { print script . ': ' . m_error; exit status 1 }
if (m_n[2] + m_n[3] + m_n[4] == 0) { print sprintf("%s: %s has no loss, val_loss or val_acc value yet", script, file); exit status 1 }

eval terminal(1100, 480)
set output out
set grid
# Above each panel, clear of the curves.
set key horizontal center bottom at graph 0.5, graph 1.02 noenhanced
set xlabel 'epoch'
# Half an epoch of room, so the first and last points are whole.
set xrange [m_min[1] - 0.5:m_max[1] + 0.5]
set multiplot layout 1,2 margins 0.07, 0.98, 0.12, 0.84 spacing 0.09 title 'digitsum: ' . run_name(file) noenhanced

set logscale y
set format y '10^{%L}'
set ylabel 'cross-entropy'
low = lesser(m_minpos[2], m_minpos[3])
if (low == low) {
    eval range('y', low, greater(m_max[2], m_max[3]), 1)
    plots = ''
    if (m_n[2] > 0) { plots = plots . "$m using 'step':(positive(column('loss'))) with linespoints pt 7 ps 0.5 lc rgb color(1) title 'training loss', " }
    if (m_n[3] > 0) { plots = plots . "$m using 'step':(positive(column('val_loss'))) with linespoints pt 7 ps 0.5 lc rgb color(2) title 'validation loss', " }
    eval 'plot ' . plots[1:strlen(plots) - 2]
} else {
    set yrange [0.1:10]
    set label 1 'no loss yet' at graph 0.5, 0.5 center
    plot NaN notitle
    unset label 1
}

unset logscale y
set format y '%g'
set ylabel 'validation accuracy (exact match)'
set yrange [0:1]
if (m_n[4] > 0) {
    plot $m using 'step':'val_acc' with linespoints pt 7 ps 0.5 lc rgb color(3) title 'validation accuracy'
} else {
    set label 1 'no validation accuracy yet' at graph 0.5, 0.5 center
    plot NaN notitle
}
unset multiplot
