# Latency against throughput from `unibus bench-latency` (compiled into the binary,
# which runs it as: gnuplot -e "csv='FILE.csv'; png='FILE.png'; title='...'" -).
# By hand: gnuplot -e "csv='latency-sweep.csv'; png='latency-sweep.png'; title='sweep'" scripts/latency_sweep.gp
# Columns (see README): 1 fraction, 2 offered_per_s, 3 achieved_per_s, 4 images,
# 5-7 p50/p95/p99 ms, 8-10 queue, 11-13 inference, 14-16 delivery (p50/p95/p99 ms).
if (!exists("title")) title = "unibus pipeline: latency against throughput"
set terminal pngcairo size 1000,650 noenhanced
set output png
set datafile separator ","
set key autotitle columnhead top left
set title title
set xlabel "throughput (images/s stored)"
set ylabel "latency (ms, produced -> stored)"
set grid
set logscale y
plot csv using 3:5 with linespoints lw 2 pt 7 title "p50", \
     csv using 3:6 with linespoints lw 2 pt 7 title "p95", \
     csv using 3:7 with linespoints lw 2 pt 7 title "p99", \
     csv using 3:10 with linespoints dt 2 pt 6 title "queue p99", \
     csv using 3:13 with linespoints dt 2 pt 6 title "inference p99", \
     csv using 3:16 with linespoints dt 2 pt 6 title "delivery p99"
