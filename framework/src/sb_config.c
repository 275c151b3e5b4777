/*
 * sb_config.c - bench.toml's schema and plugin options (see sb_config.h and
 * docs/bench-toml.md). Unknown keys are errors: a misspelt option silently
 * ignored would make a benchmark measure something other than intended.
 */
#include "sb_config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_loader.h"
#include "sb_file.h"
#include "sb_util.h"

const char *const sb_cfg_dataset_keys[] = {"name", "plugin", "per_class", "limit", "shuffle", "seed", NULL};
const char *const sb_cfg_model_keys[] = {"name", "plugin", NULL};
const char *const sb_cfg_backend_keys[] = {"name", "plugin", "config", "warmup", "repeats", NULL};
static const char *const run_keys[] = {"name", "output", "workers", "plugin_path", "cache_dir", NULL};
static const char *const top_keys[] = {"run", "dataset", "model", "backend", "sweep", NULL};
static const char *const sweep_keys[] = {"preset", "models", "capacity_bytes", "word_bits", "ports", "macs_per_cycle",
                                         "clock_mhz", "extmem", "latency_budget_ms", "energy_budget_mj", "regfile_bytes", NULL};

static int in_list(const char *const *list, const char *key) {
    for (; *list; list++)
        if (strcmp(*list, key) == 0) return 1;
    return 0;
}

static void list_text(const char *const *list, char *buf, size_t n) {
    buf[0] = 0;
    for (; *list; list++) {
        if (buf[0]) strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, *list, n - strlen(buf) - 1);
    }
}

static int unknown_key(const sb_toml *kv, const char *where, const char *const *allowed, sb_error *err) {
    char exp[256];
    list_text(allowed, exp, sizeof exp);
    return sb_error_set(err, SB_EINVAL, "%s:%d:%d: unknown key '%s' in %s: expected one of %s", kv->file,
                        kv->line, kv->col, kv->key, where, exp);
}

static int wrong_type(const sb_toml *kv, const char *where, const char *expected, sb_error *err) {
    return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s '%s': expected %s, found %s", kv->file, kv->line,
                        kv->col, where, kv->key, expected, sb_toml_type_name(kv->type));
}

/* Typed getters: absent leaves the default; present with the wrong type fails. */
static int get_str(const sb_toml *t, const char *key, const char *where, char **out, sb_error *err) {
    const sb_toml *v = sb_toml_get(t, key);
    if (!v) return 0;
    if (v->type != SB_TOML_STRING) return wrong_type(v, where, "a string", err);
    free(*out);
    *out = strdup(v->s);
    return *out ? 0 : sb_error_set(err, SB_ENOMEM, "out of memory");
}

/* The code point at s (valid UTF-8: the TOML reader refuses the rest). */
static unsigned utf8_at(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) return p[0];
    if (p[0] < 0xE0) return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    if (p[0] < 0xF0) return (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    return (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
}

/* Names end up in folder names, file names, terminal lines and Markdown
 * tables: a newline, a control character or a bidi override (U+202E shows
 * "exe.txt" as "txt.exe") would be used raw. Only a safe set is allowed. */
static int check_name_chars(const sb_toml *v, const char *where, const char *why, sb_error *err) {
    size_t k = strspn(v->s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
    unsigned cp;
    if (!v->s[k]) return 0;
    cp = utf8_at(v->s + k);
    return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s 'name' has U+%04X at byte %zu: expected only letters A-Z a-z, "
                        "digits, '.', '_' and '-'%s", v->file, v->line, v->col, where, cp, k + 1, why);
}

/* A name: a non-empty string (an empty one made a folder "20261129-100511-"
 * and jobs called " x  x ") of at most max_len bytes, of the characters
 * check_name_chars allows. */
static int get_name(const sb_toml *t, const char *where, size_t max_len, const char *why, char **out,
                    sb_error *err) {
    const sb_toml *v = sb_toml_get(t, "name");
    int rc = get_str(t, "name", where, out, err);
    if (rc < 0 || !v) return rc;
    if (!v->s[0])
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s 'name' is empty: expected a name%s", v->file, v->line,
                            v->col, where, why);
    if (max_len && strlen(v->s) > max_len)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s 'name' is %zu bytes long: expected at most %zu%s", v->file,
                            v->line, v->col, where, strlen(v->s), max_len, why);
    return check_name_chars(v, where, why, err);
}

static int get_int(const sb_toml *t, const char *key, const char *where, int64_t lo, int64_t hi,
                   int64_t *out, sb_error *err) {
    const sb_toml *v = sb_toml_get(t, key);
    if (!v) return 0;
    if (v->type != SB_TOML_INT) return wrong_type(v, where, "an integer", err);
    if (v->i < lo || v->i > hi)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s '%s' = %lld: expected %lld..%lld", v->file, v->line,
                            v->col, where, v->key, (long long)v->i, (long long)lo, (long long)hi);
    *out = v->i;
    return 0;
}

