/*
 * sr_opts.h - sb_options built in code, and the SRAM presets read by a
 * minimal parser of the TOML subset they use (tests and bench only; the
 * framework has the real reader).
 */
#ifndef SR_OPTS_H
#define SR_OPTS_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "sb_plugin.h"

/* ------------------------------------------------------------ options */

typedef struct sr_opts {
    sb_option it[80];
    char keys[80][208];
    char strs[80][512];
    char file[512]; /* the preset's path: option values point here, not at the caller's buffer */
    sb_options o;
} sr_opts;

static inline void sr_set(sr_opts *p, const char *key, sb_opt_type type, double v, const char *str) {
    size_t i;
    for (i = 0; i < p->o.n && strcmp(p->it[i].key, key); i++) {}
    if (i == p->o.n) p->o.n++;
    sb_option *o = &p->it[i];
    memset(o, 0, sizeof *o);
    snprintf(p->keys[i], sizeof p->keys[i], "%s", key);
    o->key = p->keys[i];
    o->type = type;
    /* saturate: converting a double past int64's range is undefined (the
     * range tests set 1e308 and NaN) */
    o->i = v != v ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    o->f = v; o->b = v != 0;
    if (str) { snprintf(p->strs[i], sizeof p->strs[i], "%s", str); o->s = p->strs[i]; }
    o->file = "test"; o->line = (int)i + 1;
    p->o.items = p->it;
}
/* A figure and its source. */
static inline void sr_num(sr_opts *p, const char *key, sb_opt_type type, double v) {
    char k[80];
    sr_set(p, key, type, v, NULL);
    snprintf(k, sizeof k, "%s_source", key);
    sr_set(p, k, SB_OPT_STRING, 0, "assumption: test value");
}
/* The preset files, read by a minimal parser of the subset they use
 * ([table] headers, key = number | "string" | true/false, # comments). */
static inline int sr_load_preset(sr_opts *p, const char *path) {
    snprintf(p->file, sizeof p->file, "%s", path);
    FILE *f = fopen(path, "r");
    char line[1024], table[64] = "";
    if (!f) return -1;
    memset(p, 0, sizeof *p);
    while (fgets(line, sizeof line, f)) {
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || !*s) continue;
        if (*s == '[') { sscanf(s, "[%63[^]]]", table); continue; }
        char key[128], full[200], *eq = strchr(s, '=');
        if (!eq) continue;
        *eq = 0;
        if (sscanf(s, "%127s", key) != 1) continue;
        snprintf(full, sizeof full, "%s%s%s", table, table[0] ? "." : "", key);
        char *v = eq + 1;
        while (*v == ' ') v++;
        if (*v == '"') {
            char *e = strrchr(v + 1, '"');
            if (e) *e = 0;
            sr_set(p, full, SB_OPT_STRING, 0, v + 1);
        } else if (!strncmp(v, "true", 4) || !strncmp(v, "false", 5)) {
            sr_set(p, full, SB_OPT_BOOL, v[0] == 't', NULL);
        } else if (strpbrk(v, ".eE") && strcspn(v, ".eE") < strcspn(v, "#\n")) {
            sr_set(p, full, SB_OPT_FLOAT, strtod(v, NULL), NULL);
        } else {
            sr_set(p, full, SB_OPT_INT, (double)strtoll(v, NULL, 10), NULL);
        }
        p->it[p->o.n - 1].file = p->file;
    }
    fclose(f);
    return 0;
}

#endif
