# bench/run.sh's sizes: the adding IRNN's training step (T=150, one thread)
# against the hidden size H, ag and PyTorch, batch 16 as lines, batch 128
# (H=100) as single points; read from the results CSV that bench/run.sh
# writes (ONLY=adding: bench/results-adding.csv).
# gnuplot -e "data='bench/results-adding.csv'; out='plots/bench_sizes.png'" plots/bench_sizes.gp
# The rows used: workload "adding T=150" (H=100, B=16), "adding H=N" (B=16)
# and "adding B=128" (H=100), threads 1; columns 3 workload, 4 threads,
# 6 ag, 7 torch (ms/step).
if (!exists("data")) data = 'bench/results-adding.csv'
if (!exists("out")) out = 'plots/bench_sizes.png'
set terminal pngcairo size 900,560 font ",11"
set output out
set datafile separator ','
set title "Adding IRNN, T=150, one thread: time per training step (lower is better)"
set xlabel "hidden size H"
set ylabel "ms per step"
set logscale x 2
set logscale y
set xtics (100, 256, 512, 1024)
set xrange [80:1300]
set grid xtics ytics mytics
set key top left noenhanced
# h(w): H for a batch-16 row at T=150, undefined for any other row.
h(w) = w eq "adding T=150" ? 100 : (w[1:9] eq "adding H=" ? real(w[10:*]) : NaN)
b128(w) = w eq "adding B=128" ? 100 : NaN
one(th) = th == 1 ? 1 : NaN
# The batch-16 rows into a table first (H, ag, PyTorch): undefined points in
# the plot itself would break its lines where other workloads sit between.
set table $sizes separator comma
plot data using (h(strcol(3))):6:7 with table if (h(strcol(3)) == h(strcol(3)) && $4 == 1)
unset table
plot $sizes using 1:2 smooth unique with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "ag, B=16", \
     '' using 1:3 smooth unique with linespoints pt 5 lw 2 lc rgb "#d62728" title "PyTorch, B=16", \
     data using (b128(strcol(3)) * one($4)):6 with points pt 6 ps 1.8 lw 2 lc rgb "#1f77b4" title "ag, B=128 (H=100)", \
     '' using (b128(strcol(3)) * one($4)):7 with points pt 4 ps 1.8 lw 2 lc rgb "#d62728" title "PyTorch, B=128 (H=100)"