static int check_keys(const sb_toml *t, const char *where, const char *const *allowed, sb_error *err) {
    size_t i;
    for (i = 0; i < t->n; i++)
        if (!in_list(allowed, t->kids[i]->key)) return unknown_key(t->kids[i], where, allowed, err);
    return 0;
}

/* ------------------------------------------------------------------ [run] */

/* A cache folder that is a file (or lies under one) would only fail later,
 * in every job, on a temporary file inside it and after a misleading "stale
 * or corrupt: rebuilding": say now which setting names it. One that does not
 * exist yet is fine: the datasets create it. */
static int check_cache_dir(const sb_config *cfg, const sb_toml *key, sb_error *err) {
    struct stat st;
    const char *env = getenv("SRAMBENCH_CACHE_DIR");
    if (stat(cfg->cache_dir, &st) == 0 ? S_ISDIR(st.st_mode) : errno != ENOTDIR) return 0;
    if (key)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [run] cache_dir = \"%s\": %s is not a directory: expected a "
                            "folder for the dataset image cache (docs/dataset-cache.md)", key->file, key->line,
                            key->col, key->s, cfg->cache_dir);
    if (env && *env)
        return sb_error_set(err, SB_EINVAL, "SRAMBENCH_CACHE_DIR=%s: not a directory: expected a folder for the "
                            "dataset image cache (docs/dataset-cache.md), or unset it", env);
    return sb_error_set(err, SB_EINVAL, "%s: not a directory: expected the dataset image cache folder (the "
                        "default, .cache next to bench.toml; [run] cache_dir or SRAMBENCH_CACHE_DIR choose "
                        "another)", cfg->cache_dir);
}

static int load_run(sb_config *cfg, sb_error *err) {
    const sb_toml *run = sb_toml_get(cfg->root, "run"), *pp;
    int64_t workers = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    char *output = strdup("results"), *cache = NULL;
    const char *env_cache = getenv("SRAMBENCH_CACHE_DIR");
    int rc = 0;
    size_t i;
    cfg->name = strdup("bench");
    if (!output || !cfg->name) return sb_error_set(err, SB_ENOMEM, "out of memory");
    if (run) {
        if (run->type != SB_TOML_TABLE) {
            free(output);
            return wrong_type(run, "key", "a [run] table", err);
        }
        if ((rc = check_keys(run, "[run]", run_keys, err)) < 0 ||
            (rc = get_name(run, "[run] key", SB_CFG_RUN_NAME_MAX, " (it names the results folder)", &cfg->name, err)) < 0 ||
            (rc = get_str(run, "output", "[run] key", &output, err)) < 0 ||
            (rc = get_str(run, "cache_dir", "[run] key", &cache, err)) < 0 ||
            (rc = get_int(run, "workers", "[run] key", 1, 1024, &workers, err)) < 0)
            goto out;
        if ((pp = sb_toml_get(run, "plugin_path")) != NULL) {
            if (pp->type != SB_TOML_ARRAY) {
                rc = wrong_type(pp, "[run] key", "an array of folder names", err);
                goto out;
            }
            cfg->plugin_path = calloc(pp->n + 1, sizeof *cfg->plugin_path);
            for (i = 0; cfg->plugin_path && i < pp->n; i++) {
                if (pp->kids[i]->type != SB_TOML_STRING) {
                    rc = sb_error_set(err, SB_EINVAL, "%s:%d:%d: [run] plugin_path item %zu: expected a string, found %s",
                                      pp->file, pp->line, pp->col, i + 1, sb_toml_type_name(pp->kids[i]->type));
                    goto out;
                }
                cfg->plugin_path[cfg->n_plugin_path++] = sb_path_join(cfg->dir, pp->kids[i]->s);
            }
        }
    }
    cfg->workers = (int)workers;
    cfg->output = sb_path_join(cfg->dir, output);
    if (cache) cfg->cache_dir = sb_path_join(cfg->dir, cache);
    else if (env_cache && *env_cache) cfg->cache_dir = strdup(env_cache);
    else cfg->cache_dir = sb_path_join(cfg->dir, ".cache");
    if (!cfg->output || !cfg->cache_dir) rc = sb_error_set(err, SB_ENOMEM, "out of memory");
    else if ((rc = check_cache_dir(cfg, cache ? sb_toml_get(run, "cache_dir") : NULL, err)) < 0)
        goto out;
out:
    free(output);
    free(cache);
    return rc;
}

/* -------------------------------------------------------------- instances */

/* Overlay `top` on `base` (both tables): top's keys win, tables merge deeply. */
static int merge_into(sb_toml *base, const sb_toml *top) {
    size_t i;
    for (i = 0; i < top->n; i++) {
        const sb_toml *k = top->kids[i];
        sb_toml *b = sb_toml_get(base, k->key), *c;
        if (b && b->type == SB_TOML_TABLE && k->type == SB_TOML_TABLE) {
            if (merge_into(b, k) < 0) return SB_ENOMEM;
            continue;
        }
        if (!(c = sb_toml_clone(k)) || sb_toml_set(base, c) < 0) {
            sb_toml_free(c);
            return SB_ENOMEM;
        }
    }
    return 0;
}

