/* Plots of a metrics folder (knit-sim plot), drawn by gnuplot.
 *
 * From the CSV files knit_sim_metrics_write left in dir, writes dir/plots.gp
 * (a gnuplot script that can be rerun by hand: cd dir && gnuplot plots.gp)
 * and runs gnuplot on it in dir, making:
 *   lookup_latency_cdf.png  CDF of successful lookups' latency (ms; log x
 *                           when the latencies span 20x or more)
 *   lookup_hops.png         histogram of hops per successful lookup
 *   nat_matrix.png          heat map, dialer class by target class, of the
 *                           share of connection attempts that connected
 *                           (direct or relayed), with the share and the
 *                           attempts written in each cell
 *   traffic_cdf.png         CDF of bytes sent per node (log x likewise)
 *   relay_load.png          bytes each relay node carried, busiest first
 *                           (log y when they span 20x or more)
 * A plot with nothing to show (no successful lookup, no connection attempt,
 * no node, no relayed circuit) is skipped, its old PNG removed, and a line says so. gnuplot is
 * needed (Debian package gnuplot-nox); its own messages go to stderr. */
#ifndef KNIT_SIM_PLOT_H
#define KNIT_SIM_PLOT_H

#include <stddef.h>
#include <stdio.h>

/* knit_sim_plot_with(dir, "gnuplot", stdout, err, errlen). */
int knit_sim_plot(const char *dir, char *err, size_t errlen);

/* Writes one line per PNG made ("DIR/NAME.png") and per plot skipped
 * ("skipped NAME.png: no ...") to out. gnuplot is the program to run, looked
 * up in PATH. Returns 0; KNIT_E_IO when gnuplot is not installed (err:
 * "gnuplot not found; install it: apt-get install gnuplot-nox"), a CSV is
 * missing or unreadable, the script cannot be written, or gnuplot fails or
 * leaves a PNG out; KNIT_E_MALFORMED when a CSV does not start with its
 * header; KNIT_E_INVAL for a NULL or empty dir or gnuplot. err says which
 * file and why (err may be NULL). */
int knit_sim_plot_with(const char *dir, const char *gnuplot, FILE *out,
                       char *err, size_t errlen);

#endif
