/*
 * sb_toml.h - a TOML subset parser (Debian ships no C TOML library).
 *
 * Supported: comments, bare/quoted/dotted keys, [table], [a.b] dotted tables,
 * [[array.of.tables]], basic strings with escapes, literal strings, integers
 * (decimal, 0x, 0o, 0b, underscores), floats (fraction, exponent, inf, nan),
 * booleans, arrays (multi-line, trailing comma). Not supported, and refused
 * with a clear error: inline tables, multi-line strings, dates and times.
 * Limits: 16 parts in a dotted key, arrays nested 64 deep.
 * Every node remembers file:line:col so later checks can point at it.
 */
#ifndef SB_TOML_H
#define SB_TOML_H

#include <stddef.h>
#include <stdint.h>

#include "sb_plugin.h"

typedef enum {
    SB_TOML_STRING = 1,
    SB_TOML_INT,
    SB_TOML_FLOAT,
    SB_TOML_BOOL,
    SB_TOML_ARRAY,
    SB_TOML_TABLE
} sb_toml_type;

typedef struct sb_toml sb_toml;
struct sb_toml {
    sb_toml_type type;
    char *key;          /* key within the parent table; NULL for array items */
    char *file;         /* where the node was written                      */
    int line, col;      /* of the key (tables: of the header), 1-based      */
    char *s;            /* STRING                                           */
    int64_t i;          /* INT                                              */
    double f;           /* FLOAT                                            */
    int b;              /* BOOL                                             */
    sb_toml **kids;     /* TABLE: members in order; ARRAY: items            */
    size_t n, cap;
    unsigned flags;     /* SB_TOML_F_* (parser bookkeeping)                 */
};

#define SB_TOML_F_HEADER 0x1u    /* table opened by a [header]              */
#define SB_TOML_F_IMPLICIT 0x2u  /* table created as a parent of a header   */
#define SB_TOML_F_AOT 0x4u       /* array created by [[header]]             */
#define SB_TOML_F_DOTTED 0x8u    /* table created by a dotted key a.b = 1   */

int sb_toml_parse(const char *text, size_t len, const char *file, sb_toml **root, sb_error *err);
int sb_toml_parse_file(const char *path, sb_toml **root, sb_error *err);
void sb_toml_free(sb_toml *node);

/* Member of a table by key, or NULL. */
sb_toml *sb_toml_get(const sb_toml *table, const char *key);
/* Deep copy (with positions). */
sb_toml *sb_toml_clone(const sb_toml *node);
/* Add `kid` (owned) to a table, replacing a member of the same key. */
int sb_toml_set(sb_toml *table, sb_toml *kid);
/* Remove and free a member; no-op if absent. */
void sb_toml_remove(sb_toml *table, const char *key);
/* "string", "integer", ... for messages. */
const char *sb_toml_type_name(sb_toml_type t);

#endif /* SB_TOML_H */
