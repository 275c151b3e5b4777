/* bench.toml's schema and the plugin options checked against a spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sb_config.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sbfw-config-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text) {
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *bench_path(void) {
    static char p[512];
    snprintf(p, sizeof p, "%s/bench.toml", tmpdir);
    return p;
}

/* Parse, expecting an error at line:col containing `says`. */
static void parse_bad(const char *text, int line, int col, const char *says) {
    sb_config cfg;
    sb_error err = {0};
    char want[600];
    int rc = sb_config_parse(text, bench_path(), &cfg, &err);
    if (line) snprintf(want, sizeof want, "%s:%d:%d: ", bench_path(), line, col);
    else snprintf(want, sizeof want, "%s", bench_path());
    if (rc >= 0 || strncmp(err.msg, want, strlen(want)) || !strstr(err.msg, says))
        print_error("want %s...%s\ngot rc=%d %s\n", want, says, rc, err.msg);
    assert_true(rc < 0);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
    assert_non_null(strstr(err.msg, says));
    sb_config_free(&cfg);
}

static const char *minimal_tail = "[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n";

static void test_full(void **state) {
    sb_config cfg;
    sb_error err = {0};
    char want[600];
    (void)state;
    assert_int_equal(sb_config_parse("[run]\nname = \"demo\"\noutput = \"out\"\nworkers = 3\n"
                                     "plugin_path = [\"p1\", \"/abs/p2\"]\ncache_dir = \"/c\"\n"
                                     "[dataset]\nplugin = \"ham10000\"\nper_class = 50\nlimit = 100\n"
                                     "shuffle = true\nseed = 7\npath = \"../data\"\n"
                                     "[[model]]\nname = \"tiny\"\nplugin = \"sbm\"\npath = \"t.sbm\"\n"
                                     "[[model]]\nplugin = \"sbm\"\nname = \"b0\"\n"
                                     "[[backend]]\nname = \"sram-256\"\nplugin = \"sram\"\n[backend.sram]\ncapacity_bytes = 256\n",
                                     bench_path(), &cfg, &err), 0);
    assert_string_equal(cfg.name, "demo");
    snprintf(want, sizeof want, "%s/out", tmpdir);
    assert_string_equal(cfg.output, want);
    assert_string_equal(cfg.cache_dir, "/c");
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.n_plugin_path, 2);
    snprintf(want, sizeof want, "%s/p1", tmpdir);
    assert_string_equal(cfg.plugin_path[0], want);
    assert_string_equal(cfg.plugin_path[1], "/abs/p2");
    assert_int_equal(cfg.n_datasets, 1);
    assert_string_equal(cfg.datasets[0].inst.plugin, "ham10000");
    assert_string_equal(cfg.datasets[0].inst.name, "ham10000");
    assert_int_equal(cfg.datasets[0].per_class, 50);
    assert_int_equal(cfg.datasets[0].limit, 100);
    assert_int_equal(cfg.datasets[0].shuffle, 1);
    assert_int_equal(cfg.datasets[0].seed, 7);
    assert_int_equal(cfg.n_models, 2);
    assert_string_equal(cfg.models[1].name, "b0");
    assert_int_equal(cfg.n_backends, 1);
    assert_string_equal(cfg.backends[0].name, "sram-256");
    assert_int_equal(cfg.backends[0].line, 21);
    sb_config_free(&cfg);
}

static void test_defaults(void **state) {
    sb_config cfg;
    sb_error err = {0};
    char text[512], want[600];
    (void)state;
    unsetenv("SRAMBENCH_CACHE_DIR");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    assert_int_equal(sb_config_parse(text, bench_path(), &cfg, &err), 0);
    snprintf(want, sizeof want, "%s/results", tmpdir);
    assert_string_equal(cfg.output, want);
    snprintf(want, sizeof want, "%s/.cache", tmpdir);
    assert_string_equal(cfg.cache_dir, want);
    assert_true(cfg.workers >= 1);
    assert_int_equal(cfg.datasets[0].per_class, 0);
    assert_string_equal(cfg.models[0].name, "m");
    sb_config_free(&cfg);
}