/* `<key>_source = "user override, unsourced (FILE:LINE)"` beside the inline
 * value `v`: what the framework knows of a figure the user gave no source for. */
static int set_unsourced(sb_toml *top, const sb_toml *v, const char *skey) {
    sb_toml *s = calloc(1, sizeof *s);
    if (!s) return SB_ENOMEM;
    s->type = SB_TOML_STRING;
    s->line = v->line;
    s->col = v->col;
    s->key = strdup(skey);
    s->file = strdup(v->file ? v->file : "?");
    s->s = sb_strdupf("%s (%s:%d)", SB_SOURCE_UNSOURCED, v->file ? v->file : "?", v->line);
    if (!s->key || !s->file || !s->s || sb_toml_set(top, s) < 0) {
        sb_toml_free(s);
        return SB_ENOMEM;
    }
    return 0;
}

/* An inline value over a figure the config file sourced must not inherit
 * that source (it would attribute the user's number to a datasheet): it
 * brings its own `<key>_source` or is marked unsourced. */
static int drop_inherited_sources(const sb_toml *base, sb_toml *top) {
    for (size_t i = 0; i < top->n; i++) {
        const sb_toml *k = top->kids[i];
        const sb_toml *b = sb_toml_get(base, k->key);
        char *skey;
        int rc = 0;
        if (!b) continue;
        if (b->type == SB_TOML_TABLE && k->type == SB_TOML_TABLE) {
            if (drop_inherited_sources(b, top->kids[i]) < 0) return SB_ENOMEM;
            continue;
        }
        if (!(skey = sb_strdupf("%s_source", k->key))) return SB_ENOMEM;
        if (sb_toml_get(base, skey) && !sb_toml_get(top, skey)) rc = set_unsourced(top, k, skey);
        free(skey);
        if (rc < 0) return rc;
    }
    return 0;
}

/* `config = "file.toml"`: the file's keys under the table, inline keys win. */
static int merge_config_file(sb_config *cfg, sb_toml *table, sb_error *err) {
    sb_toml *ref = sb_toml_get(table, "config"), *file_root = NULL;
    char *path;
    int rc;
    if (!ref) return 0;
    if (ref->type != SB_TOML_STRING) return wrong_type(ref, "key", "a string (a TOML file name)", err);
    if (!ref->s[0])
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: config = \"\": expected the name of a TOML file (relative to %s)",
                            ref->file, ref->line, ref->col, cfg->dir);
    if (!(path = sb_path_join(cfg->dir, ref->s))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    rc = sb_toml_parse_file(path, &file_root, err);
    if (rc == SB_ENOENT)
        sb_error_set(err, SB_ENOENT, "%s:%d:%d: config = \"%s\": cannot open %s: expected a TOML file (relative to %s)",
                     ref->file, ref->line, ref->col, ref->s, path, cfg->dir);
    else if (rc < 0 && rc != SB_EFORMAT && rc != SB_ENOMEM) { /* a syntax error names its own file:line:col */
        sb_error inner = *err;
        sb_error_set(err, rc, "%s:%d:%d: config = \"%s\": %s", ref->file, ref->line, ref->col, ref->s, inner.msg);
    }
    free(path);
    if (rc < 0) return rc;
    if ((ref = sb_toml_get(file_root, "config")) != NULL) {
        rc = sb_error_set(err, SB_EINVAL, "%s:%d:%d: 'config' inside a config file: expected the options "
                          "themselves (config files do not nest)", ref->file, ref->line, ref->col);
        sb_toml_free(file_root);
        return rc;
    }
    sb_toml_remove(table, "config");
    if ((rc = drop_inherited_sources(file_root, table)) < 0 || (rc = merge_into(file_root, table)) < 0) {
        sb_toml_free(file_root);
        return sb_error_set(err, rc, "out of memory");
    }
    /* Swap the merged members into the table so it keeps its own position. */
    {
        sb_toml **kids = table->kids;
        size_t n = table->n, cap = table->cap;
        table->kids = file_root->kids;
        table->n = file_root->n;
        table->cap = file_root->cap;
        file_root->kids = kids;
        file_root->n = n;
        file_root->cap = cap;
    }
    sb_toml_free(file_root);
    return 0;
}

