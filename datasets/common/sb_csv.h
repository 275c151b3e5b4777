/*
 * sb_csv.h - a minimal reader for the plain comma-separated files the dataset
 * plugins read (no quoting: HAM10000 metadata, split lists and hmnist pixels
 * have none). It keeps the line number of each row for error messages.
 */
#ifndef SB_CSV_H
#define SB_CSV_H

#include <stddef.h>

#include "sb_plugin.h"

typedef struct sb_csv {
    char *path;
    char *buf;        /* whole file, split in place */
    size_t len, pos;
    int line;         /* 1-based line of the row last returned */
    char **fields;
    int cap_fields;
} sb_csv;

/* A UTF-8 byte order mark at the start of the file is skipped. */
int sb_csv_open(const char *path, sb_csv *csv, sb_error *err);
/* Next non-empty row: 1 and its fields (valid until the next call), or 0 at
 * the end. A trailing '\r' is removed. */
int sb_csv_next(sb_csv *csv, char ***fields, int *n_fields, sb_error *err);
void sb_csv_close(sb_csv *csv);

/* Parse a whole field as a decimal integer in [lo, hi]; 0 or SB_EFORMAT. */
int sb_csv_int(const char *s, long lo, long hi, long *out);

#endif /* SB_CSV_H */
