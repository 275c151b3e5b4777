/* cmd_plugins.c - `srambench plugins`: what the search path holds. */
#include <stdio.h>
#include <string.h>

#include "sb_cmd.h"
#include "sb_config.h"
#include "sb_loader.h"

typedef struct listing {
    const sb_search_path *sp;
    const char *config;   /* --config, for "[run] plugin_path of FILE" */
    int verbose;
    int n_ok, n_refused;
    int pass; /* 0: good ones, 1: refused ones */
} listing;

static const char *type_name(sb_opt_type t) {
    switch (t) {
    case SB_OPT_STRING: return "string";
    case SB_OPT_INT: return "integer";
    case SB_OPT_FLOAT: return "number";
    case SB_OPT_BOOL: return "boolean";
    case SB_OPT_STRINGS: return "strings";
    }
    return "?";
}

static void print_options(const sb_option_spec *s) {
    if (!s || !s->name) {
        printf("      (no options)\n");
        return;
    }
    for (; s->name; s++)
        printf("      %-28s %-8s %s%s%s%s\n", s->name, type_name(s->type),
               (s->flags & SB_OPT_REQUIRED) ? "[required] " : "",
               (s->flags & SB_OPT_SOURCED) ? "[needs <name>_source] " : "",
               (s->flags & SB_OPT_PREFIX) ? "[prefix] " : "", s->help ? s->help : "");
}

/* Which folder of the path a file was found under, and which setting put
 * that folder there: the search path is trusted like code, so a user must
 * be able to see where each plugin came from. */
static void print_origin(const listing *l, const char *file) {
    size_t i, n;
    for (i = 0; i < l->sp->n; i++) {
        n = strlen(l->sp->dirs[i]);
        if (strncmp(file, l->sp->dirs[i], n) != 0 || file[n] != '/') continue;
        printf("      from %s, set by %s", l->sp->dirs[i], sb_path_origin_name(l->sp->origin[i]));
        if (l->sp->origin[i] == SB_PATH_CONFIG) printf(" of %s", l->config);
        if (l->sp->origin[i] == SB_PATH_DEFAULT) printf(" (the srambench program's folder)");
        printf("\n");
        return;
    }
}

/* The ABI a plugin was built for; a newer minor is loaded, but what that
 * minor added goes unused here (sb_plugin.h, "Minor versions"). */
static void print_abi(const sb_plugin_header *h) {
    printf("      ABI %u.%u", h->abi_major, h->abi_minor);
    if (h->abi_minor > SB_ABI_MINOR)
        printf(" (newer than this srambench's %d.%d: what %u.%u added is not used)", SB_ABI_MAJOR,
               SB_ABI_MINOR, h->abi_major, h->abi_minor);
    printf("\n");
}

static void visit(const char *file, const sb_plugin *p, const sb_error *refused, void *ud) {
    listing *l = ud;
    if (l->pass == 0 && p) {
        const sb_plugin_header *h = p->hdr;
        l->n_ok++;
        printf("%-8s %-14s %-8s %s\n", sb_kind_name(h->kind), h->name, h->version ? h->version : "?", file);
        if (h->description) printf("      %s\n", h->description);
        if (l->verbose) print_origin(l, file);
        if (l->verbose) print_abi(h);
        if (l->verbose) print_options(h->options);
    } else if (l->pass == 1 && !p) {
        if (!l->n_refused++) printf("\nrefused:\n");
        printf("  %s\n", refused->msg);
    }
}

static int plugins_main(int argc, char **argv) {
    listing l = {0};
    sb_search_path sp;
    sb_config cfg;
    sb_error err = {0};
    const char *config = NULL;
    int i, have_cfg = 0;
    size_t k;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) l.verbose = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else {
            fprintf(stderr, "srambench plugins: unknown argument '%s' (see srambench plugins --help)\n", argv[i]);
            return SB_EXIT_USAGE;
        }
    }
    if (config) {
        if (sb_config_load(config, &cfg, &err) < 0) {
            fprintf(stderr, "srambench: %s\n", err.msg);
            return SB_EXIT_CONFIG;
        }
        have_cfg = 1;
    }
    if (sb_search_path_init(&sp, have_cfg ? (const char *const *)cfg.plugin_path : NULL,
                            have_cfg ? cfg.n_plugin_path : 0, &err) < 0) {
        fprintf(stderr, "srambench: %s\n", err.msg);
        if (have_cfg) sb_config_free(&cfg);
        return SB_EXIT_CONFIG;
    }
    l.sp = &sp;
    l.config = config;
    printf("search path:");
    for (k = 0; k < sp.n; k++) printf(" %s%s", sp.dirs[k], sp.depth[k] ? " (recursive)" : "");
    printf("\n\n%-8s %-14s %-8s %s\n", "kind", "name", "version", "file");
    sb_plugin_scan(&sp, visit, &l);
    l.pass = 1;
    sb_plugin_scan(&sp, visit, &l);
    if (!l.n_ok) printf("(no plugins found)\n");
    sb_search_path_free(&sp);
    if (have_cfg) sb_config_free(&cfg);
    return SB_EXIT_OK;
}

const sb_command sb_cmd_plugins = {
    "plugins", "list the dataset, model and backend plugins found",
    "usage: srambench plugins [-v] [--config bench.toml]\n"
    "\n"
    "Lists every plugin file srambench-<kind>-<name>.so on the search path with its\n"
    "kind, name, version, file and description; plugins that would be refused (other\n"
    "ABI, missing symbol, not a shared object) are listed with the reason.\n"
    "Search path: SRAMBENCH_PLUGIN_PATH, [run] plugin_path of --config, then the\n"
    "folder of the srambench program (recursively, depth <= 4). The search path is\n"
    "trusted like code: a plugin's constructors run when it is loaded.\n"
    "\n"
    "options:\n"
    "  -v, --verbose     also say where each plugin came from (its search folder and\n"
    "                    the setting that named it) and list its options\n"
    "  --config FILE     add the plugin_path of this bench.toml\n"
    "  -h, --help        this text\n",
    plugins_main};