static int load_inst(sb_config *cfg, sb_toml *t, const char *section, sb_cfg_inst *inst, sb_error *err) {
    char where[64];
    const sb_toml *plugin;
    int rc;
    if (strcmp(section, "dataset") == 0) snprintf(where, sizeof where, "[dataset]");
    else snprintf(where, sizeof where, "[[%s]]", section);
    inst->section = section;
    inst->table = t;
    inst->file = t->file;
    inst->line = t->line;
    inst->col = t->col;
    inst->warmup = -1;
    inst->repeats = -1;
    if (strcmp(section, "backend") == 0 && ((rc = merge_config_file(cfg, t, err)) < 0 ||
        (rc = get_int(t, "warmup", "[[backend]] key", 0, SB_CFG_WARMUP_MAX, &inst->warmup, err)) < 0 ||
        (rc = get_int(t, "repeats", "[[backend]] key", 1, SB_CFG_REPEATS_MAX, &inst->repeats, err)) < 0))
        return rc;
    plugin = sb_toml_get(t, "plugin");
    if (!plugin)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s: missing key 'plugin': expected the name of a %s plugin",
                            t->file, t->line, t->col, where, section);
    if ((rc = get_str(t, "plugin", where, &inst->plugin, err)) < 0)
        return rc;
    /* The name becomes a file name on the search path: a path here
     * ("cpu.so.p/../../x") would load any library (sb_loader.h). */
    if (!sb_plugin_name_ok(inst->plugin))
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: %s plugin = \"%s\": expected a plugin name, "
                            "[a-z0-9][a-z0-9-]* (lower-case letters, digits and '-'; not a path)",
                            plugin->file, plugin->line, plugin->col, where, inst->plugin);
    if ((rc = get_name(t, where, SB_CFG_NAME_MAX, " (or no 'name' key: the plugin's name)", &inst->name, err)) < 0)
        return rc;
    if (!inst->name && !(inst->name = strdup(inst->plugin))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    return 0;
}

static int load_dataset(sb_config *cfg, sb_toml *t, sb_cfg_dataset *d, sb_error *err) {
    const sb_toml *sh;
    int64_t seed = 0;
    int rc;
    if (t->type != SB_TOML_TABLE) return wrong_type(t, "key", "a [dataset] table", err);
    if ((rc = load_inst(cfg, t, "dataset", &d->inst, err)) < 0 ||
        (rc = get_int(t, "per_class", "[dataset] key", 0, INT32_MAX, &d->per_class, err)) < 0 ||
        (rc = get_int(t, "limit", "[dataset] key", 0, INT32_MAX, &d->limit, err)) < 0 ||
        (rc = get_int(t, "seed", "[dataset] key", 0, INT64_MAX, &seed, err)) < 0)
        return rc;
    d->seed = (uint64_t)seed;
    if ((sh = sb_toml_get(t, "shuffle")) != NULL) {
        if (sh->type != SB_TOML_BOOL) return wrong_type(sh, "[dataset] key", "true or false", err);
        d->shuffle = sh->b;
    }
    return 0;
}

static int check_unique(const sb_cfg_inst *a, size_t n, sb_error *err) {
    size_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++)
            if (strcmp(a[i].name, a[j].name) == 0)
                return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [[%s]] name '%s' is used twice (first at line %d): "
                                    "expected a unique name (set name = \"...\")", a[i].file, a[i].line, a[i].col,
                                    a[i].section, a[i].name, a[j].line);
    return 0;
}

static int load_list(sb_config *cfg, const char *section, sb_cfg_inst **out, size_t *n_out, sb_error *err) {
    sb_toml *arr = sb_toml_get(cfg->root, section);
    size_t i;
    int rc;
    if (!arr) return 0;
    if (arr->type != SB_TOML_ARRAY || !(arr->flags & SB_TOML_F_AOT))
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: '%s': expected [[%s]] tables, found %s", arr->file,
                            arr->line, arr->col, section, section,
                            arr->type == SB_TOML_TABLE ? "a single [table]" : sb_toml_type_name(arr->type));
    if (!(*out = calloc(arr->n, sizeof **out))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (i = 0; i < arr->n; i++) {
        if ((rc = load_inst(cfg, arr->kids[i], section, &(*out)[i], err)) < 0) {
            *n_out = i + 1;
            return rc;
        }
    }
    *n_out = arr->n;
    return check_unique(*out, *n_out, err);
}

static int load_datasets(sb_config *cfg, sb_error *err) {
    sb_toml *ds = sb_toml_get(cfg->root, "dataset");
    size_t n, i;
    int rc;
    if (!ds)
        return sb_error_set(err, SB_EINVAL, "%s: missing [dataset] table: expected a dataset plugin to run on", cfg->path);
    n = ds->type == SB_TOML_ARRAY ? ds->n : 1;
    if (!(cfg->datasets = calloc(n, sizeof *cfg->datasets))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        cfg->n_datasets = i + 1;
        if ((rc = load_dataset(cfg, ds->type == SB_TOML_ARRAY ? ds->kids[i] : ds, &cfg->datasets[i], err)) < 0)
            return rc;
    }
    for (i = 0; i < n; i++) {
        size_t j;
        const sb_cfg_inst *a = &cfg->datasets[i].inst;
        for (j = 0; j < i; j++)
            if (strcmp(a->name, cfg->datasets[j].inst.name) == 0)
                return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [[dataset]] name '%s' is used twice: expected a "
                                    "unique name (set name = \"...\")", a->file, a->line, a->col, a->name);
    }
    return 0;
}

/* ---------------------------------------------------------------- [sweep] */

/* A non-empty array of at most SB_CFG_SWEEP_MAX_ITEMS; item errors name the
 * item by number at the key's position. */
