# l1norm: the L1-norm RNN learns exact weights. Above: the training loss
# (MSE of each step's batch, log scale); below: the network's two weights,
# w_ih and w_hh, against the dashed line at 1 that both must reach (the
# L1 norm is exactly relu(1 * h + 1 * |x|) summed).
#   gnuplot -e "file='runs/l1norm-.../metrics.csv'" -e "out='plots/l1norm.png'" plots/l1norm.gp
last_slash(p) = strstrt(p, '/') ? strstrt(p, '/') + last_slash(p[strstrt(p, '/') + 1:]) : 0
script = ARG0[last_slash(ARG0) + 1:]
load ARG0[1:last_slash(ARG0)] . 'common.gp'
if (!exists("file")) { print "l1norm.gp: set file='runs/l1norm-.../metrics.csv'"; exit status 2 }
if (!exists("out")) out = 'plots/l1norm.png'
if (out_problem(out) ne '') { print out_problem(out); exit status 2 }
if (bad_path(file)) { print bad_path_message(file); exit status 2 }

# Columns 1 step, 2 loss, 3 w_ih, 4 w_hh.
eval read_metrics('m', file, 'step loss w_ih w_hh')
if (m_error ne '') { print script . ': ' . m_error; exit status 1 }
if (m_n[2] + m_n[3] + m_n[4] == 0) { print sprintf("%s: %s has no loss, w_ih or w_hh value yet", script, file); exit status 1 }

eval terminal(900, 650)
set output out
set multiplot layout 2,1 title sprintf('l1norm: %s', run_name(file)) noenhanced
set key outside right top vertical Left reverse noenhanced
set grid
set lmargin 10
set rmargin 16
eval range('x', m_min[1], m_max[1], 0)

# The loss: log scale, so exact zeros (not drawn) and the last digits of
# convergence show.
set ylabel 'training loss (MSE)'
set logscale y
set format y '10^{%L}'
unset xlabel
if (m_n[2] > 0 && m_minpos[2] == m_minpos[2]) {
    eval range('y', m_minpos[2], m_max[2], 1)
    plot $m using 'step':(positive(column('loss'))) with lines lw 1.5 lc rgb color(1) title 'loss'
} else {
    # No positive loss to draw on a log scale: an empty panel that says so.
    set yrange [0.1:10]
    set label 1 'no positive loss yet' at graph 0.5, 0.5 center
    plot NaN notitle
    unset label 1
}

# The weights, linear scale, with the target 1.
unset logscale y
set format y '%g'
set xlabel 'step'
set ylabel 'weight'
eval range('y', lesser(lesser(m_min[3], m_min[4]), 1), greater(greater(m_max[3], m_max[4]), 1), 0)
plots = ''
if (m_n[3] > 0) plots = plots . "$m using 'step':'w_ih' with lines lw 2 lc rgb color(2) title 'w_ih', "
if (m_n[4] > 0) plots = plots . "$m using 'step':'w_hh' with lines lw 2 lc rgb color(3) title 'w_hh', "
eval 'plot ' . plots . "1 with lines dt 2 lw 1.5 lc rgb 'gray30' title 'target 1'"
unset multiplot
