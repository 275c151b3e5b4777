/* sb_metrics.c - classification metrics and Pareto fronts (sb_metrics.h). */
#include "sb_metrics.h"

#include <math.h>
#include <stdlib.h>

size_t sb_confusion(const int *label, const int *pred, size_t n, int k, int64_t *cm) {
    size_t i, skipped = 0;
    for (i = 0; i < n; i++) {
        if (label[i] < 0 || label[i] >= k || pred[i] < 0 || pred[i] >= k) {
            skipped++;
            continue;
        }
        cm[(size_t)label[i] * (size_t)k + (size_t)pred[i]]++;
    }
    return skipped;
}

void sb_class_stats_from_cm(const int64_t *cm, int k, sb_class_stats *st, sb_cls_summary *sum) {
    int64_t n = 0, trace = 0;
    double rec_sum = 0, f1_sum = 0;
    int n_rec = 0, n_f1 = 0, t, p;
    for (t = 0; t < k; t++) {
        int64_t tp = cm[t * k + t], row = 0, col = 0;
        for (p = 0; p < k; p++) {
            row += cm[t * k + p];
            col += cm[p * k + t];
        }
        st[t].support = row;
        st[t].predicted = col;
        st[t].precision = col ? (double)tp / (double)col : NAN;
        st[t].recall = row ? (double)tp / (double)row : NAN;
        /* 2TP/(2TP+FP+FN) stays defined for a class that has samples but is
         * never predicted (F1 = 0), where the precision is not. */
        st[t].f1 = (row + col) ? 2.0 * (double)tp / (double)(row + col) : NAN;
        n += row;
        trace += tp;
        if (row) rec_sum += st[t].recall, n_rec++;
        if (row + col) f1_sum += st[t].f1, n_f1++;
    }
    sum->n = n;
    sum->accuracy = n ? (double)trace / (double)n : NAN;
    sum->balanced_accuracy = n_rec ? rec_sum / n_rec : NAN;
    sum->macro_f1 = n_f1 ? f1_sum / n_f1 : NAN;
}

typedef struct scored {
    double s;
    int pos;
} scored;

static int by_score_desc(const void *a, const void *b) {
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

double sb_auc_ovr(const double *scores, const int *label, size_t n, int k, int c) {
    scored *v = malloc((n ? n : 1) * sizeof *v);
    size_t i, j, npos = 0, nneg;
    double area = 0, tp = 0, fp = 0;
    if (!v) return NAN;
    for (i = 0; i < n; i++) {
        v[i].s = scores[i * (size_t)k + (size_t)c];
        v[i].pos = label[i] == c;
        npos += (size_t)v[i].pos;
    }
    nneg = n - npos;
    if (!npos || !nneg) {
        free(v);
        return NAN;
    }
    qsort(v, n, sizeof *v, by_score_desc);
    /* Walk thresholds from high to low; a group of tied scores moves the
     * ROC point diagonally, which the trapezoid counts as half credit. */
    for (i = 0; i < n; i = j) {
        double tp0 = tp, fp0 = fp;
        for (j = i; j < n && v[j].s == v[i].s; j++) {
            if (v[j].pos) tp++;
            else fp++;
        }
        area += (fp - fp0) * (tp + tp0) / 2.0;
    }
    free(v);
    return area / ((double)npos * (double)nneg);
}

double sb_auc_macro(const double *scores, const int *label, size_t n, int k, int *n_used) {
    double sum = 0;
    int c, used = 0;
    for (c = 0; c < k; c++) {
        double a = sb_auc_ovr(scores, label, n, k, c);
        if (!isnan(a)) sum += a, used++;
    }
    if (n_used) *n_used = used;
    return used ? sum / used : NAN;
}

double sb_ece(const double *confidence, const int *correct, size_t n, int bins,
              int64_t *bin_n, double *bin_acc, double *bin_conf) {
    double ece = 0;
    size_t i;
    int b;
    int64_t *cnt = calloc((size_t)bins, sizeof *cnt);
    double *acc = calloc((size_t)bins, sizeof *acc), *conf = calloc((size_t)bins, sizeof *conf);
    if (!cnt || !acc || !conf || bins < 1) {
        free(cnt), free(acc), free(conf);
        return NAN;
    }
    for (i = 0; i < n; i++) {
        /* bin b holds (b/bins, (b+1)/bins]; 0 goes to the first bin. The
         * range is tested before the conversion: a NaN or huge value must
         * not reach (int) (callers validate; this keeps it defined). */
        double x = confidence[i];
        b = x > 0 ? (x < 1 ? (int)ceil(x * bins) - 1 : bins - 1) : 0;
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        cnt[b]++;
        acc[b] += correct[i] ? 1.0 : 0.0;
        conf[b] += confidence[i];
    }
    for (b = 0; b < bins; b++) {
        if (cnt[b]) {
            acc[b] /= (double)cnt[b];
            conf[b] /= (double)cnt[b];
            ece += (double)cnt[b] / (double)n * fabs(acc[b] - conf[b]);
        }
        if (bin_n) bin_n[b] = cnt[b];
        if (bin_acc) bin_acc[b] = cnt[b] ? acc[b] : NAN;
        if (bin_conf) bin_conf[b] = cnt[b] ? conf[b] : NAN;
    }
    free(cnt), free(acc), free(conf);
    return n ? ece : NAN;
}

typedef struct xy {
    double x, y;
    size_t i;
} xy;

static int by_x_then_y(const void *a, const void *b) {
    const xy *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return 0;
}

long sb_pareto_min2(const double *x, const double *y, size_t n, unsigned char *front) {
    xy *v = malloc((n ? n : 1) * sizeof *v);
    double best_y = INFINITY; /* smallest y among points of smaller x */
    size_t i, j, k;
    long count = 0;
    if (!v) return -1;
    for (i = 0; i < n; i++) v[i] = (xy){x[i], y[i], i}, front[i] = 0;
    qsort(v, n, sizeof *v, by_x_then_y);
    for (i = 0; i < n; i = j) {
        /* group of equal x: only its smallest y can survive, and only if it
         * beats every point of smaller x */
        for (j = i; j < n && v[j].x == v[i].x; j++) {}
        if (v[i].y < best_y) {
            for (k = i; k < j && v[k].y == v[i].y; k++) front[v[k].i] = 1, count++;
            best_y = v[i].y;
        }
    }
    free(v);
    return count;
}
