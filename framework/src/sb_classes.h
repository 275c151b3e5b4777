/*
 * sb_classes.h - does a model's output mean a dataset's classes? The logit
 * of class k is scored against the dataset's label k, so the two must name
 * the same classes in the same order: a model exported with ISIC's column
 * order (MEL, NV, BCC, ...) scored against DermaMNIST's (akiec, bcc, ...)
 * gives a wrong accuracy without a word. Names are compared ignoring ASCII
 * case, through a small alias table (docs/datasets.md, "Class names").
 */
#ifndef SB_CLASSES_H
#define SB_CLASSES_H

#include "sb_plugin.h"

/* Non-zero when a and b name the same class. */
int sb_class_same(const char *a, const char *b);

/* 0 when graph g (model `model`) and the open dataset ds (`dataset`, plugin
 * api) have the same number of classes and, where both give names, the same
 * names in the same order; else SB_EINVAL with both lists in the message.
 * *unnamed says which side gives no names (then only the count was
 * checked): SB_CLASSES_MODEL_UNNAMED | SB_CLASSES_DATASET_UNNAMED, or 0. */
#define SB_CLASSES_MODEL_UNNAMED 1
#define SB_CLASSES_DATASET_UNNAMED 2
int sb_classes_check(const sb_graph *g, const char *model, const sb_dataset_plugin *api, void *ds,
                     const char *dataset, int *unnamed, sb_error *err);

/* Say on stderr that only the number of classes could be checked. */
void sb_classes_warn(const char *model, const char *dataset, int unnamed, int n_classes);

#endif /* SB_CLASSES_H */
