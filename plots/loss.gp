# Loss against step, log scale, one line per run.
#   gnuplot -e "files='runs/a/metrics.csv runs/b/metrics.csv'" \
#           -e "titles='a b'" -e "out='plots/loss.png'" [-e "metric='loss'"] plots/loss.gp
# files: metrics.csv files (space-separated); titles: one word per file
# (default: the run directory's name); metric: the column to draw.
if (!exists("files")) { print "loss.gp: set files='run/metrics.csv ...' (see the comment at the top)"; exit status 2 }
if (!exists("out")) out = 'plots/loss.png'
if (!exists("metric")) metric = 'loss'
if (!exists("heading")) heading = metric . ' against step'
title_of(i) = exists("titles") ? word(titles, i) : system("basename $(dirname " . word(files, i) . ")")

set terminal pngcairo size 900,500 enhanced font ',10'
set output out
set datafile separator ','
set key outside bottom center horizontal noenhanced
set logscale y
set format y '10^{%L}'
set grid
set xlabel 'step'
set ylabel metric noenhanced
set title heading noenhanced
plot for [i=1:words(files)] word(files, i) using 'step':metric with lines lw 1.5 title title_of(i)
