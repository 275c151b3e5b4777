/* sb_report_int.h - internals of the views' document model. */
#ifndef SB_REPORT_INT_H
#define SB_REPORT_INT_H

#include <stddef.h>

#include "sb_report.h"

struct sb_table {
    char *caption;
    int ncols;
    char **head;
    char **cells;         /* nrows x ncols */
    size_t nrows;
    char **notes, **letters;
    size_t nnotes;
};

enum { SB_ITEM_HEADING, SB_ITEM_PARA, SB_ITEM_TABLE, SB_ITEM_CHART };

typedef struct sb_doc_item {
    int kind;
    char *text;           /* heading, paragraph, chart caption */
    char *stem;           /* chart */
    sb_table *table;
} sb_doc_item;

struct sb_doc {
    char *title;
    sb_doc_item *items;
    size_t n, cap;
};

#endif /* SB_REPORT_INT_H */
