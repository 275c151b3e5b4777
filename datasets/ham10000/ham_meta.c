/*
 * ham_meta.c - HAM10000 metadata, image location and splits (see ham_meta.h).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ham_meta.h"
#include "sb_csv.h"

const char *const ham_class_names[HAM_N_CLASSES] = {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"};

static const char *const image_dirs[] = {"images_200x150", "HAM10000_images_part_1",
                                         "HAM10000_images_part_2", "HAM10000_images", "."};
#define N_IMAGE_DIRS (sizeof image_dirs / sizeof image_dirs[0])

static const char *const meta_columns[7] = {"lesion_id", "image_id", "dx", "dx_type",
                                            "age", "sex", "localization"};

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}
/* For the metadata and split files: one that is there but no regular file (a
 * folder, a FIFO) is sb_csv_open's to name, not "not found". */
static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static char *join(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s%s", a, b, c);
    return s;
}

static int missing_data_error(const char *dir, const char *what, sb_error *err) {
    return sb_error_set(err, SB_ENOENT,
        "%s: %s not found. The ham10000 dataset needs HAM10000 in its original layout: "
        "HAM10000_images_part_1/ and HAM10000_images_part_2/ (or images_200x150/) with the ISIC_*.jpg files, "
        "HAM10000_metadata.csv, and dermamnist_split_info.csv (for split = \"dermamnist\"; it is in this "
        "project's shared data, ../shared/data/ham10000). Download HAM10000 from the ISIC archive or the "
        "Harvard Dataverse (doi:10.7910/DVN/DBW86T), then point $HAM10000_DIR or the dataset's `path` "
        "in bench.toml (sbprep: --dataset-dir) at that folder.",
        dir, what);
}

int ham_parse_split(const char *s, ham_split_kind *kind) {
    if (strcmp(s, "dermamnist") == 0) *kind = HAM_SPLIT_DERMAMNIST;
    else if (strcmp(s, "lesion") == 0) *kind = HAM_SPLIT_LESION;
    else if (strcmp(s, "all") == 0) *kind = HAM_SPLIT_ALL;
    else return SB_EINVAL;
    return SB_OK;
}

int ham_parse_subset(const char *s, int *subset) {
    if (strcmp(s, "train") == 0) *subset = HAM_TRAIN;
    else if (strcmp(s, "val") == 0) *subset = HAM_VAL;
    else if (strcmp(s, "test") == 0) *subset = HAM_TEST;
    else if (strcmp(s, "all") == 0) *subset = HAM_NO_SUBSET;
    else return SB_EINVAL;
    return SB_OK;
}

const char *ham_subset_name(int subset) {
    switch (subset) {
    case HAM_TRAIN: return "train";
    case HAM_VAL: return "val";
    case HAM_TEST: return "test";
    default: return "all";
    }
}

void ham_meta_free(ham_meta *m) {
    for (size_t i = 0; m->s && i < m->n; i++) {
        ham_sample *s = &m->s[i];
        free(s->image_id); free(s->lesion_id); free(s->dx); free(s->dx_type);
        free(s->age); free(s->sex); free(s->localization); free(s->path);
    }
    free(m->s);
    free(m->dir);
    free(m->meta_path);
    memset(m, 0, sizeof *m);
}

/* What is at p when it is no regular file, or NULL when nothing is: a
 * folder, a device or a symlink loop under the image's name is not a
 * "missing image file", and saying so sends the user to the wrong fix. */
static const char *not_a_file(const char *p) {
    struct stat st;
    if (stat(p, &st) == 0) return S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file";
    if (errno == ELOOP) return "too many levels of symbolic links";
    if (errno == EACCES) return "permission denied";
    return NULL;
}

