/*
 * sb_charts.h - gnuplot charts of the views: each chart is a data file
 * <stem>.dat and a script <stem>.gp (without a terminal, so it renders
 * anywhere), rendered to <stem>.png (pngcairo) and <stem>.svg.
 */
#ifndef SB_CHARTS_H
#define SB_CHARTS_H

#include "sb_plugin.h"

/* Write the data and the script into `dir`; with `render`, run gnuplot
 * (in `dir`) for the PNG and the SVG at width x height pixels. Returns 0,
 * SB_EUNAVAILABLE when gnuplot is not installed (files written), or
 * SB_EIO. The script reads its data as '<stem>.dat'. */
int sb_chart_write(const char *dir, const char *stem, const char *data, const char *script, int width_px,
                   int height_px, int render, sb_error *err);

/* The preamble every chart shares: font, grid, key placement. */
#define SB_CHART_STYLE                                                                           \
    "set encoding utf8\n"                                                                        \
    "set grid ytics lc rgb '#dddddd'\n"                                                           \
    "set border 3\nset tics nomirror\n"                                                          \
    "set style fill solid 0.85 border -1\n"

/* Text safe inside a gnuplot single-quoted string (quotes doubled, no
 * newlines, enhanced-text specials escaped); malloc'd. */
char *sb_gp_quote(const char *s);

#endif /* SB_CHARTS_H */
