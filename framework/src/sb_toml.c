/*
 * sb_toml.c - the TOML subset parser (see sb_toml.h for what is covered).
 *
 * A hand-written recursive-descent parser over the whole text. Errors stop at
 * the first problem and name file:line:col (1-based, columns in bytes) and
 * what was expected there, because a config error should be fixed in one look.
 */
#include "sb_toml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb_file.h"

typedef struct parser {
    const char *p, *end;
    const char *line_start;
    int line;
    int depth; /* arrays open around the value being parsed */
    const char *file;
    sb_error *err;
} parser;

static int col_of(const parser *ps, const char *at) { return (int)(at - ps->line_start) + 1; }

/* A short description of what sits at `at`, for "found ..." in messages. */
static const char *found_desc(const parser *ps, const char *at, char buf[16]) {
    if (at >= ps->end) return "end of file";
    if (*at == '\n' || *at == '\r') return "end of line";
    if (isprint((unsigned char)*at)) {
        snprintf(buf, 16, "'%c'", *at);
        return buf;
    }
    snprintf(buf, 16, "byte 0x%02x", (unsigned char)*at);
    return buf;
}

static int fail_at(parser *ps, const char *at, const char *expected) {
    char buf[16];
    return sb_error_set(ps->err, SB_EFORMAT, "%s:%d:%d: expected %s, found %s", ps->file, ps->line,
                        col_of(ps, at), expected, found_desc(ps, at, buf));
}

static int fail_msg(parser *ps, const char *at, const char *msg, const char *arg) {
    return sb_error_set(ps->err, SB_EFORMAT, "%s:%d:%d: %s%s", ps->file, ps->line, col_of(ps, at),
                        msg, arg ? arg : "");
}

/* ------------------------------------------------------------------ nodes */

static sb_toml *node_new(sb_toml_type t, const char *file, int line, int col) {
    sb_toml *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->type = t;
    n->file = strdup(file ? file : "");
    n->line = line;
    n->col = col;
    if (!n->file) {
        free(n);
        return NULL;
    }
    return n;
}

void sb_toml_free(sb_toml *n) {
    size_t i;
    if (!n) return;
    for (i = 0; i < n->n; i++) sb_toml_free(n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->file);
    free(n->s);
    free(n);
}

static int push_kid(sb_toml *parent, sb_toml *kid) {
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        sb_toml **k = realloc(parent->kids, cap * sizeof *k);
        if (!k) return SB_ENOMEM;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
    return 0;
}

sb_toml *sb_toml_get(const sb_toml *t, const char *key) {
    size_t i;
    if (!t || t->type != SB_TOML_TABLE) return NULL;
    for (i = 0; i < t->n; i++)
        if (t->kids[i]->key && strcmp(t->kids[i]->key, key) == 0) return t->kids[i];
    return NULL;
}

const char *sb_toml_type_name(sb_toml_type t) {
    switch (t) {
    case SB_TOML_STRING: return "string";
    case SB_TOML_INT: return "integer";
    case SB_TOML_FLOAT: return "float";
    case SB_TOML_BOOL: return "boolean";
    case SB_TOML_ARRAY: return "array";
    case SB_TOML_TABLE: return "table";
    }
    return "?";
}

sb_toml *sb_toml_clone(const sb_toml *src) {
    size_t i;
    sb_toml *n = node_new(src->type, src->file, src->line, src->col);
    if (!n) return NULL;
    n->i = src->i;
    n->f = src->f;
    n->b = src->b;
    n->flags = src->flags;
    if ((src->key && !(n->key = strdup(src->key))) || (src->s && !(n->s = strdup(src->s)))) goto oom;
    for (i = 0; i < src->n; i++) {
        sb_toml *k = sb_toml_clone(src->kids[i]);
        if (!k || push_kid(n, k) < 0) {
            sb_toml_free(k);
            goto oom;
        }
    }
    return n;
oom:
    sb_toml_free(n);
    return NULL;
}