static void test_unknown_keys(void **state) {
    char text[512];
    (void)state;
    snprintf(text, sizeof text, "[run]\nnmae = \"x\"\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "unknown key 'nmae' in [run]: expected one of name, output, workers");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[extra]\nx = 1\n", minimal_tail);
    parse_bad(text, 7, 1, "unknown key 'extra' in bench.toml's top level");
    snprintf(text, sizeof text, "typo = 1\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 1, 1, "unknown key 'typo'");
}

static void test_wrong_types(void **state) {
    char text[512];
    (void)state;
    snprintf(text, sizeof text, "[run]\nworkers = \"4\"\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "'workers': expected an integer, found string");
    snprintf(text, sizeof text, "[run]\nworkers = 0\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "expected 1..1024");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\nshuffle = 1\n%s", minimal_tail);
    parse_bad(text, 3, 1, "'shuffle': expected true or false");
    snprintf(text, sizeof text, "[dataset]\nplugin = 5\n%s", minimal_tail);
    parse_bad(text, 2, 1, "'plugin': expected a string, found integer");
    snprintf(text, sizeof text, "[run]\nplugin_path = [\"a\", 3]\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "plugin_path item 2: expected a string");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[backend]\nplugin = \"b\"\n", 5, 1,
              "expected [[backend]] tables, found a single [table]");
}

static void test_missing(void **state) {
    (void)state;
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nname = \"m\"\n[[backend]]\nplugin = \"b\"\n", 3, 1,
              "missing key 'plugin'");
    parse_bad("[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n", 0, 0, "missing [dataset] table");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n", 0, 0, "no [[backend]] table");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n",
              5, 1, "name 'm' is used twice");
    /* An empty [run] name made a results folder "20261129-100511-". */
    parse_bad("[run]\nname = \"\"\n[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n",
              2, 1, "[run] key 'name' is empty: expected a name (it names the results folder)");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\nname = \"\"\n[[backend]]\nplugin = \"b\"\n",
              5, 1, "[[model]] 'name' is empty: expected a name");
    /* A 300-byte [run] name failed late, as "cannot create a results folder". */
    {
        char text[1024], name[202];
        sb_config cfg;
        sb_error err = {0};
        memset(name, 'n', 201);
        name[201] = 0;
        snprintf(text, sizeof text, "[run]\nname = \"%s\"\n[dataset]\nplugin = \"d\"\n%s", name, minimal_tail);
        parse_bad(text, 2, 1, "[run] key 'name' is 201 bytes long: expected at most 200 (it names the results folder)");
        name[200] = 0; /* the longest accepted */
        snprintf(text, sizeof text, "[run]\nname = \"%s\"\n[dataset]\nplugin = \"d\"\n%s", name, minimal_tail);
        if (sb_config_parse(text, bench_path(), &cfg, &err) < 0) print_error("%s\n", err.msg);
        assert_int_equal(err.code, 0);
        assert_int_equal(strlen(cfg.name), 200);
        sb_config_free(&cfg);
    }
}

/* A name with a newline, a control character or a bidi override was used
 * raw in the results folder's name, job labels and tables. */
static void test_unsafe_names(void **state) {
    char text[1024];
    (void)state;
    snprintf(text, sizeof text, "[run]\nname = \"a\\nb\"\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "[run] key 'name' has U+000A at byte 2: expected only letters A-Z a-z, digits, '.', '_' "
                          "and '-' (it names the results folder)");
    snprintf(text, sizeof text, "[run]\nname = \"ab\\u202Etxt.exe\"\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "[run] key 'name' has U+202E at byte 3");
    snprintf(text, sizeof text, "[run]\nname = \"x\\u0007\"\n[dataset]\nplugin = \"d\"\n%s", minimal_tail);
    parse_bad(text, 2, 1, "'name' has U+0007 at byte 2");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\nname = \"a/b\"\n[[backend]]\nplugin = \"b\"\n",
              5, 1, "[[model]] 'name' has U+002F at byte 2: expected only letters");
    parse_bad("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\nname = \"cpu 2\"\n",
              7, 1, "[[backend]] 'name' has U+0020 at byte 4");
    parse_bad("[dataset]\nplugin = \"d\"\nname = \"ham:1\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n",
              3, 1, "[dataset] 'name' has U+003A at byte 4");
}

