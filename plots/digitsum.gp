# digitsum: training and validation loss (log scale) and validation accuracy per epoch.
#   gnuplot -e "file='runs/digitsum-.../metrics.csv'" -e "out='plots/digitsum.png'" plots/digitsum.gp
if (!exists("file")) { print "digitsum.gp: set file='runs/digitsum-.../metrics.csv'"; exit status 2 }
if (!exists("out")) out = 'plots/digitsum.png'
set terminal pngcairo size 1100,450 enhanced font ',10'
set output out
set datafile separator ','
set grid
set key noenhanced
set xlabel 'epoch'
set multiplot layout 1,2 title 'digitsum: ' . system("basename $(dirname " . file . ")") noenhanced
set logscale y
set format y '10^{%L}'
set ylabel 'cross-entropy'
plot file using 'step':'loss' with linespoints pt 7 ps 0.5 title 'training loss', \
     file using 'step':'val_loss' with linespoints pt 7 ps 0.5 title 'validation loss'
unset logscale y
set format y '%g'
set ylabel 'validation accuracy (exact match)'
set yrange [0:1]
plot file using 'step':'val_acc' with linespoints pt 7 ps 0.5 title 'validation accuracy'
unset multiplot