int sb_toml_set(sb_toml *t, sb_toml *kid) {
    size_t i;
    for (i = 0; i < t->n; i++) {
        if (t->kids[i]->key && strcmp(t->kids[i]->key, kid->key) == 0) {
            sb_toml_free(t->kids[i]);
            t->kids[i] = kid;
            return 0;
        }
    }
    return push_kid(t, kid);
}

void sb_toml_remove(sb_toml *t, const char *key) {
    size_t i;
    for (i = 0; i < t->n; i++) {
        if (t->kids[i]->key && strcmp(t->kids[i]->key, key) == 0) {
            sb_toml_free(t->kids[i]);
            memmove(&t->kids[i], &t->kids[i + 1], (t->n - i - 1) * sizeof *t->kids);
            t->n--;
            return;
        }
    }
}

/* ------------------------------------------------------------- scanning */

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) ps->p++;
}

static int at_newline(const parser *ps) {
    return ps->p < ps->end && (*ps->p == '\n' || (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'));
}

static void eat_newline(parser *ps) {
    if (*ps->p == '\r') ps->p++;
    ps->p++;
    ps->line++;
    ps->line_start = ps->p;
}

/* A comment runs to the end of the line; control characters are refused. */
static int skip_comment(parser *ps) {
    if (ps->p >= ps->end || *ps->p != '#') return 0;
    while (ps->p < ps->end && *ps->p != '\n') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20 && c != '\t' && !(c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n'))
            return fail_msg(ps, ps->p, "control character in comment", NULL);
        ps->p++;
    }
    return 0;
}

/* After a value or header: spaces, an optional comment, then end of line. */
static int expect_eol(parser *ps, const char *after) {
    int rc;
    char what[64];
    skip_ws(ps);
    if ((rc = skip_comment(ps)) < 0) return rc;
    if (ps->p >= ps->end) return 0;
    if (at_newline(ps)) {
        eat_newline(ps);
        return 0;
    }
    snprintf(what, sizeof what, "end of line after %s", after);
    return fail_at(ps, ps->p, what);
}

/* --------------------------------------------------------------- strings */

static int put_utf8(char *out, size_t *o, uint32_t cp) {
    if (cp < 0x80) out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF) return -1;
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp <= 0x10FFFF) {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else
        return -1;
    return 0;
}

static int parse_escape(parser *ps, char *out, size_t *o) {
    const char *at = ps->p; /* at the backslash */
    char c = ps->p + 1 < ps->end ? ps->p[1] : 0;
    int ndig = 0, k;
    uint32_t cp = 0;
    ps->p += 2;
    switch (c) {
    case 'b': out[(*o)++] = '\b'; return 0;
    case 't': out[(*o)++] = '\t'; return 0;
    case 'n': out[(*o)++] = '\n'; return 0;
    case 'f': out[(*o)++] = '\f'; return 0;
    case 'r': out[(*o)++] = '\r'; return 0;
    case '"': out[(*o)++] = '"'; return 0;
    case '\\': out[(*o)++] = '\\'; return 0;
    case 'u': ndig = 4; break;
    case 'U': ndig = 8; break;
    default:
        ps->p = at;
        return fail_msg(ps, at, "unknown escape sequence: expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX", NULL);
    }
    for (k = 0; k < ndig; k++) {
        if (ps->p >= ps->end || !isxdigit((unsigned char)*ps->p))
            return fail_at(ps, ps->p, ndig == 4 ? "4 hex digits after \\u" : "8 hex digits after \\U");
        cp = cp * 16 + (uint32_t)(isdigit((unsigned char)*ps->p) ? *ps->p - '0' : (tolower((unsigned char)*ps->p) - 'a' + 10));
        ps->p++;
    }
    /* A NUL would silently end the C string here: "a\u0000b" became "a". */
    if (cp == 0)
        return fail_msg(ps, at, "escape of U+0000 (NUL): expected another character (strings cannot hold a NUL)", NULL);
    if (put_utf8(out, o, cp) < 0) return fail_msg(ps, at, "escape is not a Unicode scalar value", NULL);
    return 0;
}

/* Basic "..." or literal '...' string, single line. */
static int parse_string(parser *ps, char **out_s) {
    char q = *ps->p;
    const char *start = ps->p;
    char *buf;
    size_t o = 0;
    int rc;
    if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q)
        return fail_msg(ps, start, "multi-line strings are not supported: use a single-line string", NULL);
    ps->p++;
    /* Escapes never grow the text by more than 4 bytes per 6 input bytes. */
    buf = malloc((size_t)(ps->end - ps->p) + 8);
    if (!buf) return SB_ENOMEM;
    for (;;) {
        unsigned char c;
        if (ps->p >= ps->end || *ps->p == '\n' || at_newline(ps)) {
            free(buf);
            return fail_at(ps, ps->p, q == '"' ? "closing '\"' of the string" : "closing \"'\" of the string");
        }
        c = (unsigned char)*ps->p;
        if (c == (unsigned char)q) {
            ps->p++;
            break;
        }
        if (c < 0x20 && c != '\t') {
            free(buf);
            return fail_msg(ps, ps->p, "control character in string: use an escape", NULL);
        }
        if (c == '\\' && q == '"') {
            if ((rc = parse_escape(ps, buf, &o)) < 0) {
                free(buf);
                return rc;
            }
            continue;
        }
        buf[o++] = (char)c;
        ps->p++;
    }
    buf[o] = 0;
    *out_s = buf;
    return 0;
}

