/* sb_csv.c - see sb_csv.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_csv.h"
#include "sb_file.h"

int sb_csv_open(const char *path, sb_csv *csv, sb_error *err) {
    FILE *f;
    long n;
    memset(csv, 0, sizeof *csv);
    {
        /* no FIFO or device: a read of one never ends (sb_file.h) */
        int rc = sb_fopen_regular(path, "a file", &f, err);
        if (rc == SB_EINVAL) rc = err->code = SB_EIO; /* the dataset's code for it */
        if (rc < 0) return rc;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read size", path);
    }
    csv->buf = malloc((size_t)n + 1);
    csv->path = strdup(path);
    if (!csv->buf || !csv->path) {
        fclose(f);
        sb_csv_close(csv);
        return sb_error_set(err, SB_ENOMEM, "%s: out of memory", path);
    }
    if (n > 0 && fread(csv->buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        sb_csv_close(csv);
        return sb_error_set(err, SB_EIO, "%s: short read", path);
    }
    fclose(f);
    csv->buf[n] = 0;
    csv->len = (size_t)n;
    /* A UTF-8 byte order mark (spreadsheet programs write one) is no part
     * of the first column's name: skip it. */
    if (n >= 3 && memcmp(csv->buf, "\xEF\xBB\xBF", 3) == 0) csv->pos = 3;
    return SB_OK;
}

static int push_field(sb_csv *csv, int n, char *s, sb_error *err) {
    if (n >= csv->cap_fields) {
        int cap = csv->cap_fields ? csv->cap_fields * 2 : 64;
        char **f = realloc(csv->fields, (size_t)cap * sizeof *f);
        if (!f) return sb_error_set(err, SB_ENOMEM, "%s:%d: out of memory", csv->path, csv->line);
        csv->fields = f;
        csv->cap_fields = cap;
    }
    csv->fields[n] = s;
    return SB_OK;
}

int sb_csv_next(sb_csv *csv, char ***fields, int *n_fields, sb_error *err) {
    while (csv->pos < csv->len) {
        char *start = csv->buf + csv->pos, *end = memchr(start, '\n', csv->len - csv->pos);
        char *p;
        int n = 0;
        if (!end) end = csv->buf + csv->len;
        csv->pos = (size_t)(end - csv->buf) + 1;
        csv->line++;
        *end = 0;
        if (end > start && end[-1] == '\r') end[-1] = 0;
        if (start[0] == 0) continue;
        for (p = start;;) {
            char *comma = strchr(p, ',');
            if (push_field(csv, n++, p, err) < 0) return err->code;
            if (!comma) break;
            *comma = 0;
            p = comma + 1;
        }
        *fields = csv->fields;
        *n_fields = n;
        return 1;
    }
    return 0;
}

void sb_csv_close(sb_csv *csv) {
    free(csv->buf);
    free(csv->path);
    free(csv->fields);
    memset(csv, 0, sizeof *csv);
}

int sb_csv_int(const char *s, long lo, long hi, long *out) {
    long v = 0;
    int neg = 0;
    const char *p = s;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p == 0) return SB_EFORMAT;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return SB_EFORMAT;
        v = v * 10 + (*p - '0');
        if (v > 1000000000L) return SB_EFORMAT;
    }
    if (neg) v = -v;
    if (v < lo || v > hi) return SB_EFORMAT;
    *out = v;
    return SB_OK;
}
