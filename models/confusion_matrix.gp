# Draws a confusion matrix CSV written by `unibus evaluate` as a heat map with counts.
#   gnuplot -c models/confusion_matrix.gp models/fashion_cnn_confusion.csv models/fashion_cnn_confusion.png
# Rows: true class (top to bottom in label order); columns: predicted class.
csv = ARG1
png = ARG2
set terminal pngcairo size 820,720 font 'sans,10'
set output png
set datafile separator ','
set title 'Fashion-MNIST test set: confusion matrix (true class x predicted class)'
set xlabel 'predicted class'
set ylabel 'true class'
set yrange [9.5:-0.5]
set xrange [-0.5:9.5]
set xtics rotate by -40 left
set tics scale 0
set logscale cb
set cbrange [1:1000]
set cblabel 'images'
set palette defined (0 '#ffffff', 1 '#c6dbef', 2 '#6baed6', 3 '#08519c')
unset key
plot csv matrix rowheaders columnheaders using 1:2:($3 > 0 ? $3 : 1) with image, \
     csv matrix rowheaders columnheaders using 1:2:(sprintf('%d', $3)) \
         with labels font 'sans,9'
