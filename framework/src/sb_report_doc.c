/* sb_report_doc.c - the document model of the views and its markdown form. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sb_charts.h"
#include "sb_report.h"
#include "sb_report_int.h"
#include "sb_util.h"

static sb_doc_item *add_item(sb_doc *d, int kind) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        sb_doc_item *v = realloc(d->items, cap * sizeof *v);
        if (!v) abort(); /* out of memory while building a report: nothing to keep */
        d->items = v, d->cap = cap;
    }
    memset(&d->items[d->n], 0, sizeof d->items[0]);
    d->items[d->n].kind = kind;
    return &d->items[d->n++];
}

static char *vfmt(const char *fmt, va_list ap) {
    va_list ap2;
    int n;
    char *s;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    s = malloc((size_t)n + 1);
    if (!s) abort();
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *xstrdup(const char *s) {
    char *r = strdup(s ? s : "");
    if (!r) abort();
    return r;
}

sb_doc *sb_doc_new(const char *title) {
    sb_doc *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->title = xstrdup(title);
    return d;
}

static void table_free(sb_table *t) {
    size_t i;
    if (!t) return;
    for (i = 0; i < (size_t)t->ncols; i++) free(t->head[i]);
    for (i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    for (i = 0; i < t->nnotes; i++) free(t->notes[i]), free(t->letters[i]);
    free(t->head), free(t->cells), free(t->notes), free(t->letters), free(t->caption);
    free(t);
}

void sb_doc_free(sb_doc *d) {
    size_t i;
    if (!d) return;
    for (i = 0; i < d->n; i++) {
        free(d->items[i].text);
        free(d->items[i].stem);
        table_free(d->items[i].table);
    }
    free(d->items);
    free(d->title);
    free(d);
}

void sb_doc_heading(sb_doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_item(d, SB_ITEM_HEADING)->text = vfmt(fmt, ap);
    va_end(ap);
}

void sb_doc_para(sb_doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_item(d, SB_ITEM_PARA)->text = vfmt(fmt, ap);
    va_end(ap);
}

void sb_doc_chart(sb_doc *d, const char *stem, const char *caption) {
    sb_doc_item *it = add_item(d, SB_ITEM_CHART);
    it->stem = xstrdup(stem);
    it->text = xstrdup(caption);
}

sb_table *sb_doc_table(sb_doc *d, const char *caption, int ncols, const char *const *head) {
    sb_table *t = calloc(1, sizeof *t);
    int i;
    if (!t) abort();
    t->ncols = ncols;
    t->caption = xstrdup(caption);
    t->head = calloc((size_t)ncols, sizeof *t->head);
    if (!t->head) abort();
    for (i = 0; i < ncols; i++) t->head[i] = xstrdup(head[i]);
    add_item(d, SB_ITEM_TABLE)->table = t;
    return t;
}

void sb_table_row(sb_table *t, const char *const *cells) {
    int i;
    char **v = realloc(t->cells, (t->nrows + 1) * (size_t)t->ncols * sizeof *v);
    if (!v) abort();
    t->cells = v;
    for (i = 0; i < t->ncols; i++) v[t->nrows * (size_t)t->ncols + (size_t)i] = xstrdup(cells[i]);
    t->nrows++;
}

const char *sb_table_note(sb_table *t, const char *text) {
    size_t i, k;
    char letters[8];
    int n = 0;
    for (i = 0; i < t->nnotes; i++)
        if (strcmp(t->notes[i], text) == 0) return t->letters[i];
    t->notes = realloc(t->notes, (t->nnotes + 1) * sizeof *t->notes);
    t->letters = realloc(t->letters, (t->nnotes + 1) * sizeof *t->letters);
    if (!t->notes || !t->letters) abort();
    /* letters rather than digits, so that a note mark is never read as part
     * of a figure: a..z, aa..zz */
    k = t->nnotes;
    if (k >= 26) letters[n++] = (char)('a' + (k / 26 - 1) % 26);
    letters[n++] = (char)('a' + k % 26);
    letters[n] = 0;
    t->notes[t->nnotes] = xstrdup(text);
    t->letters[t->nnotes] = xstrdup(letters);
    return t->letters[t->nnotes++];
}

void sb_doc_chart_render(sb_doc *d, const char *dir, int render, const char *stem, const char *caption,
                         const char *data, const char *script, int width_px, int height_px) {
    sb_error err = {0};
    if (sb_chart_write(dir, stem, data, script, width_px, height_px, render, &err) < 0)
        sb_doc_para(d, "Chart %s: %s", stem, err.msg);
    sb_doc_chart(d, stem, caption);
}

/* ------------------------------------------------------------ figures */

const char *sb_json_str(const cJSON *o, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

double sb_json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

double sb_fig_value(const cJSON *fig) { return sb_json_num(fig, "value"); }
const char *sb_fig_prov(const cJSON *fig) { return sb_json_str(fig, "provenance", NULL); }
const char *sb_fig_note(const cJSON *fig) { return sb_json_str(fig, "note", NULL); }

char *sb_fig_cell(sb_table *t, const cJSON *fig, double scale, const char *fmt, const char *unit) {
    double v = sb_fig_value(fig);
    const char *prov = sb_fig_prov(fig), *note = sb_fig_note(fig);
    char num[64];
    if (!fig) return xstrdup("unavailable: not in results.json");
    if (isnan(v) || !prov) return sb_strdupf("unavailable: %s", note && *note ? note : "no reason given");
    if (!unit) unit = sb_json_str(fig, "unit", NULL);
    /* %g would print 17140 as 1.714e+04: large values as integers */
    if ((!fmt || strcmp(fmt, "%.4g") == 0) && fabs(v * scale) >= 1e4 && fabs(v * scale) < 1e15)
        snprintf(num, sizeof num, "%.0f", v * scale);
    else snprintf(num, sizeof num, fmt ? fmt : "%.4g", v * scale);
    if (note && *note && t)
        return sb_strdupf("%s%s%s (%s [%s])", num, unit && *unit && strcmp(unit, "1") ? " " : "",
                          unit && strcmp(unit, "1") ? unit : "", prov, sb_table_note(t, note));
    return sb_strdupf("%s%s%s (%s)", num, unit && *unit && strcmp(unit, "1") ? " " : "",
                      unit && strcmp(unit, "1") ? unit : "", prov);
}

/* ----------------------------------------------------------- markdown */

/* Table cells must not break the markdown row. */
static void md_cell(sb_buf *b, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') sb_buf_printf(b, "\\|");
        else if (*s == '\n') sb_buf_printf(b, " ");
        else sb_buf_printf(b, "%c", *s);
    }
}

static void md_table(sb_buf *b, const sb_table *t) {
    size_t r, i;
    int c;
    if (t->caption[0]) sb_buf_printf(b, "**%s**\n\n", t->caption);
    sb_buf_printf(b, "|");
    for (c = 0; c < t->ncols; c++) sb_buf_printf(b, " "), md_cell(b, t->head[c]), sb_buf_printf(b, " |");
    sb_buf_printf(b, "\n|");
    for (c = 0; c < t->ncols; c++) sb_buf_printf(b, "---|");
    sb_buf_printf(b, "\n");
    for (r = 0; r < t->nrows; r++) {
        sb_buf_printf(b, "|");
        for (c = 0; c < t->ncols; c++)
            sb_buf_printf(b, " "), md_cell(b, t->cells[r * (size_t)t->ncols + (size_t)c]), sb_buf_printf(b, " |");
        sb_buf_printf(b, "\n");
    }
    if (t->nnotes) sb_buf_printf(b, "\n");
    for (i = 0; i < t->nnotes; i++) sb_buf_printf(b, "- [%s] %s\n", t->letters[i], t->notes[i]);
    sb_buf_printf(b, "\n");
}

char *sb_doc_markdown(const sb_doc *d) {
    sb_buf b = {0};
    size_t i;
    sb_buf_printf(&b, "# %s\n\n", d->title);
    for (i = 0; i < d->n; i++) {
        const sb_doc_item *it = &d->items[i];
        switch (it->kind) {
        case SB_ITEM_HEADING: sb_buf_printf(&b, "## %s\n\n", it->text); break;
        case SB_ITEM_PARA: sb_buf_printf(&b, "%s\n\n", it->text); break;
        case SB_ITEM_TABLE: md_table(&b, it->table); break;
        case SB_ITEM_CHART: sb_buf_printf(&b, "![%s](%s.png)\n\n", it->text, it->stem); break;
        }
    }
    sb_buf_printf(&b, "---\n%s\n", SB_HAM10000_ATTRIBUTION);
    if (b.oom) {
        sb_buf_free(&b);
        return NULL;
    }
    return b.s;
}