/* ------------------------------------------------------------------ keys */

#define MAX_KEY_PARTS 16

typedef struct keypath {
    char *part[MAX_KEY_PARTS];
    int n;
    int line, col;
} keypath;

static void keypath_free(keypath *k) {
    int i;
    for (i = 0; i < k->n; i++) free(k->part[i]);
    k->n = 0;
}

static int is_bare(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }

static int parse_simple_key(parser *ps, char **out) {
    const char *s = ps->p;
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) return parse_string(ps, out);
    while (ps->p < ps->end && is_bare(*ps->p)) ps->p++;
    if (ps->p == s) return fail_at(ps, s, "a key (letters, digits, '_', '-' or a quoted string)");
    *out = strndup(s, (size_t)(ps->p - s));
    return *out ? 0 : SB_ENOMEM;
}

static int parse_key(parser *ps, keypath *k) {
    int rc;
    k->n = 0;
    k->line = ps->line;
    k->col = col_of(ps, ps->p);
    for (;;) {
        if (k->n == MAX_KEY_PARTS) return fail_msg(ps, ps->p, "key has too many dotted parts", NULL);
        if ((rc = parse_simple_key(ps, &k->part[k->n])) < 0) return rc;
        k->n++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '.') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        return 0;
    }
}

/* ---------------------------------------------------------------- values */

#define MAX_ARRAY_DEPTH 64

static int parse_value(parser *ps, sb_toml **out);

static int skip_ws_nl_comments(parser *ps) {
    int rc;
    for (;;) {
        skip_ws(ps);
        if ((rc = skip_comment(ps)) < 0) return rc;
        if (at_newline(ps)) {
            eat_newline(ps);
            continue;
        }
        return 0;
    }
}

static int parse_array(parser *ps, sb_toml *arr) {
    int rc;
    ps->p++; /* '[' */
    for (;;) {
        sb_toml *item = NULL;
        if ((rc = skip_ws_nl_comments(ps)) < 0) return rc;
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        if ((rc = parse_value(ps, &item)) < 0) return rc;
        if ((rc = push_kid(arr, item)) < 0) {
            sb_toml_free(item);
            return rc;
        }
        if ((rc = skip_ws_nl_comments(ps)) < 0) return rc;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        return fail_at(ps, ps->p, "',' or ']' in array");
    }
}

