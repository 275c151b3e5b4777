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

static int write_file_bytes(const char *dir, const char *stem, const char *ext, const void *data, size_t n,
                            sb_error *err) {
    char *p = sb_strdupf("%s/%s.%s", dir, stem, ext);
    int rc = p ? sb_write_atomic(p, data, n, err) : SB_ENOMEM;
    free(p);
    return rc;
}

static int write_file(const char *dir, const char *stem, const char *ext, const char *text, sb_error *err) {
    return write_file_bytes(dir, stem, ext, text, strlen(text), err);
}

/* gnuplot draws on its stdout (no `set output`: it would open the final
 * name itself, following a link planted there); the picture is then written
 * like every other file, through a temp file and rename. */
static int render(const char *dir, const char *stem, const char *term, const char *ext, int w, int h,
                  sb_error *err) {
    char *set = sb_strdupf("set terminal %s size %d,%d font 'DejaVu Sans,%d' enhanced background rgb 'white'",
                           term, w, h, strcmp(ext, "svg") == 0 ? 13 : 11);
    char *gp = sb_strdupf("%s.gp", stem);
    char *argv[] = {(char *)"gnuplot", (char *)"-e", set, gp, NULL};
    char *img = NULL;
    size_t n = 0;
    int rc = set && gp ? sb_run_capture(dir, argv, &img, &n) : -1;
    free(set), free(gp);
    if (rc == 0 && !img) rc = -1; /* out of memory */
    if (rc == 0) {
        rc = write_file_bytes(dir, stem, ext, img, n, err);
        free(img);
        return rc;
    }
    free(img);
    {
        /* no picture of an earlier run for the HTML to embed */
        char *out = sb_strdupf("%s/%s.%s", dir, stem, ext);
        if (out) unlink(out);
        free(out);
    }
    return sb_error_set(err, SB_EIO, "%s/%s.gp: gnuplot failed (exit %d) rendering %s; the script is kept",
                        dir, stem, rc, ext);
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