static int sweep_array(const sb_toml *v, const char *expected, sb_error *err) {
    if (v->type != SB_TOML_ARRAY) return wrong_type(v, "[sweep] key", expected, err);
    if (v->n == 0 || v->n > SB_CFG_SWEEP_MAX_ITEMS)
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [sweep] key '%s' has %zu items: expected %s with 1..%d items",
                            v->file, v->line, v->col, v->key, v->n, expected, SB_CFG_SWEEP_MAX_ITEMS);
    return 0;
}

static int bad_item(const sb_toml *v, size_t i, const char *expected, sb_error *err) {
    return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [sweep] key '%s' item %zu: expected %s, found %s", v->file, v->line,
                        v->col, v->key, i + 1, expected, sb_toml_type_name(v->kids[i]->type));
}

/* Positive numbers; `ints`: integers only (capacities, widths, counts). */
static int sweep_axis(const sb_toml *t, const char *key, int ints, sb_cfg_axis *ax, sb_error *err) {
    const sb_toml *v = sb_toml_get(t, key);
    const char *exp = ints ? "an array of positive integers" : "an array of positive numbers";
    size_t i;
    int rc;
    if (!v) return 0;
    if ((rc = sweep_array(v, exp, err)) < 0) return rc;
    if (!(ax->v = calloc(v->n, sizeof *ax->v))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    ax->file = v->file, ax->line = v->line, ax->col = v->col;
    for (i = 0; i < v->n; i++) {
        const sb_toml *k = v->kids[i];
        double x;
        if (k->type == SB_TOML_INT) x = (double)k->i;
        else if (k->type == SB_TOML_FLOAT && !ints) x = k->f;
        else return bad_item(v, i, ints ? "a positive integer" : "a positive number", err);
        if (!(x > 0) || isinf(x) || (ints && k->i > INT32_MAX))
            return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [sweep] key '%s' item %zu = %g: expected a positive %s%s",
                                v->file, v->line, v->col, key, i + 1, x, ints ? "integer" : "finite number",
                                ints ? " up to 2147483647" : "");
        ax->v[ax->n++] = x;
    }
    return 0;
}

