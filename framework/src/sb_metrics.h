/*
 * sb_metrics.h - classification and design-space metrics of the views
 * (docs/views.md): confusion matrix, precision / recall / F1, macro AUC
 * (one-vs-rest, trapezoid), expected calibration error, Pareto fronts.
 *
 * Pure functions over arrays: no I/O, no allocation except where stated, so
 * that tests check them against hand-computed values. An undefined figure
 * (e.g. the precision of a class never predicted) is NaN; callers print it
 * as "undefined" with the reason, never as a number.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define SB_ECE_BINS 15

/* cm[t * k + p] += 1 for each sample (true t, predicted p). Samples whose
 * label or prediction is outside 0..k-1 are skipped; returns how many. */
size_t sb_confusion(const int *label, const int *pred, size_t n, int k, int64_t *cm);

typedef struct sb_class_stats {
    int64_t support;     /* samples of the class (row sum)               */
    int64_t predicted;   /* samples predicted as the class (column sum)   */
    double precision;    /* TP / predicted; NaN when never predicted      */
    double recall;       /* TP / support; NaN when the class is absent    */
    double f1;           /* 2TP / (2TP + FP + FN); NaN when both are 0    */
} sb_class_stats;

typedef struct sb_cls_summary {
    int64_t n;                  /* samples in the matrix              */
    double accuracy;            /* trace / n; NaN when n = 0          */
    double balanced_accuracy;   /* mean recall over classes present   */
    double macro_f1;            /* mean F1 over classes with F1 defined */
} sb_cls_summary;

/* Per-class statistics (st has k entries) and the summary of a matrix. */
void sb_class_stats_from_cm(const int64_t *cm, int k, sb_class_stats *st, sb_cls_summary *sum);

/* One-vs-rest ROC AUC of class c: scores[i * k + c] against label == c,
 * trapezoid rule over the ROC curve (ties: one diagonal step, i.e. half
 * credit). NaN when the class has no positive or no negative sample. */
double sb_auc_ovr(const double *scores, const int *label, size_t n, int k, int c);
/* Mean of sb_auc_ovr over the classes where it is defined; *n_used says
 * how many (NaN when none). */
double sb_auc_macro(const double *scores, const int *label, size_t n, int k, int *n_used);

/* Expected calibration error with `bins` equal-width bins over (0, 1]:
 * sum over bins of |bin| / n * |accuracy(bin) - mean confidence(bin)|.
 * A confidence of exactly 0 (or not a number) falls in the first bin, one
 * above 1 in the last. NaN when n = 0.
 * Per-bin figures go to the optional arrays (bins entries each). */
double sb_ece(const double *confidence, const int *correct, size_t n, int bins,
              int64_t *bin_n, double *bin_acc, double *bin_conf);

/* Pareto front for minimising both x and y: front[i] = 1 when no other
 * point is <= in both and < in one. Exact duplicates are all on the front.
 * O(n log n); allocates scratch (returns -1 if that fails, else the number
 * of points on the front). */
long sb_pareto_min2(const double *x, const double *y, size_t n, unsigned char *front);

#endif /* SB_METRICS_H */
