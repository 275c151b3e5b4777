/*
 * sb_html.c - the single-file HTML report: tables, PNG charts as base64 data
 * URIs, SVG charts inline, a small inline style sheet. No script and no
 * reference outside the file, so it opens offline in any browser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_file.h"
#include "sb_report.h"
#include "sb_report_int.h"
#include "sb_util.h"

static void esc(sb_buf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_buf_printf(b, "&lt;"); break;
        case '>': sb_buf_printf(b, "&gt;"); break;
        case '&': sb_buf_printf(b, "&amp;"); break;
        case '"': sb_buf_printf(b, "&quot;"); break;
        default: sb_buf_printf(b, "%c", *s);
        }
    }
}

static char *slurp(const char *path, size_t *len) {
    FILE *f;
    char *s = NULL;
    long n;
    sb_error e;
    if (sb_fopen_regular(path, "a file", &f, &e) < 0) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (s = malloc((size_t)n + 1)) && fread(s, 1, (size_t)n, f) == (size_t)n) {
        s[n] = 0;
        *len = (size_t)n;
    } else {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static void base64(sb_buf *b, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    char q[5] = {0};
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        q[0] = tab[v >> 18], q[1] = tab[v >> 12 & 63], q[2] = tab[v >> 6 & 63], q[3] = tab[v & 63];
        sb_buf_printf(b, "%s", q);
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        q[0] = tab[v >> 18], q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=', q[3] = '=';
        sb_buf_printf(b, "%s", q);
    }
}

/* The <svg> element of a gnuplot SVG file, without the XML prologue and the
 * namespace declarations (an HTML parser needs neither, and they are URLs
 * that a reader might take for external references). */
static void inline_svg(sb_buf *b, char *svg) {
    static const char *const drop[] = {" xmlns=\"", " xmlns:xlink=\"", NULL};
    char *s = strstr(svg, "<svg"), *p;
    int k;
    if (!s) return;
    for (k = 0; drop[k]; k++) {
        if ((p = strstr(s, drop[k]))) {
            char *end = strchr(p + strlen(drop[k]), '"');
            if (end) memmove(p, end + 1, strlen(end + 1) + 1);
        }
    }
    sb_buf_printf(b, "%s", s);
}

static void html_chart(sb_buf *b, const sb_doc_item *it, const char *dir) {
    char *png_path = sb_strdupf("%s/%s.png", dir, it->stem);
    char *svg_path = sb_strdupf("%s/%s.svg", dir, it->stem);
    size_t n = 0, m = 0;
    char *png = png_path ? slurp(png_path, &n) : NULL, *svg = svg_path ? slurp(svg_path, &m) : NULL;
    sb_buf_printf(b, "<figure>\n");
    if (png) {
        sb_buf_printf(b, "<img alt=\"");
        esc(b, it->text);
        sb_buf_printf(b, "\" src=\"data:image/png;base64,");
        base64(b, (const unsigned char *)png, n);
        sb_buf_printf(b, "\">\n");
    } else {
        sb_buf_printf(b, "<p class=\"na\">chart not rendered: %s.png missing (gnuplot not installed or it "
                         "failed; the script %s.gp is beside the report)</p>\n", it->stem, it->stem);
    }
    if (svg) {
        sb_buf_printf(b, "<details><summary>vector version (SVG)</summary>\n");
        inline_svg(b, svg);
        sb_buf_printf(b, "</details>\n");
    }
    sb_buf_printf(b, "<figcaption>");
    esc(b, it->text);
    sb_buf_printf(b, "</figcaption></figure>\n");
    free(png), free(svg), free(png_path), free(svg_path);
}

static void html_table(sb_buf *b, const sb_table *t) {
    size_t r, i;
    int c;
    sb_buf_printf(b, "<table>\n");
    if (t->caption[0]) sb_buf_printf(b, "<caption>"), esc(b, t->caption), sb_buf_printf(b, "</caption>\n");
    sb_buf_printf(b, "<tr>");
    for (c = 0; c < t->ncols; c++) sb_buf_printf(b, "<th>"), esc(b, t->head[c]), sb_buf_printf(b, "</th>");
    sb_buf_printf(b, "</tr>\n");
    for (r = 0; r < t->nrows; r++) {
        sb_buf_printf(b, "<tr>");
        for (c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];
            sb_buf_printf(b, strncmp(cell, "unavailable", 11) == 0 ? "<td class=\"na\">" : "<td>");
            esc(b, cell);
            sb_buf_printf(b, "</td>");
        }
        sb_buf_printf(b, "</tr>\n");
    }
    sb_buf_printf(b, "</table>\n");
    if (t->nnotes) {
        sb_buf_printf(b, "<ul class=\"notes\">\n");
        for (i = 0; i < t->nnotes; i++) {
            sb_buf_printf(b, "<li>[%s] ", t->letters[i]);
            esc(b, t->notes[i]);
            sb_buf_printf(b, "</li>\n");
        }
        sb_buf_printf(b, "</ul>\n");
    }
}

char *sb_doc_html(const sb_doc *d, const char *dir) {
    sb_buf b = {0};
    size_t i;
    sb_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    esc(&b, d->title);
    sb_buf_printf(&b, "</title>\n<style>\n"
                      "body{font-family:sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}\n"
                      "table{border-collapse:collapse;margin:.5em 0;font-size:90%%}\n"
                      "th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}\n"
                      "th{background:#eee}caption{font-weight:bold;text-align:left;padding:4px 0}\n"
                      "td.na{color:#933;font-style:italic}p.na{color:#933}\n"
                      "ul.notes{font-size:80%%;color:#444}img{max-width:100%%}\n"
                      "figure{margin:1em 0}figcaption{font-size:90%%;color:#444}\n"
                      "footer{margin-top:2em;font-size:85%%;color:#555;border-top:1px solid #ccc}\n"
                      "</style></head><body>\n<h1>");
    esc(&b, d->title);
    sb_buf_printf(&b, "</h1>\n");
    for (i = 0; i < d->n; i++) {
        const sb_doc_item *it = &d->items[i];
        switch (it->kind) {
        case SB_ITEM_HEADING: sb_buf_printf(&b, "<h2>"), esc(&b, it->text), sb_buf_printf(&b, "</h2>\n"); break;
        case SB_ITEM_PARA: sb_buf_printf(&b, "<p>"), esc(&b, it->text), sb_buf_printf(&b, "</p>\n"); break;
        case SB_ITEM_TABLE: html_table(&b, it->table); break;
        case SB_ITEM_CHART: html_chart(&b, it, dir); break;
        }
    }
    sb_buf_printf(&b, "<footer><p>");
    esc(&b, SB_HAM10000_ATTRIBUTION);
    sb_buf_printf(&b, "</p><p>Generated by srambench from results.json; every figure is labelled measured, "
                      "simulated or recorded, and unavailable figures say why.</p></footer>\n</body></html>\n");
    if (b.oom) {
        sb_buf_free(&b);
        return NULL;
    }
    return b.s;
}
