# Bar chart of bench/run.sh's speed-ups: PyTorch's time over ag's, per
# workload, one bar per thread count.
# gnuplot -e "data='FILE'; output='plots/bench.png'" plots/bench.gp
# where FILE has lines: workload speedup_1_thread speedup_2_threads
if (!exists("data")) data = 'bench/speedups.dat'
if (!exists("output")) output = 'plots/bench.png'
set terminal pngcairo size 900,500 font ",11"
set output output
set title "ag's speed-up over PyTorch on the same training work (higher is better)"
set ylabel "PyTorch time / ag time"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key top right
set xtics noenhanced
plot data using 2:xtic(1) title "1 thread", '' using 3 title "2 threads", \
     1 with lines dashtype 2 linecolor rgb "black" title "same speed"