/* Paths relative to bench.toml's folder. */
static int sweep_paths(const sb_config *cfg, const sb_toml *t, const char *key, char ***out, size_t *n, sb_error *err) {
    const sb_toml *v = sb_toml_get(t, key);
    size_t i;
    int rc;
    if (!v) return 0;
    if ((rc = sweep_array(v, "an array of file names", err)) < 0) return rc;
    if (!(*out = calloc(v->n, sizeof **out))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (i = 0; i < v->n; i++) {
        if (v->kids[i]->type != SB_TOML_STRING) return bad_item(v, i, "a string (a file name)", err);
        if (!((*out)[(*n)++] = sb_path_join(cfg->dir, v->kids[i]->s)))
            return sb_error_set(err, SB_ENOMEM, "out of memory");
    }
    return 0;
}

static int sweep_budget(const sb_toml *t, const char *key, double *out, sb_error *err) {
    const sb_toml *v = sb_toml_get(t, key);
    double x;
    if (!v) return 0;
    if (v->type != SB_TOML_INT && v->type != SB_TOML_FLOAT) return wrong_type(v, "[sweep] key", "a number", err);
    x = v->type == SB_TOML_INT ? (double)v->i : v->f;
    if (!(x > 0) || isinf(x))
        return sb_error_set(err, SB_EINVAL, "%s:%d:%d: [sweep] key '%s' = %g: expected a positive finite number",
                            v->file, v->line, v->col, key, x);
    *out = x;
    return 0;
}

/* Without `models`: the [[model]] tables of the sbm plugin, by `path`. */
static int sweep_default_models(sb_config *cfg, sb_error *err) {
    sb_cfg_sweep *sw = &cfg->sweep;
    size_t i;
    if (!(sw->models = calloc(cfg->n_models + 1, sizeof *sw->models))) return sb_error_set(err, SB_ENOMEM, "out of memory");
    for (i = 0; i < cfg->n_models; i++) {
        const sb_toml *p = sb_toml_get(cfg->models[i].table, "path");
        if (strcmp(cfg->models[i].plugin, "sbm") != 0 || !p || p->type != SB_TOML_STRING) continue;
        if (!(sw->models[sw->n_models++] = sb_path_join(cfg->dir, p->s)))
            return sb_error_set(err, SB_ENOMEM, "out of memory");
    }
    return 0;
}

static int load_sweep(sb_config *cfg, sb_error *err) {
    const sb_toml *t = sb_toml_get(cfg->root, "sweep");
    sb_cfg_sweep *sw = &cfg->sweep;
    char *preset = NULL;
    int rc;
    sw->latency_budget_ms = sw->energy_budget_mj = NAN;
    if (t) {
        if (t->type != SB_TOML_TABLE) return wrong_type(t, "key", "a [sweep] table", err);
        sw->present = 1;
        if ((rc = check_keys(t, "[sweep]", sweep_keys, err)) < 0 ||
            (rc = get_str(t, "preset", "[sweep] key", &preset, err)) < 0 ||
            (rc = sweep_paths(cfg, t, "models", &sw->models, &sw->n_models, err)) < 0 ||
            (rc = sweep_paths(cfg, t, "extmem", &sw->extmem, &sw->n_extmem, err)) < 0 ||
            (rc = sweep_axis(t, "capacity_bytes", 1, &sw->capacity_bytes, err)) < 0 ||
            (rc = sweep_axis(t, "word_bits", 1, &sw->word_bits, err)) < 0 ||
            (rc = sweep_axis(t, "ports", 1, &sw->ports, err)) < 0 ||
            (rc = sweep_axis(t, "regfile_bytes", 1, &sw->regfile_bytes, err)) < 0 ||
            (rc = sweep_axis(t, "macs_per_cycle", 1, &sw->macs_per_cycle, err)) < 0 ||
            (rc = sweep_axis(t, "clock_mhz", 0, &sw->clock_mhz, err)) < 0 ||
            (rc = sweep_budget(t, "latency_budget_ms", &sw->latency_budget_ms, err)) < 0 ||
            (rc = sweep_budget(t, "energy_budget_mj", &sw->energy_budget_mj, err)) < 0) {
            free(preset);
            return rc;
        }
        if (preset) {
            sw->preset = sb_path_join(cfg->dir, preset);
            free(preset);
            if (!sw->preset) return sb_error_set(err, SB_ENOMEM, "out of memory");
        }
    }
    return sw->models ? 0 : sweep_default_models(cfg, err);
}

static void sweep_free(sb_cfg_sweep *sw) {
    size_t i;
    for (i = 0; i < sw->n_models; i++) free(sw->models[i]);
    for (i = 0; i < sw->n_extmem; i++) free(sw->extmem[i]);
    free(sw->models);
    free(sw->extmem);
    free(sw->preset);
    free(sw->capacity_bytes.v);
    free(sw->word_bits.v);
    free(sw->ports.v);
    free(sw->regfile_bytes.v);
    free(sw->macs_per_cycle.v);
    free(sw->clock_mhz.v);
}

static int check_top(const sb_config *cfg, sb_error *err) {
    size_t i;
    for (i = 0; i < cfg->root->n; i++)
        if (!in_list(top_keys, cfg->root->kids[i]->key))
            return unknown_key(cfg->root->kids[i], "bench.toml's top level", top_keys, err);
    return 0;
}

static int parse_all(const char *text, const char *path, sb_config *cfg, sb_error *err);

/* On error nothing stays allocated: the caller only reports and exits. */
int sb_config_parse(const char *text, const char *path, sb_config *cfg, sb_error *err) {
    int rc = parse_all(text, path, cfg, err);
    if (rc < 0) sb_config_free(cfg);
    return rc;
}

static int parse_all(const char *text, const char *path, sb_config *cfg, sb_error *err) {
    int rc;
    memset(cfg, 0, sizeof *cfg);
    if (!(cfg->path = strdup(path)) || !(cfg->dir = sb_dirname(path)))
        return sb_error_set(err, SB_ENOMEM, "out of memory");
    if ((rc = sb_toml_parse(text, strlen(text), path, &cfg->root, err)) < 0) return rc;
    if ((rc = check_top(cfg, err)) < 0 || (rc = load_run(cfg, err)) < 0 || (rc = load_datasets(cfg, err)) < 0 ||
        (rc = load_list(cfg, "model", &cfg->models, &cfg->n_models, err)) < 0 ||
        (rc = load_list(cfg, "backend", &cfg->backends, &cfg->n_backends, err)) < 0 ||
        (rc = load_sweep(cfg, err)) < 0)
        return rc;
    if (cfg->n_models == 0)
        return sb_error_set(err, SB_EINVAL, "%s: no [[model]] table: expected at least one model", path);
    if (cfg->n_backends == 0)
        return sb_error_set(err, SB_EINVAL, "%s: no [[backend]] table: expected at least one backend", path);
    return 0;
}

int sb_config_load(const char *path, sb_config *cfg, sb_error *err) {
    FILE *f;
    char *buf;
    long len;
    int rc;
    memset(cfg, 0, sizeof *cfg);
    /* a FIFO or a device is refused before the read that would never end */
    rc = sb_fopen_regular(path, "a bench.toml file", &f, err);
    if (rc == SB_EINVAL) return rc;
    if (rc < 0) return sb_error_set(err, SB_ENOENT, "%s: cannot open: expected a bench.toml file", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || !(buf = malloc((size_t)len + 1))) {
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read", path);
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return sb_error_set(err, SB_EIO, "%s: cannot read", path);
    }
    fclose(f);
    buf[len] = 0;
    if (strlen(buf) != (size_t)len) {
        free(buf);
        return sb_error_set(err, SB_EFORMAT, "%s: contains a NUL byte: expected a text file", path);
    }
    rc = sb_config_parse(buf, path, cfg, err);
    free(buf);
    return rc;
}

static void inst_free(sb_cfg_inst *i) {
    free(i->name);
    free(i->plugin);
}

void sb_config_free(sb_config *cfg) {
    size_t i;
    for (i = 0; i < cfg->n_datasets; i++) inst_free(&cfg->datasets[i].inst);
    for (i = 0; i < cfg->n_models; i++) inst_free(&cfg->models[i]);
    for (i = 0; i < cfg->n_backends; i++) inst_free(&cfg->backends[i]);
    for (i = 0; i < cfg->n_plugin_path; i++) free(cfg->plugin_path[i]);
    sweep_free(&cfg->sweep);
    free(cfg->plugin_path);
    free(cfg->datasets);
    free(cfg->models);
    free(cfg->backends);
    sb_toml_free(cfg->root);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->name);
    free(cfg->output);
    free(cfg->cache_dir);
    memset(cfg, 0, sizeof *cfg);
}

