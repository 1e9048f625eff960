# plot.gp - clustered bar chart from a whitespace table whose first row is a
# header (first column: category; one column per series).
#   gnuplot -c plot.gp DATA OUT.png "title" "y label" log|lin
data = ARG1
set terminal pngcairo size 1200,600 noenhanced font "sans,10"
set output ARG2
set title ARG3
set ylabel ARG4
if (ARG5 eq "log") { set logscale y }
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics rotate by -25
set yrange [0:*]
if (ARG5 eq "log") { set yrange [*:*] }
ncol = system("head -1 '" . data . "' | wc -w") + 0
if (ncol > 2) {
    plot for [i=2:ncol] data using i:xtic(1) title columnheader(i)
} else {
    unset key
    plot data using 2:xtic(1)
}
