# The paper's Figure 2: test MSE against step, one panel per T, one line per model.
#   gnuplot -e "dir='runs/adding-sweep-...'" -e "out='plots/adding_sweep.png'" plots/adding_sweep.gp
# dir holds one run directory per model and T, named MODEL-T<T> (as demos/adding_sweep.sh makes them).
if (!exists("dir")) { print "adding_sweep.gp: set dir='runs/adding-sweep-...'"; exit status 2 }
if (!exists("out")) out = 'plots/adding_sweep.png'
lengths = "150 200 300 400"
models = "irnn rnn-tanh lstm"

set terminal pngcairo size 1200,850 enhanced font ',10'
set output out
set datafile separator ','
set datafile missing ''
set logscale y
set format y '10^{%L}'
set yrange [1e-4:1]
set grid
set xlabel 'step'
set ylabel 'test MSE'
set key top right noenhanced
set multiplot layout 2,2 title 'Adding problem on ag: test MSE against step (batch 16, hidden 100, Adam lr 1e-4, clip 1)'
do for [i=1:words(lengths)] {
    T = word(lengths, i)
    set title sprintf('T = %s', T)
    plot for [m=1:words(models)] sprintf('%s/%s-T%s/metrics.csv', dir, word(models, m), T) \
         using 'step':'test_mse' with linespoints pt 7 ps 0.3 lw 1.5 title word(models, m), \
         1.0/6 with lines dt 2 lc rgb 'gray' title 'baseline (answer 1)'
}
unset multiplot