/* ---------------------------------------------------------------- options */

typedef struct flat {
    sb_opts_owned *o;
    size_t cap;
    const sb_cfg_inst *inst;
    const sb_option_spec *spec;
    sb_error *err;
} flat;

static const char *opt_type_name(sb_opt_type t) {
    switch (t) {
    case SB_OPT_STRING: return "a string";
    case SB_OPT_INT: return "an integer";
    case SB_OPT_FLOAT: return "a number";
    case SB_OPT_BOOL: return "true or false";
    case SB_OPT_STRINGS: return "an array of strings";
    }
    return "?";
}

static int spec_matches(const sb_option_spec *s, const char *key) {
    if (s->flags & SB_OPT_PREFIX) return strncmp(key, s->name, strlen(s->name)) == 0 && key[strlen(s->name)];
    return strcmp(s->name, key) == 0;
}

static const sb_option_spec *spec_find(const sb_option_spec *spec, const char *key) {
    for (; spec && spec->name; spec++)
        if (spec_matches(spec, key)) return spec;
    return NULL;
}

/* "x_source" belongs to a SOURCED option "x". */
static const sb_option_spec *source_of(const sb_option_spec *spec, const char *key) {
    size_t len = strlen(key);
    const sb_option_spec *s;
    char *stem;
    if (len <= 7 || strcmp(key + len - 7, "_source") != 0) return NULL;
    if (!(stem = strndup(key, len - 7))) return NULL;
    s = spec_find(spec, stem);
    free(stem);
    return s && (s->flags & SB_OPT_SOURCED) ? s : NULL;
}

static int unknown_option(flat *fl, const sb_toml *v, const char *key) {
    sb_buf names = {0};
    const sb_option_spec *s;
    for (s = fl->spec; s && s->name; s++)
        sb_buf_printf(&names, "%s%s%s", names.len ? ", " : "", s->name, (s->flags & SB_OPT_PREFIX) ? "*" : "");
    sb_error_set(fl->err, SB_EINVAL, "%s:%d:%d: unknown option '%s' for %s plugin '%s': expected one of %s",
                 v->file, v->line, v->col, key, fl->inst->section, fl->inst->plugin,
                 names.s ? names.s : "(this plugin takes no options)");
    sb_buf_free(&names);
    return SB_EINVAL;
}

static int add_option(flat *fl, const sb_toml *v, const char *key) {
    /* "x_source" of a sourced "x" is a string even under a typed prefix. */
    const sb_option_spec *src = source_of(fl->spec, key), *s = src ? NULL : spec_find(fl->spec, key);
    sb_opt_type want;
    sb_option *o;
    if (!s && !src) return unknown_option(fl, v, key);
    want = s ? s->type : SB_OPT_STRING;
    if (fl->o->opts.n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 16;
        sb_option *ni = realloc(fl->o->items, cap * sizeof *ni);
        const char ***ns = realloc(fl->o->strings, cap * sizeof *ns);
        if (ni) fl->o->items = ni;
        if (ns) fl->o->strings = ns;
        fl->o->opts.items = fl->o->items;
        if (!ni || !ns) return sb_error_set(fl->err, SB_ENOMEM, "out of memory");
        fl->cap = cap;
    }
    o = &fl->o->items[fl->o->opts.n];
    memset(o, 0, sizeof *o);
    fl->o->strings[fl->o->opts.n] = NULL;
    o->file = v->file;
    o->line = v->line;
    o->col = v->col;
    o->type = want;
    if (!(o->key = strdup(key))) return sb_error_set(fl->err, SB_ENOMEM, "out of memory");
    fl->o->opts.n++;
    switch (want) {
    case SB_OPT_STRING:
        if (v->type != SB_TOML_STRING) goto bad;
        o->s = v->s;
        return 0;
    case SB_OPT_INT:
        if (v->type != SB_TOML_INT) goto bad;
        o->i = v->i;
        o->f = (double)v->i;
        return 0;
    case SB_OPT_FLOAT:
        if (v->type != SB_TOML_INT && v->type != SB_TOML_FLOAT) goto bad;
        o->f = v->type == SB_TOML_INT ? (double)v->i : v->f;
        return 0;
    case SB_OPT_BOOL:
        if (v->type != SB_TOML_BOOL) goto bad;
        o->b = v->b;
        return 0;
    case SB_OPT_STRINGS: {
        size_t i;
        const char **arr;
        if (v->type != SB_TOML_ARRAY) goto bad;
        if (!(arr = calloc(v->n + 1, sizeof *arr))) return sb_error_set(fl->err, SB_ENOMEM, "out of memory");
        fl->o->strings[fl->o->opts.n - 1] = arr;
        for (i = 0; i < v->n; i++) {
            if (v->kids[i]->type != SB_TOML_STRING) goto bad;
            arr[i] = v->kids[i]->s;
        }
        o->strings = arr;
        o->n_strings = v->n;
        return 0;
    }
    }
bad:
    return sb_error_set(fl->err, SB_EINVAL, "%s:%d:%d: option '%s' of %s '%s': expected %s, found %s%s%s", v->file,
                        v->line, v->col, key, fl->inst->section, fl->inst->name, opt_type_name(want),
                        v->type == SB_TOML_ARRAY ? "an array with other items" : sb_toml_type_name(v->type),
                        s && s->help ? " -- " : "", s && s->help ? s->help : "");
}