static void test_config_merge(void **state) {
    sb_config cfg;
    sb_error err = {0};
    char text[512], file[600];
    const sb_toml *b, *sram;
    (void)state;
    write_file("sram.toml", "# technology file\nclock_mhz = 100\nleak = 1.5\n[sram]\ncapacity_bytes = 256\nports = 1\n");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"sram.toml\"\nclock_mhz = 200\n"
                                "[backend.sram]\nports = 2\n");
    assert_int_equal(sb_config_parse(text, bench_path(), &cfg, &err), 0);
    b = cfg.backends[0].table;
    assert_null(sb_toml_get(b, "config"));
    assert_int_equal(sb_toml_get(b, "clock_mhz")->i, 200);     /* inline wins */
    assert_int_equal(sb_toml_get(b, "clock_mhz")->line, 8);
    assert_true(sb_toml_get(b, "leak")->f == 1.5);           /* from the file */
    snprintf(file, sizeof file, "%s/sram.toml", tmpdir);
    assert_string_equal(sb_toml_get(b, "leak")->file, file);  /* with its position */
    assert_int_equal(sb_toml_get(b, "leak")->line, 3);
    sram = sb_toml_get(b, "sram");
    assert_int_equal(sb_toml_get(sram, "capacity_bytes")->i, 256); /* nested: merged deeply */
    assert_int_equal(sb_toml_get(sram, "ports")->i, 2);
    assert_int_equal(cfg.backends[0].line, 5);
    sb_config_free(&cfg);

    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"nope.toml\"\n");
    parse_bad(text, 7, 1, "config = \"nope.toml\": cannot open");
    /* "" and a directory once gave "<dir>: cannot read", without the line */
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"\"\n");
    parse_bad(text, 7, 1, "config = \"\": expected the name of a TOML file");
    {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/adir", tmpdir);
        assert_int_equal(mkdir(sub, 0755), 0);
    }
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"adir\"\n");
    parse_bad(text, 7, 1, "config = \"adir\": ");
    parse_bad(text, 7, 1, "/adir: is a directory: expected a TOML file");
    write_file("nested.toml", "a = 1\nconfig = \"sram.toml\"\n");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"nested.toml\"\n");
    {
        sb_error e3 = {0};
        char want[600];
        assert_true(sb_config_parse(text, bench_path(), &cfg, &e3) < 0);
        snprintf(want, sizeof want, "%s/nested.toml:2:1: 'config' inside a config file", tmpdir);
        assert_non_null(strstr(e3.msg, want));
        sb_config_free(&cfg);
    }
    write_file("broken.toml", "x = \n");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n"
                                "[[backend]]\nplugin = \"sram\"\nconfig = \"broken.toml\"\n");
    {
        sb_error e2 = {0};
        char want[600];
        assert_true(sb_config_parse(text, bench_path(), &cfg, &e2) < 0);
        snprintf(want, sizeof want, "%s/broken.toml:1:5: expected a value", tmpdir);
        assert_non_null(strstr(e2.msg, want));
        sb_config_free(&cfg);
    }
}

/* ------------------------------------------------------------ options */

static const sb_option_spec spec[] = {
    {"path", SB_OPT_STRING, SB_OPT_REQUIRED, "model file"},
    {"count", SB_OPT_INT, 0, "a count"},
    {"clock_mhz", SB_OPT_FLOAT, SB_OPT_SOURCED, "clock, MHz"},
    {"fast", SB_OPT_BOOL, 0, "go fast"},
    {"layers", SB_OPT_STRINGS, 0, "layer names"},
    {"sram.capacity_bytes", SB_OPT_INT, 0, "bytes"},
    {"hw.", SB_OPT_FLOAT, SB_OPT_PREFIX | SB_OPT_SOURCED, "free figures"},
    {NULL, 0, 0, NULL}};

static int build(const char *text, sb_config *cfg, sb_opts_owned *o, sb_error *err) {
    char full[1024];
    int rc;
    snprintf(full, sizeof full, "[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\nname = \"be\"\n%s", text);
    rc = sb_config_parse(full, bench_path(), cfg, err);
    if (rc) print_error("%s\n", err->msg);
    assert_int_equal(rc, 0);
    rc = sb_options_build(&cfg->backends[0], sb_cfg_backend_keys, spec, o, err);
    if (rc) print_message("options: %s\n", err->msg);
    return rc;
}

static void expect_opt_error(const char *text, int line, int col, const char *says) {
    sb_config cfg;
    sb_opts_owned o;
    sb_error err = {0};
    char want[600];
    int rc = build(text, &cfg, &o, &err);
    snprintf(want, sizeof want, "%s:%d:%d: ", bench_path(), line, col);
    if (rc >= 0 || strncmp(err.msg, want, strlen(want)) || !strstr(err.msg, says))
        print_error("want %s...%s\ngot rc=%d %s\n", want, says, rc, err.msg);
    assert_true(rc < 0);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
    assert_non_null(strstr(err.msg, says));
    sb_config_free(&cfg);
}

