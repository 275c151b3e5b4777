/*
 * ham_meta.h - HAM10000 in its original layout: the metadata, where each
 * image file is, and the splits. Shared by the ham10000 plugin and `sbprep`
 * (which the Python training tool calls), so both select the same images.
 */
#ifndef HAM_META_H
#define HAM_META_H

#include <stddef.h>
#include <stdint.h>

#include "sb_image.h"
#include "sb_plugin.h"

#define HAM_N_CLASSES 7
#define HAM_META_FILE "HAM10000_metadata.csv"
#define HAM_SPLIT_FILE "dermamnist_split_info.csv"

extern const char *const ham_class_names[HAM_N_CLASSES];

typedef enum { HAM_SPLIT_DERMAMNIST = 0, HAM_SPLIT_LESION = 1, HAM_SPLIT_ALL = 2 } ham_split_kind;
enum { HAM_TRAIN = 0, HAM_VAL = 1, HAM_TEST = 2, HAM_NO_SUBSET = -1 };

typedef struct ham_sample {
    char *image_id, *lesion_id, *dx, *dx_type, *age, *sex, *localization;
    char *path;    /* the JPEG: where it was found, else where it was expected */
    int missing;   /* no file at `path` when the metadata was loaded */
    const char *why; /* missing: what is there instead ("is a directory"), or NULL: nothing */
    int label;     /* index into ham_class_names */
    int row;       /* line in HAM10000_metadata.csv */
    int subset;    /* HAM_TRAIN/VAL/TEST under the chosen split, or HAM_NO_SUBSET */
} ham_sample;

typedef struct ham_meta {
    char *dir;
    char *meta_path;
    ham_sample *s;   /* in metadata-row order = the cache's record order */
    size_t n;
} ham_meta;

/* Load dir/HAM10000_metadata.csv and locate every image (images_200x150/,
 * HAM10000_images_part_1/, HAM10000_images_part_2/, HAM10000_images/, dir).
 * A missing folder or metadata file gives a message that says what to
 * download and where to put it. */
int ham_meta_load(const char *dir, ham_meta *m, sb_error *err);
void ham_meta_free(ham_meta *m);

/* Parse "dermamnist" | "lesion" | "all" and "train" | "val" | "test" | "all". */
int ham_parse_split(const char *s, ham_split_kind *kind);
int ham_parse_subset(const char *s, int *subset); /* "all" -> HAM_NO_SUBSET */
const char *ham_subset_name(int subset);           /* "train", ..., "all" */

/* Set every sample's subset. fractions (train, val, test) are for `lesion`
 * only: each >= 0, summing to 1. */
int ham_split(ham_meta *m, ham_split_kind kind, uint64_t seed, const double fractions[3], sb_error *err);

/* The cache inputs: every image of the folder, in metadata order, so the
 * plugin and sbprep share one .sbc file per size. items[i] points into m. */
int ham_cache_items(const ham_meta *m, sb_cache_item **items, sb_error *err);

/* splitmix64: the PRNG of the lesion split (stable across machines). */
uint64_t ham_splitmix64(uint64_t *state);

#endif /* HAM_META_H */