static int flatten(flat *fl, const sb_toml *t, const char *prefix, const char *const *skip) {
    size_t i;
    int rc;
    for (i = 0; i < t->n; i++) {
        const sb_toml *k = t->kids[i];
        char *key;
        if (!prefix && skip && in_list(skip, k->key)) continue;
        key = prefix ? sb_strdupf("%s.%s", prefix, k->key) : strdup(k->key);
        if (!key) return sb_error_set(fl->err, SB_ENOMEM, "out of memory");
        rc = k->type == SB_TOML_TABLE ? flatten(fl, k, key, NULL) : add_option(fl, k, key);
        free(key);
        if (rc < 0) return rc;
    }
    return 0;
}

static int check_required(flat *fl) {
    const sb_option_spec *s;
    const sb_cfg_inst *in = fl->inst;
    size_t i;
    for (s = fl->spec; s && s->name; s++) {
        if ((s->flags & SB_OPT_REQUIRED) && !(s->flags & SB_OPT_PREFIX) && !sb_opt_find(&fl->o->opts, s->name))
            return sb_error_set(fl->err, SB_EINVAL, "%s:%d:%d: %s '%s' (plugin %s): missing required option '%s': expected %s%s%s",
                                in->file, in->line, in->col, in->section, in->name, in->plugin, s->name,
                                opt_type_name(s->type), s->help ? " -- " : "", s->help ? s->help : "");
    }
    /* A sourced figure without its source is a number nobody can check. */
    for (i = 0; i < fl->o->opts.n; i++) {
        const sb_option *o = &fl->o->items[i];
        const sb_option *src;
        char *skey;
        if (source_of(fl->spec, o->key)) continue; /* a source needs no source */
        s = spec_find(fl->spec, o->key);
        if (!s || !(s->flags & SB_OPT_SOURCED)) continue;
        if (!(skey = sb_strdupf("%s_source", o->key))) return sb_error_set(fl->err, SB_ENOMEM, "out of memory");
        src = sb_opt_find(&fl->o->opts, skey);
        if (!src || !src->s || !src->s[0]) {
            sb_error_set(fl->err, SB_EINVAL, "%s:%d:%d: option '%s' of %s '%s' is a sourced figure: expected "
                         "'%s = \"<where the figure comes from>\"' (or \"assumption: <why>\") beside it",
                         o->file, o->line, o->col, o->key, in->section, in->name, skey);
            free(skey);
            return SB_EINVAL;
        }
        free(skey);
    }
    return 0;
}

int sb_options_build(const sb_cfg_inst *inst, const char *const *framework_keys, const sb_option_spec *spec,
                     sb_opts_owned *out, sb_error *err) {
    flat fl = {out, 0, inst, spec, err};
    int rc;
    memset(out, 0, sizeof *out);
    out->opts.name = inst->name;
    rc = flatten(&fl, inst->table, NULL, framework_keys);
    if (rc == 0) rc = check_required(&fl);
    out->opts.items = out->items;
    if (rc < 0) sb_options_free(out);
    return rc;
}

void sb_options_free(sb_opts_owned *o) {
    size_t i;
    for (i = 0; i < o->opts.n; i++) {
        free((char *)o->items[i].key);
        if (o->strings) free(o->strings[i]);
    }
    free(o->items);
    free(o->strings);
    memset(o, 0, sizeof *o);
}

size_t sb_option_unsourced_stem(const sb_option *v) {
    size_t len = strlen(v->key), plen = strlen(SB_SOURCE_UNSOURCED);
    if (v->type != SB_OPT_STRING || !v->s || strncmp(v->s, SB_SOURCE_UNSOURCED, plen) != 0) return 0;
    if (len <= 7 || strcmp(v->key + len - 7, "_source") != 0) return 0;
    return len - 7;
}

char *sb_options_unsourced(const sb_options *o) {
    sb_buf keys = {0};
    for (size_t i = 0; o && i < o->n; i++) {
        size_t stem = sb_option_unsourced_stem(&o->items[i]);
        if (stem) sb_buf_printf(&keys, "%s%.*s", keys.len ? ", " : "", (int)stem, o->items[i].key);
    }
    if (keys.oom) sb_buf_free(&keys);
    return keys.oom ? NULL : keys.s;
}
