/*
 * sb_config.h - bench.toml: the framework's schema (docs/bench-toml.md) and
 * the plugin options handed to each plugin after checking them against the
 * plugin's sb_option_spec list.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stdint.h>

#include "sb_plugin.h"
#include "sb_toml.h"

/* One [dataset], [[model]] or [[backend]] table. */
typedef struct sb_cfg_inst {
    char *name;        /* instance name (default: the plugin name)       */
    char *plugin;      /* plugin name                                    */
    const char *section; /* "dataset", "model", "backend" (for messages)  */
    sb_toml *table;    /* the table, merged with its `config` file; owns */
    const char *file;  /* where the table starts                         */
    int line, col;
    /* [[backend]]: runs of the first image before the counted ones, and
     * counted runs of each image, for measured latency (sb_timed.h);
     * -1 when not given (the command's default applies). */
    int64_t warmup, repeats;
} sb_cfg_inst;

typedef struct sb_cfg_dataset {
    sb_cfg_inst inst;
    int64_t per_class; /* 0: all                                         */
    int64_t limit;     /* 0: no limit                                    */
    int shuffle;
    uint64_t seed;
} sb_cfg_dataset;

/* One numeric axis of [sweep] (integers stored exactly as doubles). */
typedef struct sb_cfg_axis {
    double *v;
    size_t n;          /* 0: not given                                   */
    const char *file;  /* where it was written, for the sweep's checks   */
    int line, col;     /* against the backend's rules                    */
} sb_cfg_axis;

/* The source the framework gives an inline value that overrides a sourced
 * figure of a `config` file without a `<key>_source` of its own; figures
 * computed with such a value say so (sb_figures.c). */
/* Bounds of [[backend]] warmup and repeats: a run stays finite. */
#define SB_CFG_WARMUP_MAX 1000
#define SB_CFG_REPEATS_MAX 1000
#define SB_SOURCE_UNSOURCED "user override, unsourced"

#define SB_CFG_SWEEP_MAX_ITEMS 64

/* [sweep]: the axes of `srambench sweep --config` (docs/bench-toml.md).
 * `srambench run` parses but never runs it. Paths are resolved against
 * bench.toml's folder. */
typedef struct sb_cfg_sweep {
    int present;       /* the table was written                          */
    char *preset;      /* NULL: the command's default                    */
    char **models;     /* [sweep] models, else the [[model]] tables with */
    size_t n_models;   /* plugin "sbm" by their `path`                    */
    char **extmem;
    size_t n_extmem;
    sb_cfg_axis capacity_bytes, word_bits, ports, regfile_bytes, macs_per_cycle, clock_mhz;
    double latency_budget_ms, energy_budget_mj; /* NaN: none              */
} sb_cfg_sweep;

/* [run] name is part of the results folder's name, "<YYYYmmdd-HHMMSS>-<name>"
 * (and "-<k>" when taken): a file name holds at most 255 bytes (NAME_MAX). */
#define SB_CFG_RUN_NAME_MAX 200
/* [dataset], [[model]] and [[backend]] names: in job labels, tables and
 * `infer <dataset>:<index>`; the same bound. */
#define SB_CFG_NAME_MAX SB_CFG_RUN_NAME_MAX

typedef struct sb_config {
    char *path;        /* bench.toml as given                            */
    char *dir;         /* its folder: base of relative paths             */
    sb_toml *root;     /* the parsed file, `config` files merged in      */
    char *name;        /* [run] name                                     */
    char *output;      /* [run] output, resolved against dir             */
    char *cache_dir;   /* [run] cache_dir, env, or <dir>/.cache          */
    int workers;       /* [run] workers                                  */
    char **plugin_path;/* resolved against dir                           */
    size_t n_plugin_path;
    sb_cfg_dataset *datasets;
    size_t n_datasets;
    sb_cfg_inst *models;
    size_t n_models;
    sb_cfg_inst *backends;
    size_t n_backends;
    sb_cfg_sweep sweep;
} sb_config;

/* Parse and check the framework's part; plugin options are checked later,
 * when the plugin (and so its spec) is known. */
int sb_config_load(const char *path, sb_config *cfg, sb_error *err);
int sb_config_parse(const char *text, const char *path, sb_config *cfg, sb_error *err);
void sb_config_free(sb_config *cfg);

/* Options built for one plugin instance; owns the arrays, points into the
 * instance's table for strings. */
typedef struct sb_opts_owned {
    sb_options opts;
    sb_option *items;
    const char ***strings;  /* one array per SB_OPT_STRINGS item */
} sb_opts_owned;

/* Flatten `inst`'s table minus the framework keys into dotted keys and check
 * them against `spec` (may be NULL: then no option is accepted). */
int sb_options_build(const sb_cfg_inst *inst, const char *const *framework_keys,
                     const sb_option_spec *spec, sb_opts_owned *out, sb_error *err);
void sb_options_free(sb_opts_owned *o);
/* The keys whose `<key>_source` the framework set to SB_SOURCE_UNSOURCED,
 * ", "-separated (malloc'd), or NULL when there are none (or no memory). */
char *sb_options_unsourced(const sb_options *o);
/* The length of the key `v` is the source of, when that source is
 * SB_SOURCE_UNSOURCED ("sram.read_energy_pj_source": 19); else 0. */
size_t sb_option_unsourced_stem(const sb_option *v);

/* Framework keys of each table (NULL-terminated). */
extern const char *const sb_cfg_dataset_keys[];
extern const char *const sb_cfg_model_keys[];
extern const char *const sb_cfg_backend_keys[];

#endif /* SB_CONFIG_H */