/* Digits with single underscores between them; returns count of digits. */
static int check_digits(const char *s, const char *e, int (*ok)(int)) {
    int n = 0;
    const char *q;
    for (q = s; q < e; q++) {
        if (*q == '_') {
            if (q == s || q + 1 == e || !ok((unsigned char)q[1]) || !ok((unsigned char)q[-1])) return -1;
            continue;
        }
        if (!ok((unsigned char)*q)) return -1;
        n++;
    }
    return n;
}

static int is_dec(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return isxdigit(c); }
static int is_oct(int c) { return c >= '0' && c <= '7'; }
static int is_bin(int c) { return c == '0' || c == '1'; }

static char *strip_underscores(const char *s, const char *e) {
    char *o = malloc((size_t)(e - s) + 1), *w = o;
    if (!o) return NULL;
    for (; s < e; s++)
        if (*s != '_') *w++ = *s;
    *w = 0;
    return o;
}

static int parse_int_token(parser *ps, const char *s, const char *e, sb_toml *n) {
    int base = 10, neg = 0, (*ok)(int) = is_dec;
    const char *d = s;
    char *clean, *endp;
    if (*d == '+' || *d == '-') {
        neg = *d == '-';
        d++;
    }
    if (e - d > 2 && d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b')) {
        if (d != s) return fail_msg(ps, s, "a sign is not allowed on hex, octal or binary integers", NULL);
        base = d[1] == 'x' ? 16 : d[1] == 'o' ? 8 : 2;
        ok = base == 16 ? is_hex : base == 8 ? is_oct : is_bin;
        d += 2;
    } else if (e - d > 1 && d[0] == '0') {
        return fail_msg(ps, s, "leading zeros are not allowed in integers", NULL);
    }
    if (check_digits(d, e, ok) <= 0) return fail_at(ps, s, base == 10 ? "an integer" : "digits of the integer");
    if (!(clean = strip_underscores(d, e))) return SB_ENOMEM;
    errno = 0;
    {
        unsigned long long u = strtoull(clean, &endp, base);
        int range = errno == ERANGE || (!neg && u > (unsigned long long)INT64_MAX) ||
                    (neg && u > (unsigned long long)INT64_MAX + 1ull);
        free(clean);
        if (range) return fail_msg(ps, s, "integer out of range: expected a value that fits in 64 bits", NULL);
        n->type = SB_TOML_INT;
        n->i = neg ? (int64_t)(0 - u) : (int64_t)u;
    }
    return 0;
}

/* Float: [+-] int-part [ . digits ] [ (e|E) [+-] digits ], or [+-](inf|nan). */
static int parse_float_token(parser *ps, const char *s, const char *e, sb_toml *n) {
    const char *d = s, *q, *dot = NULL, *exp = NULL;
    char *clean;
    if (*d == '+' || *d == '-') d++;
    if ((e - d == 3) && (strncmp(d, "inf", 3) == 0 || strncmp(d, "nan", 3) == 0)) {
        n->type = SB_TOML_FLOAT;
        n->f = d[0] == 'i' ? (*s == '-' ? -HUGE_VAL : HUGE_VAL) : NAN;
        return 0;
    }
    for (q = d; q < e; q++) {
        if (*q == '.' && (dot || exp)) return fail_msg(ps, s, "malformed number: expected at most one '.', before any exponent", NULL);
        if (*q == '.') dot = q;
        else if ((*q == 'e' || *q == 'E') && !exp) exp = q;
    }
    {
        const char *int_end = dot ? dot : exp ? exp : e;
        if (check_digits(d, int_end, is_dec) <= 0) return fail_at(ps, s, "a number");
        if (int_end - d > 1 && d[0] == '0') return fail_msg(ps, s, "leading zeros are not allowed in numbers", NULL);
        if (dot && check_digits(dot + 1, exp ? exp : e, is_dec) <= 0)
            return fail_at(ps, dot + 1, "digits after the decimal point");
        if (exp) {
            const char *x = exp + 1;
            if (x < e && (*x == '+' || *x == '-')) x++;
            if (check_digits(x, e, is_dec) <= 0) return fail_at(ps, x, "digits of the exponent");
        }
    }
    if (!(clean = strip_underscores(s, e))) return SB_ENOMEM;
    n->type = SB_TOML_FLOAT;
    n->f = strtod(clean, NULL);
    free(clean);
    return 0;
}