static void test_options_ok(void **state) {
    sb_config cfg;
    sb_opts_owned o;
    sb_error err = {0};
    const sb_option *x;
    (void)state;
    assert_int_equal(build("path = \"m.sbm\"\ncount = 3\nclock_mhz = 100\nclock_mhz_source = \"datasheet p.3\"\n"
                           "fast = true\nlayers = [\"a\", \"b\"]\nhw.mac_pj = 0.5\nhw.mac_pj_source = \"paper\"\n"
                           "[backend.sram]\ncapacity_bytes = 256\n",
                           &cfg, &o, &err), 0);
    assert_string_equal(o.opts.name, "be");
    assert_int_equal(o.opts.n, 9);
    assert_string_equal(sb_opt_str(&o.opts, "path", NULL), "m.sbm");
    assert_int_equal(sb_opt_int(&o.opts, "count", 0), 3);
    assert_true(sb_opt_float(&o.opts, "clock_mhz", 0) == 100.0); /* integer taken as float */
    assert_int_equal(sb_opt_find(&o.opts, "clock_mhz")->type, SB_OPT_FLOAT);
    assert_string_equal(sb_opt_str(&o.opts, "clock_mhz_source", NULL), "datasheet p.3");
    assert_int_equal(sb_opt_bool(&o.opts, "fast", 0), 1);
    x = sb_opt_find(&o.opts, "layers");
    assert_int_equal(x->n_strings, 2);
    assert_string_equal(x->strings[1], "b");
    assert_true(sb_opt_float(&o.opts, "hw.mac_pj", 0) == 0.5);
    x = sb_opt_find(&o.opts, "sram.capacity_bytes"); /* nested table -> dotted key */
    assert_non_null(x);
    assert_int_equal(x->i, 256);
    assert_int_equal(x->line, 17);
    assert_int_equal(x->col, 1);
    assert_string_equal(x->file, bench_path());
    assert_null(sb_opt_find(&o.opts, "plugin")); /* framework keys stay out */
    assert_null(sb_opt_find(&o.opts, "name"));
    sb_options_free(&o);
    sb_config_free(&cfg);
}

static void test_options_bad(void **state) {
    (void)state;
    expect_opt_error("path = \"x\"\ncuont = 3\n", 9, 1, "unknown option 'cuont' for backend plugin 'b': expected one of path, count");
    expect_opt_error("path = \"x\"\ncount = 1.5\n", 9, 1, "option 'count' of backend 'be': expected an integer, found float");
    expect_opt_error("path = 3\n", 8, 1, "expected a string, found integer");
    expect_opt_error("path = \"x\"\nfast = \"yes\"\n", 9, 1, "expected true or false");
    expect_opt_error("path = \"x\"\nlayers = [\"a\", 1]\n", 9, 1, "expected an array of strings");
    expect_opt_error("count = 1\n", 5, 1, "missing required option 'path'");
    expect_opt_error("path = \"x\"\nclock_mhz = 100\n", 9, 1, "'clock_mhz' of backend 'be' is a sourced figure: expected 'clock_mhz_source");
    expect_opt_error("path = \"x\"\nclock_mhz = 100\nclock_mhz_source = \"\"\n", 9, 1, "sourced figure");
    expect_opt_error("path = \"x\"\nhw.sram_pj = 1.0\n", 9, 1, "'hw.sram_pj' of backend 'be' is a sourced figure");
    expect_opt_error("path = \"x\"\ncount_source = \"x\"\n", 9, 1, "unknown option 'count_source'");
    expect_opt_error("path = \"x\"\n[backend.sram]\nsize = 1\n", 10, 1, "unknown option 'sram.size'");
    expect_opt_error("path = \"x\"\nclock_mhz = 1\nclock_mhz_source = 5\n", 10, 1, "option 'clock_mhz_source' of backend 'be': expected a string");
}

static void test_no_spec(void **state) {
    sb_config cfg;
    sb_opts_owned o;
    sb_error err = {0};
    (void)state;
    assert_int_equal(sb_config_parse("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\nx = 1\n[[backend]]\nplugin = \"b\"\n",
                                     bench_path(), &cfg, &err), 0);
    assert_int_equal(sb_options_build(&cfg.models[0], sb_cfg_model_keys, NULL, &o, &err), SB_EINVAL);
    assert_non_null(strstr(err.msg, "this plugin takes no options"));
    assert_int_equal(sb_options_build(&cfg.backends[0], sb_cfg_backend_keys, NULL, &o, &err), 0);
    assert_int_equal(o.opts.n, 0);
    sb_options_free(&o);
    sb_config_free(&cfg);
}

/* [sweep]: the axes of `srambench sweep --config`, read back; paths are
 * relative to bench.toml's folder. */
