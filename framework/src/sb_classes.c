/* sb_classes.c - a model's classes against a dataset's (sb_classes.h). */
#include "sb_classes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sb_util.h"

/* HAM10000's dx codes and the long names that DermaMNIST (medmnist's
 * INFO labels), the HAM10000 paper and ISIC 2018 give them. A name found
 * here stands for its code; any other name only matches itself. */
static const struct {
    const char *code;
    const char *names[3];
} aliases[] = {
    {"akiec", {"actinic keratoses", "actinic keratoses and intraepithelial carcinoma", NULL}},
    {"bcc", {"basal cell carcinoma", NULL, NULL}},
    {"bkl", {"benign keratosis-like lesions", "benign keratosis", NULL}},
    {"df", {"dermatofibroma", NULL, NULL}},
    {"mel", {"melanoma", NULL, NULL}},
    {"nv", {"melanocytic nevi", "melanocytic nevus", NULL}},
    {"vasc", {"vascular lesions", "vascular lesion", NULL}},
};

static const char *canonical(const char *name) {
    size_t i, k;
    for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcasecmp(name, aliases[i].code) == 0) return aliases[i].code;
        for (k = 0; k < 3 && aliases[i].names[k]; k++)
            if (strcasecmp(name, aliases[i].names[k]) == 0) return aliases[i].code;
    }
    return name;
}

int sb_class_same(const char *a, const char *b) { return strcasecmp(canonical(a), canonical(b)) == 0; }

/* "a, b, c": the names as each side gives them. */
static void list_model(const sb_graph *g, sb_buf *b) {
    int c;
    for (c = 0; c < g->n_classes; c++) sb_buf_printf(b, "%s%s", c ? ", " : "", g->class_names[c]);
}

static void list_dataset(const sb_dataset_plugin *api, void *ds, int n, sb_buf *b) {
    int c;
    for (c = 0; c < n; c++) sb_buf_printf(b, "%s%s", c ? ", " : "", api->class_name(ds, c));
}

/* SB_CLASSES_MODEL_UNNAMED | SB_CLASSES_DATASET_UNNAMED, or 0. */
static int unnamed_sides(const sb_graph *g, const sb_dataset_plugin *api, void *ds) {
    int c, u = 0;
    for (c = 0; c < g->n_classes; c++) {
        if (!g->class_names || !g->class_names[c]) u |= SB_CLASSES_MODEL_UNNAMED;
        if (!api->class_name || !api->class_name(ds, c)) u |= SB_CLASSES_DATASET_UNNAMED;
    }
    return u;
}

static int mismatch(const sb_graph *g, const char *model, const sb_dataset_plugin *api, void *ds, const char *dataset,
                    int c, sb_error *err) {
    sb_buf m = {0}, d = {0};
    list_model(g, &m);
    list_dataset(api, ds, g->n_classes, &d);
    sb_error_set(err, SB_EINVAL, "model '%s' classes [%s] are not dataset '%s' classes [%s]: class %d is '%s' in the "
                 "model, '%s' in the dataset: expected the same classes in the same order (names compared ignoring "
                 "case, with the aliases of docs/datasets.md); the model would be scored against the wrong labels",
                 model, m.s ? m.s : "", dataset, d.s ? d.s : "", c, g->class_names[c], api->class_name(ds, c));
    sb_buf_free(&m);
    sb_buf_free(&d);
    return SB_EINVAL;
}

int sb_classes_check(const sb_graph *g, const char *model, const sb_dataset_plugin *api, void *ds,
                     const char *dataset, int *unnamed, sb_error *err) {
    int n = api->n_classes(ds), c;
    *unnamed = 0;
    if (g->n_classes != n)
        return sb_error_set(err, SB_EINVAL, "model '%s' has %d classes but dataset '%s' has %d: expected the same",
                            model, g->n_classes, dataset, n);
    if ((*unnamed = unnamed_sides(g, api, ds)) != 0) return 0;
    for (c = 0; c < n; c++)
        if (!sb_class_same(g->class_names[c], api->class_name(ds, c))) return mismatch(g, model, api, ds, dataset, c, err);
    return 0;
}

void sb_classes_warn(const char *model, const char *dataset, int unnamed, int n_classes) {
    const char *from = unnamed == SB_CLASSES_MODEL_UNNAMED ? "model" :
                       unnamed == SB_CLASSES_DATASET_UNNAMED ? "dataset" : "model and the dataset";
    fprintf(stderr, "srambench: warning: model '%s' x dataset '%s': no class names from the %s: only the number "
            "of classes (%d) was checked, not their order\n", model, dataset, from, n_classes);
}