static int is_token_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

static int parse_number(parser *ps, sb_toml *n) {
    const char *s = ps->p, *e = s, *q;
    int is_float = 0;
    while (e < ps->end && is_token_char(*e)) e++;
    if (e == s) return fail_at(ps, s, "a value (string, number, boolean or array)");
    ps->p = e;
    /* A date (1979-05-27) or time (07:32:00) is valid TOML we do not take. */
    if (memchr(s, ':', (size_t)(e - s)) ||
        (e - s >= 5 && is_dec(s[0]) && is_dec(s[1]) && is_dec(s[2]) && is_dec(s[3]) && s[4] == '-'))
        return fail_msg(ps, s, "dates and times are not supported: use a string", NULL);
    if (!(is_dec((unsigned char)*s) || *s == '+' || *s == '-' || *s == 'i' || *s == 'n'))
        return fail_at(ps, s, "a value (string, number, boolean or array)");
    if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
        return parse_int_token(ps, s, e, n);
    for (q = s; q < e; q++)
        if (*q == '.' || *q == 'e' || *q == 'E' || *q == 'i' || *q == 'n') is_float = 1;
    return is_float ? parse_float_token(ps, s, e, n) : parse_int_token(ps, s, e, n);
}

static int parse_value(parser *ps, sb_toml **out) {
    sb_toml *n;
    int rc = 0;
    const char *s = ps->p;
    if (ps->p >= ps->end || at_newline(ps) || *ps->p == '\n' || *ps->p == '#')
        return fail_at(ps, ps->p, "a value (string, number, boolean or array)");
    if (*s == '{') return fail_msg(ps, s, "inline tables are not supported: use a [table] section", NULL);
    n = node_new(SB_TOML_STRING, ps->file, ps->line, col_of(ps, s));
    if (!n) return SB_ENOMEM;
    if (*s == '"' || *s == '\'') {
        rc = parse_string(ps, &n->s);
    } else if (*s == '[') {
        n->type = SB_TOML_ARRAY;
        /* parse_array and parse_value recurse: bound the depth so that a
         * hostile file gets an error instead of overflowing the stack. */
        if (ps->depth >= MAX_ARRAY_DEPTH) {
            rc = sb_error_set(ps->err, SB_EFORMAT, "%s:%d:%d: arrays nested too deep: expected at most %d levels",
                              ps->file, ps->line, col_of(ps, s), MAX_ARRAY_DEPTH);
        } else {
            ps->depth++;
            rc = parse_array(ps, n);
            ps->depth--;
        }
    } else if (ps->end - s >= 4 && strncmp(s, "true", 4) == 0 && (ps->end - s == 4 || !is_token_char(s[4]))) {
        n->type = SB_TOML_BOOL;
        n->b = 1;
        ps->p += 4;
    } else if (ps->end - s >= 5 && strncmp(s, "false", 5) == 0 && (ps->end - s == 5 || !is_token_char(s[5]))) {
        n->type = SB_TOML_BOOL;
        ps->p += 5;
    } else {
        rc = parse_number(ps, n);
    }
    if (rc < 0) {
        sb_toml_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* ----------------------------------------------------------- statements */

static int redefined(parser *ps, const keypath *k, int depth, const sb_toml *old, const char *what) {
    char path[512] = "";
    const char *type = sb_toml_type_name(old->type);
    int i;
    for (i = 0; i <= depth && i < k->n; i++) {
        if (i) strncat(path, ".", sizeof path - strlen(path) - 1);
        strncat(path, k->part[i], sizeof path - strlen(path) - 1);
    }
    return sb_error_set(ps->err, SB_EFORMAT, "%s:%d:%d: %s '%s': already defined as %s %s at %s:%d:%d",
                        ps->file, k->line, k->col, what, path, strchr("aeiou", type[0]) ? "an" : "a", type, old->file,
                        old->line, old->col);
}

/* Find or create the table for part[i]; descends into the last element of an
 * array of tables, as TOML says. `flag` marks tables created on the way. */
static int descend(parser *ps, sb_toml **cur, const keypath *k, int i, unsigned flag) {
    sb_toml *t = sb_toml_get(*cur, k->part[i]);
    if (!t) {
        t = node_new(SB_TOML_TABLE, ps->file, k->line, k->col);
        if (!t || !(t->key = strdup(k->part[i])) || push_kid(*cur, t) < 0) {
            sb_toml_free(t);
            return SB_ENOMEM;
        }
        t->flags = flag;
    } else if (t->type == SB_TOML_ARRAY && (t->flags & SB_TOML_F_AOT) && t->n > 0) {
        t = t->kids[t->n - 1];
    } else if (t->type != SB_TOML_TABLE) {
        return redefined(ps, k, i, t, "cannot use key");
    } else if (flag == SB_TOML_F_DOTTED && (t->flags & SB_TOML_F_HEADER)) {
        return redefined(ps, k, i, t, "cannot extend table");
    }
    *cur = t;
    return 0;
}

static int table_header(parser *ps, sb_toml *root, sb_toml **cur) {
    keypath k;
    sb_toml *t = root, *last;
    int i, rc, aot, hcol = col_of(ps, ps->p);
    aot = ps->end - ps->p >= 2 && ps->p[1] == '[';
    ps->p += aot ? 2 : 1;
    skip_ws(ps);
    if ((rc = parse_key(ps, &k)) < 0) goto out;
    k.col = hcol; /* tables are reported at their '[' */
    if (ps->p >= ps->end || *ps->p != ']' || (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
        rc = fail_at(ps, ps->p, aot ? "']]' closing the array-of-tables header" : "']' closing the table header");
        goto out;
    }
    ps->p += aot ? 2 : 1;
    for (i = 0; i + 1 < k.n; i++)
        if ((rc = descend(ps, &t, &k, i, SB_TOML_F_IMPLICIT)) < 0) goto out;
    last = sb_toml_get(t, k.part[k.n - 1]);
    if (aot) {
        sb_toml *item;
        if (!last) {
            last = node_new(SB_TOML_ARRAY, ps->file, k.line, k.col);
            if (!last || !(last->key = strdup(k.part[k.n - 1])) || push_kid(t, last) < 0) {
                sb_toml_free(last);
                rc = SB_ENOMEM;
                goto out;
            }
            last->flags = SB_TOML_F_AOT;
        } else if (last->type != SB_TOML_ARRAY || !(last->flags & SB_TOML_F_AOT)) {
            rc = redefined(ps, &k, k.n - 1, last, "cannot append a table to");
            goto out;
        }
        item = node_new(SB_TOML_TABLE, ps->file, k.line, k.col);
        if (!item || push_kid(last, item) < 0) {
            sb_toml_free(item);
            rc = SB_ENOMEM;
            goto out;
        }
        item->flags = SB_TOML_F_HEADER;
        *cur = item;
    } else {
        if (!last) {
            last = node_new(SB_TOML_TABLE, ps->file, k.line, k.col);
            if (!last || !(last->key = strdup(k.part[k.n - 1])) || push_kid(t, last) < 0) {
                sb_toml_free(last);
                rc = SB_ENOMEM;
                goto out;
            }
        } else if (last->type != SB_TOML_TABLE || (last->flags & (SB_TOML_F_HEADER | SB_TOML_F_DOTTED))) {
            rc = redefined(ps, &k, k.n - 1, last, "cannot define table");
            goto out;
        } else {
            last->line = k.line; /* the implicit table now has a header of its own */
            last->col = k.col;
        }
        last->flags = SB_TOML_F_HEADER;
        *cur = last;
    }
    rc = expect_eol(ps, aot ? "the [[header]]" : "the [header]");
out:
    keypath_free(&k);
    return rc;
}

static int key_value(parser *ps, sb_toml *cur) {
    keypath k;
    sb_toml *t = cur, *v = NULL, *old;
    int i, rc;
    if ((rc = parse_key(ps, &k)) < 0) goto out;
    if (ps->p >= ps->end || *ps->p != '=') {
        rc = fail_at(ps, ps->p, "'=' after the key");
        goto out;
    }
    ps->p++;
    skip_ws(ps);
    for (i = 0; i + 1 < k.n; i++)
        if ((rc = descend(ps, &t, &k, i, SB_TOML_F_DOTTED)) < 0) goto out;
    if ((old = sb_toml_get(t, k.part[k.n - 1])) != NULL) {
        rc = redefined(ps, &k, k.n - 1, old, "duplicate key");
        goto out;
    }
    if ((rc = parse_value(ps, &v)) < 0) goto out;
    v->line = k.line; /* report positions at the key: that is what users look for */
    v->col = k.col;
    if (!(v->key = strdup(k.part[k.n - 1])) || push_kid(t, v) < 0) {
        sb_toml_free(v);
        rc = SB_ENOMEM;
        goto out;
    }
    rc = expect_eol(ps, "the value");
out:
    keypath_free(&k);
    return rc;
}

/* TOML files are UTF-8. Checked once up front, so that every string, key
 * and comment is valid; strings end up in results.json, which must parse. */
static int check_utf8(parser *ps) {
    size_t ok = sb_utf8_valid_prefix(ps->p, (size_t)(ps->end - ps->p));
    const char *q, *bad = ps->p + ok;
    if (bad == ps->end) return 0;
    for (q = ps->p; q < bad; q++)
        if (*q == '\n') {
            ps->line++;
            ps->line_start = q + 1;
        }
    return sb_error_set(ps->err, SB_EFORMAT, "%s:%d:%d: invalid UTF-8 (byte 0x%02x): expected UTF-8 text",
                        ps->file, ps->line, col_of(ps, bad), (unsigned char)*bad);
}

int sb_toml_parse(const char *text, size_t len, const char *file, sb_toml **out, sb_error *err) {
    parser ps = {text, text + len, text, 1, 0, file ? file : "<string>", err};
    sb_toml *root = node_new(SB_TOML_TABLE, ps.file, 1, 1), *cur;
    int rc = 0;
    if (!root) return sb_error_set(err, SB_ENOMEM, "out of memory parsing %s", ps.file);
    root->flags = SB_TOML_F_HEADER;
    cur = root;
    if (memchr(text, 0, len)) {
        sb_toml_free(root);
        return sb_error_set(err, SB_EFORMAT, "%s: contains a NUL byte: expected a text file", ps.file);
    }
    if ((rc = check_utf8(&ps)) < 0) {
        sb_toml_free(root);
        return rc;
    }
    while (ps.p < ps.end) {
        skip_ws(&ps);
        if (ps.p >= ps.end) break;
        if (*ps.p == '#') rc = skip_comment(&ps);
        else if (at_newline(&ps)) eat_newline(&ps);
        else if (*ps.p == '[') rc = table_header(&ps, root, &cur);
        else rc = key_value(&ps, cur);
        if (rc < 0) break;
    }
    if (rc < 0) {
        if (rc == SB_ENOMEM) sb_error_set(err, SB_ENOMEM, "out of memory parsing %s", ps.file);
        sb_toml_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

int sb_toml_parse_file(const char *path, sb_toml **out, sb_error *err) {
    FILE *f;
    char *buf;
    long len;
    /* a directory would fail only at the read, saying less; a FIFO or a
     * device would block it for ever */
    int rc = sb_fopen_regular(path, "a TOML file", &f, err);
    if (rc == SB_EINVAL) return rc;
    if (rc < 0) return sb_error_set(err, SB_ENOENT, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read", path);
    }
    fclose(f);
    buf[len] = 0;
    rc = sb_toml_parse(buf, (size_t)len, path, out, err);
    free(buf);
    return rc;
}