static void test_sweep_table(void **state) {
    sb_config cfg;
    sb_error err = {0};
    char want[600];
    (void)state;
    assert_int_equal(sb_config_parse("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"m\"\n[[backend]]\nplugin = \"b\"\n"
                                     "[sweep]\npreset = \"hw/p.toml\"\nmodels = [\"a.sbm\", \"/abs/b.sbm\"]\n"
                                     "capacity_bytes = [256, 1024]\nword_bits = [16]\nports = [1, 2]\n"
                                     "macs_per_cycle = [4]\nclock_mhz = [50, 12.5]\nextmem = [\"e.toml\"]\n"
                                     "latency_budget_ms = 2.5\nenergy_budget_mj = 3\nregfile_bytes = [32, 64]\n",
                                     bench_path(), &cfg, &err), 0);
    assert_int_equal(cfg.sweep.present, 1);
    snprintf(want, sizeof want, "%s/hw/p.toml", tmpdir);
    assert_string_equal(cfg.sweep.preset, want);
    assert_int_equal(cfg.sweep.n_models, 2);
    snprintf(want, sizeof want, "%s/a.sbm", tmpdir);
    assert_string_equal(cfg.sweep.models[0], want);
    assert_string_equal(cfg.sweep.models[1], "/abs/b.sbm");
    assert_int_equal(cfg.sweep.capacity_bytes.n, 2);
    assert_true(cfg.sweep.capacity_bytes.v[1] == 1024);
    assert_int_equal(cfg.sweep.word_bits.n, 1);
    assert_int_equal(cfg.sweep.ports.n, 2);
    assert_true(cfg.sweep.macs_per_cycle.v[0] == 4);
    assert_true(cfg.sweep.clock_mhz.v[1] == 12.5);
    assert_int_equal(cfg.sweep.n_extmem, 1);
    assert_true(cfg.sweep.latency_budget_ms == 2.5);
    assert_true(cfg.sweep.energy_budget_mj == 3);
    assert_int_equal(cfg.sweep.regfile_bytes.n, 2);
    assert_true(cfg.sweep.regfile_bytes.v[1] == 64);
    sb_config_free(&cfg);
    /* no [sweep]: nothing given, models from the sbm [[model]] tables */
    assert_int_equal(sb_config_parse("[dataset]\nplugin = \"d\"\n[[model]]\nplugin = \"sbm\"\npath = \"t.sbm\"\n"
                                     "[[model]]\nname = \"x\"\nplugin = \"other\"\npath = \"u\"\n[[backend]]\nplugin = \"b\"\n",
                                     bench_path(), &cfg, &err), 0);
    assert_int_equal(cfg.sweep.present, 0);
    assert_int_equal(cfg.sweep.n_models, 1);
    snprintf(want, sizeof want, "%s/t.sbm", tmpdir);
    assert_string_equal(cfg.sweep.models[0], want);
    assert_int_equal(cfg.sweep.capacity_bytes.n, 0);
    assert_int_equal(cfg.sweep.regfile_bytes.n, 0);
    assert_null(cfg.sweep.preset);
    sb_config_free(&cfg);
}

static void test_sweep_bad(void **state) {
    char text[512];
    (void)state;
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nports = [1]\ncapacity = [256]\n", minimal_tail);
    parse_bad(text, 9, 1, "unknown key 'capacity' in [sweep]: expected one of preset, models, capacity_bytes");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\n  word_bits = 16\n", minimal_tail);
    parse_bad(text, 8, 3, "'word_bits': expected an array of positive integers, found integer");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nclock_mhz = [50, \"x\"]\n", minimal_tail);
    parse_bad(text, 8, 1, "'clock_mhz' item 2: expected a positive number, found string");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nports = [1.5]\n", minimal_tail);
    parse_bad(text, 8, 1, "'ports' item 1: expected a positive integer, found float");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nmacs_per_cycle = [0]\n", minimal_tail);
    parse_bad(text, 8, 1, "expected a positive integer");
    /* every point is scheduled for itself: the old switch is gone */
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nexact = true\n", minimal_tail);
    parse_bad(text, 8, 1, "unknown key 'exact' in [sweep]");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nlatency_budget_ms = \"1\"\n", minimal_tail);
    parse_bad(text, 8, 1, "'latency_budget_ms': expected a number, found string");
    snprintf(text, sizeof text, "[dataset]\nplugin = \"d\"\n%s[sweep]\nmodels = []\n", minimal_tail);
    parse_bad(text, 8, 1, "expected an array of file names with 1..64 items");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),         cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_unknown_keys), cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing),      cmocka_unit_test(test_config_merge),
        cmocka_unit_test(test_options_ok),   cmocka_unit_test(test_options_bad),
        cmocka_unit_test(test_no_spec),      cmocka_unit_test(test_sweep_table),
        cmocka_unit_test(test_sweep_bad),    cmocka_unit_test(test_unsafe_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