/* Find the image in the first image folder that has it as a file. */
static int locate_image(const char *dir, const int *dir_exists, ham_sample *s) {
    char name[64], *odd = NULL;
    snprintf(name, sizeof name, "%s.jpg", s->image_id);
    for (size_t d = 0; d < N_IMAGE_DIRS; d++) {
        char *p;
        const char *why;
        if (!dir_exists[d]) continue;
        if (!(p = join(dir, image_dirs[d], ""))) return SB_ENOMEM;
        free(s->path);
        s->path = join(p, name, "");
        free(p);
        if (!s->path) return SB_ENOMEM;
        if (is_file(s->path)) {
            free(odd);
            s->why = NULL;
            return SB_OK;
        }
        if (!odd && (why = not_a_file(s->path))) { /* keep looking: another folder may have the file */
            s->why = why;
            if (!(odd = strdup(s->path))) return SB_ENOMEM;
        }
    }
    s->missing = 1;
    if (odd) {
        free(s->path);
        s->path = odd;
        return SB_OK;
    }
    /* Not found: keep the path in the first existing folder for messages. */
    for (size_t d = 0; d < N_IMAGE_DIRS; d++) {
        if (!dir_exists[d]) continue;
        char *p = join(dir, image_dirs[d], "");
        free(s->path);
        s->path = p ? join(p, name, "") : NULL;
        free(p);
        break;
    }
    return s->path ? SB_OK : SB_ENOMEM;
}

static int class_of(const char *dx) {
    for (int c = 0; c < HAM_N_CLASSES; c++)
        if (strcmp(dx, ham_class_names[c]) == 0) return c;
    return -1;
}

static int check_header(sb_csv *csv, char **f, int n, sb_error *err) {
    if (n != 7)
        return sb_error_set(err, SB_EFORMAT, "%s:%d: header has %d columns: expected 7 (%s,%s,%s,%s,%s,%s,%s)",
                            csv->path, csv->line, n, meta_columns[0], meta_columns[1], meta_columns[2],
                            meta_columns[3], meta_columns[4], meta_columns[5], meta_columns[6]);
    for (int i = 0; i < 7; i++)
        if (strcmp(f[i], meta_columns[i]) != 0)
            return sb_error_set(err, SB_EFORMAT, "%s:%d: column %d is '%s': expected '%s'", csv->path,
                                csv->line, i + 1, f[i], meta_columns[i]);
    return SB_OK;
}

static int add_row(ham_meta *m, sb_csv *csv, char **f, int n, size_t *cap, sb_error *err) {
    ham_sample *s;
    int label;
    if (n != 7)
        return sb_error_set(err, SB_EFORMAT, "%s:%d: %d columns: expected 7 (%s)", csv->path, csv->line, n,
                            "lesion_id,image_id,dx,dx_type,age,sex,localization");
    if ((label = class_of(f[2])) < 0)
        return sb_error_set(err, SB_EFORMAT, "%s:%d: unknown dx '%s': expected one of akiec, bcc, bkl, df, mel, nv, vasc",
                            csv->path, csv->line, f[2]);
    if (f[1][0] == 0 || strlen(f[1]) >= SB_CACHE_ID_BYTES || strchr(f[1], '/'))
        return sb_error_set(err, SB_EFORMAT, "%s:%d: image_id '%s': expected a file name stem of 1..23 bytes",
                            csv->path, csv->line, f[1]);
    if (m->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        ham_sample *ns = realloc(m->s, nc * sizeof *ns);
        if (!ns) return sb_error_set(err, SB_ENOMEM, "%s:%d: out of memory", csv->path, csv->line);
        m->s = ns;
        *cap = nc;
    }
    s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->lesion_id = strdup(f[0]); s->image_id = strdup(f[1]); s->dx = strdup(f[2]);
    s->dx_type = strdup(f[3]); s->age = strdup(f[4]); s->sex = strdup(f[5]);
    s->localization = strdup(f[6]);
    s->label = label;
    s->row = csv->line;
    s->subset = HAM_NO_SUBSET;
    if (!s->lesion_id || !s->image_id || !s->dx || !s->dx_type || !s->age || !s->sex || !s->localization)
        return sb_error_set(err, SB_ENOMEM, "%s:%d: out of memory", csv->path, csv->line);
    return SB_OK;
}

