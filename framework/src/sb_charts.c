/* sb_charts.c - write and render gnuplot charts (sb_charts.h). */
#include "sb_charts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_results.h"
#include "sb_util.h"

char *sb_gp_quote(const char *s) {
    sb_buf b = {0};
    for (; s && *s; s++) {
        if (*s == '\'') sb_buf_printf(&b, "''");
        else if (*s == '\n') sb_buf_printf(&b, " ");
        /* enhanced text: _ ^ @ & { } would format, not print */
        else if (strchr("_^@&{}", *s)) sb_buf_printf(&b, "\\%c", *s);
        else sb_buf_printf(&b, "%c", *s);
    }
    if (!b.s) return strdup("");
    return b.s;
}

static int gnuplot_found(void) {
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL;
    int found = 0;
    if (!path) return 0;
    copy = strdup(path);
    for (dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *p = sb_strdupf("%s/gnuplot", dir);
        found = p && access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return found;
}

static int write_file(const char *dir, const char *stem, const char *ext, const char *text, sb_error *err) {
    char *p = sb_strdupf("%s/%s.%s", dir, stem, ext);
    int rc = p ? sb_write_atomic(p, text, strlen(text), err) : SB_ENOMEM;
    free(p);
    return rc;
}

static int render(const char *dir, const char *stem, const char *term, const char *ext, int w, int h,
                  sb_error *err) {
    char *set = sb_strdupf("set terminal %s size %d,%d font 'DejaVu Sans,%d' enhanced background rgb 'white'; "
                           "set output '%s.%s'",
                           term, w, h, strcmp(ext, "svg") == 0 ? 13 : 11, stem, ext);
    char *gp = sb_strdupf("%s.gp", stem);
    char *argv[] = {(char *)"gnuplot", (char *)"-e", set, gp, NULL};
    int rc = set && gp ? sb_run_program(dir, argv, NULL) : -1;
    free(set), free(gp);
    if (rc != 0) {
        /* no half-drawn picture for the HTML to embed */
        char *out = sb_strdupf("%s/%s.%s", dir, stem, ext);
        if (out) unlink(out);
        free(out);
    }
    if (rc != 0)
        return sb_error_set(err, SB_EIO, "%s/%s.gp: gnuplot failed (exit %d) rendering %s; the script is kept",
                            dir, stem, rc, ext);
    return 0;
}

int sb_chart_write(const char *dir, const char *stem, const char *data, const char *script, int width_px,
                   int height_px, int do_render, sb_error *err) {
    int rc;
    if ((rc = write_file(dir, stem, "dat", data, err)) < 0) return rc;
    if ((rc = write_file(dir, stem, "gp", script, err)) < 0) return rc;
    if (!do_render) return 0;
    if (!gnuplot_found())
        return sb_error_set(err, SB_EUNAVAILABLE, "gnuplot not found: %s/%s.gp written, not rendered "
                                                  "(install gnuplot-nox)", dir, stem);
    if ((rc = render(dir, stem, "pngcairo", "png", width_px, height_px, err)) < 0) return rc;
    return render(dir, stem, "svg", "svg", width_px, height_px, err);
}