static int cmp_sample_id(const void *a, const void *b) {
    const ham_sample *x = *(const ham_sample *const *)a, *y = *(const ham_sample *const *)b;
    int c = strcmp(x->image_id, y->image_id);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* An image listed twice would be scored twice and weigh double in every
 * metric, and a split could put its two rows in two subsets: refuse it,
 * naming both lines (sorted by id, then line, so the message is stable). */
static int check_unique_ids(const ham_meta *m, sb_error *err) {
    const ham_sample **by_id = malloc((m->n ? m->n : 1) * sizeof *by_id);
    int rc = SB_OK;
    if (!by_id) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++) by_id[i] = &m->s[i];
    qsort(by_id, m->n, sizeof *by_id, cmp_sample_id);
    for (size_t i = 1; i < m->n && rc == SB_OK; i++)
        if (strcmp(by_id[i]->image_id, by_id[i - 1]->image_id) == 0)
            rc = sb_error_set(err, SB_EFORMAT, "%s:%d: image_id '%s' is listed again (first on line %d): expected "
                              "each image once", m->meta_path, by_id[i]->row, by_id[i]->image_id, by_id[i - 1]->row);
    free(by_id);
    return rc;
}

int ham_meta_load(const char *dir, ham_meta *m, sb_error *err) {
    sb_csv csv;
    char **f;
    int n, rc, header = 1, dir_exists[N_IMAGE_DIRS];
    size_t cap = 0;
    memset(m, 0, sizeof *m);
    if (!is_dir(dir)) return missing_data_error(dir, "folder", err);
    m->dir = strdup(dir);
    m->meta_path = join(dir, HAM_META_FILE, "");
    if (!m->dir || !m->meta_path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if (!exists(m->meta_path)) {
        rc = missing_data_error(m->meta_path, "metadata file", err);
        ham_meta_free(m);
        return rc;
    }
    for (size_t d = 0; d < N_IMAGE_DIRS; d++) {
        char *p = join(dir, image_dirs[d], "");
        dir_exists[d] = p && is_dir(p);
        free(p);
    }
    if ((rc = sb_csv_open(m->meta_path, &csv, err)) < 0) {
        ham_meta_free(m);
        return rc;
    }
    while ((rc = sb_csv_next(&csv, &f, &n, err)) == 1) {
        rc = header ? check_header(&csv, f, n, err) : add_row(m, &csv, f, n, &cap, err);
        header = 0;
        if (rc < 0) break;
    }
    sb_csv_close(&csv);
    if (rc == 0) rc = check_unique_ids(m, err);
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        if (locate_image(dir, dir_exists, &m->s[i]) < 0) rc = sb_error_set(err, SB_ENOMEM, "out of memory");
    if (rc == 0 && m->n == 0) rc = sb_error_set(err, SB_EFORMAT, "%s: no images listed", m->meta_path);
    if (rc < 0) {
        ham_meta_free(m);
        return rc;
    }
    return SB_OK;
}

/* --------------------------------------------------------- dermamnist */

typedef struct id_subset {
    const char *id;
    int subset;
    int line;
} id_subset;

static int cmp_id(const void *a, const void *b) {
    return strcmp(((const id_subset *)a)->id, ((const id_subset *)b)->id);
}

static int cmp_id_line(const void *a, const void *b) {
    const id_subset *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* tab sorted by id, then line. An image on two rows is in two subsets (or
 * counted twice in one): with train and test that is leakage, so refuse
 * it rather than let the lookup pick one. */
static int check_split_unique(const id_subset *tab, size_t n, const char *path, sb_error *err) {
    for (size_t i = 1; i < n; i++)
        if (strcmp(tab[i].id, tab[i - 1].id) == 0)
            return sb_error_set(err, SB_EFORMAT, "%s:%d: image_id '%s' is listed again (first on line %d, as %s; here "
                                "as %s): expected each image once (an image in two subsets leaks between them)", path,
                                tab[i].line, tab[i].id, tab[i - 1].line, ham_subset_name(tab[i - 1].subset),
                                ham_subset_name(tab[i].subset));
    return SB_OK;
}

static int split_dermamnist(ham_meta *m, sb_error *err) {
    char *path = join(m->dir, HAM_SPLIT_FILE, "");
    sb_csv csv;
    char **f;
    int n, rc, header = 1;
    id_subset *tab = NULL;
    size_t n_tab = 0, cap = 0;
    if (!path) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if (!exists(path)) {
        rc = missing_data_error(path, "DermaMNIST split file", err);
        free(path);
        return rc;
    }
    rc = sb_csv_open(path, &csv, err);
    free(path);
    if (rc < 0) return rc;
    while ((rc = sb_csv_next(&csv, &f, &n, err)) == 1) {
        int subset;
        long index;
        if (n != 3) {
            rc = sb_error_set(err, SB_EFORMAT, "%s:%d: %d columns: expected 3 (split,index,image_id)", csv.path, csv.line, n);
            break;
        }
        if (header) {
            header = 0;
            if (strcmp(f[0], "split") != 0 || strcmp(f[1], "index") != 0 || strcmp(f[2], "image_id") != 0) {
                rc = sb_error_set(err, SB_EFORMAT, "%s:%d: header '%s,%s,%s': expected 'split,index,image_id'",
                                  csv.path, csv.line, f[0], f[1], f[2]);
                break;
            }
            continue;
        }
        if (ham_parse_subset(f[0], &subset) < 0 || subset == HAM_NO_SUBSET) {
            rc = sb_error_set(err, SB_EFORMAT, "%s:%d: split '%s': expected train, val or test", csv.path, csv.line, f[0]);
            break;
        }
        /* not used for the lookup, but a row whose index is not one is no
         * DermaMNIST row: the file is not what it claims to be */
        if (sb_csv_int(f[1], 0, INT_MAX, &index) < 0) {
            rc = sb_error_set(err, SB_EFORMAT, "%s:%d: index '%s': expected a decimal integer 0, 1, 2, ... (the "
                              "image's position in its DermaMNIST subset)", csv.path, csv.line, f[1]);
            break;
        }
        if (n_tab == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            id_subset *nt = realloc(tab, nc * sizeof *nt);
            if (!nt) { rc = sb_error_set(err, SB_ENOMEM, "out of memory"); break; }
            tab = nt;
            cap = nc;
        }
        tab[n_tab].id = f[2];  /* points into csv's buffer, alive until close */
        tab[n_tab].line = csv.line;
        tab[n_tab++].subset = subset;
    }
    if (rc == 0) {
        /* An empty split file leaves tab NULL: qsort/bsearch must not see it. */
        if (n_tab) qsort(tab, n_tab, sizeof *tab, cmp_id_line);
        rc = check_split_unique(tab, n_tab, csv.path, err);
        for (size_t i = 0; rc == 0 && i < m->n; i++) {
            id_subset key = {m->s[i].image_id, 0, 0};
            id_subset *hit = n_tab ? bsearch(&key, tab, n_tab, sizeof *tab, cmp_id) : NULL;
            if (!hit) {
                rc = sb_error_set(err, SB_EFORMAT, "%s:%d: image %s is not in %s: expected every image to have a split",
                                  m->meta_path, m->s[i].row, m->s[i].image_id, csv.path);
                break;
            }
            m->s[i].subset = hit->subset;
        }
    }
    free(tab);
    sb_csv_close(&csv);
    return rc < 0 ? rc : SB_OK;
}

/* ------------------------------------------------------------- lesion */

uint64_t ham_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct lesion {
    const char *id;
    size_t first;   /* index into the sorted sample order */
    size_t n_images;
    int label;
} lesion;

typedef struct by_lesion {
    const char *lesion_id;
    int row;
    size_t index;
} by_lesion;

static int cmp_by_lesion(const void *a, const void *b) {
    const by_lesion *x = a, *y = b;
    int c = strcmp(x->lesion_id, y->lesion_id);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Sample indices ordered by (lesion_id, row). */
static int lesion_order(const ham_meta *m, size_t *order) {
    by_lesion *b = malloc(m->n * sizeof *b);
    if (!b) return SB_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        b[i].lesion_id = m->s[i].lesion_id;
        b[i].row = m->s[i].row;
        b[i].index = i;
    }
    qsort(b, m->n, sizeof *b, cmp_by_lesion);
    for (size_t i = 0; i < m->n; i++) order[i] = b[i].index;
    free(b);
    return SB_OK;
}

/* A lesion's class: the most frequent label among its images (HAM10000 has
 * one dx per lesion), ties to the lower class index. */
static int lesion_label(const ham_meta *m, const size_t *order, size_t first, size_t n) {
    int counts[HAM_N_CLASSES] = {0}, best = 0;
    for (size_t k = 0; k < n; k++) counts[m->s[order[first + k]].label]++;
    for (int c = 1; c < HAM_N_CLASSES; c++)
        if (counts[c] > counts[best]) best = c;
    return best;
}

/* Shuffle one class's lesions, then give each lesion to the subset furthest
 * below its target image count (ties to train, val, test in that order). */
static void assign_class(ham_meta *m, const size_t *order, lesion **ls, size_t n, uint64_t *rng,
                         const double frac[3]) {
    double target[3], assigned[3] = {0, 0, 0};
    size_t images = 0;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(ham_splitmix64(rng) % (uint64_t)i);
        lesion *t = ls[i - 1];
        ls[i - 1] = ls[j];
        ls[j] = t;
    }
    for (size_t i = 0; i < n; i++) images += ls[i]->n_images;
    for (int s = 0; s < 3; s++) target[s] = frac[s] * (double)images;
    for (size_t i = 0; i < n; i++) {
        int best = -1;
        for (int s = 0; s < 3; s++) {
            if (frac[s] <= 0.0) continue;
            if (best < 0 || target[s] - assigned[s] > target[best] - assigned[best]) best = s;
        }
        assigned[best] += (double)ls[i]->n_images;
        for (size_t k = 0; k < ls[i]->n_images; k++) m->s[order[ls[i]->first + k]].subset = best;
    }
}

static int split_lesion(ham_meta *m, uint64_t seed, const double frac[3], sb_error *err) {
    size_t *order = malloc(m->n * sizeof *order), n_lesions = 0;
    lesion *les = malloc(m->n * sizeof *les);
    lesion **byclass = malloc(m->n * sizeof *byclass);
    uint64_t rng = seed;
    if (!order || !les || !byclass || lesion_order(m, order) < 0) {
        free(order); free(les); free(byclass);
        return sb_error_set(err, SB_ENOMEM, "lesion split: out of memory");
    }
    /* Group by lesion_id in a fixed order (lesion_id, then row): the split
     * does not depend on the CSV's row order or on the C library. */
    for (size_t i = 0; i < m->n;) {
        size_t j = i;
        while (j < m->n && strcmp(m->s[order[j]].lesion_id, m->s[order[i]].lesion_id) == 0) j++;
        les[n_lesions].id = m->s[order[i]].lesion_id;
        les[n_lesions].first = i;
        les[n_lesions].n_images = j - i;
        les[n_lesions].label = lesion_label(m, order, i, j - i);
        n_lesions++;
        i = j;
    }
    for (int c = 0; c < HAM_N_CLASSES; c++) {
        size_t n = 0;
        for (size_t l = 0; l < n_lesions; l++)
            if (les[l].label == c) byclass[n++] = &les[l];
        assign_class(m, order, byclass, n, &rng, frac);
    }
    free(order); free(les); free(byclass);
    return SB_OK;
}

int ham_split(ham_meta *m, ham_split_kind kind, uint64_t seed, const double fractions[3], sb_error *err) {
    if (kind == HAM_SPLIT_DERMAMNIST) return split_dermamnist(m, err);
    if (kind == HAM_SPLIT_ALL) {
        for (size_t i = 0; i < m->n; i++) m->s[i].subset = HAM_NO_SUBSET;
        return SB_OK;
    }
    {
        double sum = 0;
        for (int s = 0; s < 3; s++) {
            if (!(fractions[s] >= 0.0 && fractions[s] <= 1.0))
                return sb_error_set(err, SB_EINVAL, "lesion split: fraction %d is %g: expected 0..1", s + 1, fractions[s]);
            sum += fractions[s];
        }
        if (fabs(sum - 1.0) > 1e-6)
            return sb_error_set(err, SB_EINVAL, "lesion split: fractions %g,%g,%g sum to %g: expected 1",
                                fractions[0], fractions[1], fractions[2], sum);
    }
    return split_lesion(m, seed, fractions, err);
}

int ham_cache_items(const ham_meta *m, sb_cache_item **items, sb_error *err) {
    sb_cache_item *it = malloc((m->n ? m->n : 1) * sizeof *it);
    if (!it) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++) {
        it[i].id = m->s[i].image_id;
        it[i].path = m->s[i].path;
        it[i].label = m->s[i].label;
        it[i].row = m->s[i].row;
    }
    *items = it;
    return SB_OK;
}
