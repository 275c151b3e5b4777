/*
 * test_cmds.c - the view commands through the program: exit codes on bad
 * input, `report` on the stored fixture run, a small `sweep` end to end
 * (skipped when the shipped model file is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#define MODEL SB_SRC_ROOT "/plugins/models/effnet-b0-224/effnet-b0-224.sbm"
#define TINY SB_SRC_ROOT "/plugins/models/tiny/tiny.sbm"

static char tmp[64];

static int sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    int st;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/sb-viewcmd-XXXXXX");
    if (!mkdtemp(tmp)) return -1;
    return sh("cp '%s/results.json' '%s/'", SB_VIEWS_FIXTURE, tmp);
}

static int teardown(void **state) {
    (void)state;
    return sh("rm -rf '%s'", tmp);
}

static void test_usage_errors(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' report >/dev/null 2>&1", SB_PROGRAM), 2);
    assert_int_equal(sh("'%s' report --views nothing x >/dev/null 2>&1", SB_PROGRAM), 2);
    assert_int_equal(sh("'%s' infer >/dev/null 2>&1", SB_PROGRAM), 2);
    assert_int_equal(sh("'%s' batch --per-class 0 >/dev/null 2>&1", SB_PROGRAM), 2);
    assert_int_equal(sh("'%s' sweep --capacity 1k,abc >/dev/null 2>&1", SB_PROGRAM), 2);
    assert_int_equal(sh("'%s' compare --frobnicate >/dev/null 2>&1", SB_PROGRAM), 2);
    /* not a results folder: a config-class error naming the file */
    assert_int_equal(sh("'%s' report /nonexistent/x 2>&1 | grep -q '/nonexistent/x/results.json'", SB_PROGRAM), 0);
    assert_int_equal(sh("'%s' report /nonexistent/x >/dev/null 2>&1", SB_PROGRAM), 3);
    /* results.json a directory: bad input (3), not an I/O failure (4) */
    assert_int_equal(sh("mkdir -p '%s/dirrun/results.json'", tmp), 0);
    assert_int_equal(sh("'%s' report '%s/dirrun' >/dev/null 2>&1", SB_PROGRAM, tmp), 3);
}

static void test_report_stored_run(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' report '%s' -q --no-charts --reference '%s/reference'", SB_PROGRAM, tmp, SB_VIEWS_FIXTURE), 0);
    assert_int_equal(sh("grep -q 'recorded on NVIDIA H200, 2026-11-29' '%s/report.md'", tmp), 0);
    assert_int_equal(sh("grep -q '<table>' '%s/report.html'", tmp), 0);
    assert_int_equal(sh("test -s '%s/confusion-0.gp' && test -s '%s/flow-timeline-0.dat'", tmp, tmp), 0);
    /* compare on the same stored run, through --from */
    assert_int_equal(sh("'%s' compare --from '%s' -q --no-charts", SB_PROGRAM, tmp), 0);
    assert_int_equal(sh("grep -q 'speedup vs cpu' '%s/compare.md'", tmp), 0);
}

/* A partial report goes beside the full one, named after what it shows;
 * --force alone writes it over report.html. */
static void test_partial_report(void **state) {
    (void)state;
    assert_int_equal(sh("'%s' report '%s' -q --no-charts", SB_PROGRAM, tmp), 0);
    assert_int_equal(sh("cp '%s/report.html' '%s/full.html'", tmp, tmp), 0);
    assert_int_equal(sh("'%s' report '%s' -q --no-charts --views flow --model toy --backend sram256 2>/dev/null",
                        SB_PROGRAM, tmp), 0);
    assert_int_equal(sh("cmp -s '%s/report.html' '%s/full.html'", tmp, tmp), 0);
    assert_int_equal(sh("grep -q '<table>' '%s/report-flow-toy-sram256.html'", tmp), 0);
    assert_int_equal(sh("test -s '%s/report-flow-toy-sram256.md'", tmp), 0);
    assert_int_equal(sh("'%s' report '%s' -q --no-charts --views infer,compare", SB_PROGRAM, tmp), 0);
    assert_int_equal(sh("test -s '%s/report-compare-infer.html'", tmp), 0);
    assert_int_equal(sh("cmp -s '%s/report.html' '%s/full.html'", tmp, tmp), 0);
    assert_int_equal(sh("'%s' report '%s' -q --no-charts --views flow --force", SB_PROGRAM, tmp), 0);
    assert_int_not_equal(sh("cmp -s '%s/report.html' '%s/full.html'", tmp, tmp), 0);
}

/* A results.json with a field deleted: exit 3 naming the file and the
 * field, from report and from a view command's --from, not a crash. */
static void test_damaged_run(void **state) {
    char path[128], *text;
    FILE *f = fopen(SB_VIEWS_FIXTURE "/results.json", "rb");
    cJSON *r;
    static char buf[1 << 20];
    size_t n;
    (void)state;
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_non_null(r = cJSON_Parse(buf));
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "jobs"), 1), "samples");
    text = cJSON_Print(r);
    snprintf(path, sizeof path, "%s/damaged", tmp);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/damaged/results.json", tmp);
    assert_non_null(f = fopen(path, "wb"));
    assert_int_equal(fputs(text, f) >= 0 && fclose(f) == 0, 1);
    free(text);
    cJSON_Delete(r);
    assert_int_equal(sh("'%s' report -q --no-charts '%s/damaged' 2>'%s/err'", SB_PROGRAM, tmp, tmp), 3);
    assert_int_equal(sh("grep -qF 'damaged/results.json: jobs[1] (ham10000 x toy x cpu).samples is missing' '%s/err'", tmp), 0);
    assert_int_equal(sh("'%s' batch --from '%s/damaged' -q --no-charts 2>/dev/null", SB_PROGRAM, tmp), 3);
    assert_int_equal(sh("test ! -e '%s/damaged/report.md' && test ! -e '%s/damaged/batch.md'", tmp, tmp), 0);
}

static void test_sweep_small(void **state) {
    (void)state;
    if (access(MODEL, R_OK) != 0) skip();
    /* 1 capacity x 1 word x 2 ports x 2 MACs x 2 clocks = 8 points */
    assert_int_equal(sh("'%s' sweep --model '%s' --capacity 256 --word-bits 16 --ports 1,2 --macs 1,4 "
                        "--clock-mhz 50,100 --latency-budget-ms 1e9 --output-dir '%s/sw' --no-charts -q "
                        "--preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, MODEL, tmp, SB_SRC_ROOT),
                     0);
    assert_int_equal(sh("test $(wc -l < '%s/sw/sweep.csv') -eq 9", tmp), 0);
    /* every point feasible at 256 B and within the (huge) budget; at least
     * one on the front */
    assert_int_equal(sh("test $(grep -c ',ok,' '%s/sw/sweep.csv') -eq 8", tmp), 0);
    assert_int_equal(sh("awk -F, 'NR > 1 && $17 == 1' '%s/sw/sweep.csv' | grep -q .", tmp), 0);
    assert_int_equal(sh("awk -F, 'NR > 1 && $19 != 1' '%s/sw/sweep.csv' | grep -q . && exit 1 || exit 0", tmp), 0);
    /* a clock faster than the macro's minimum period is no design point */
    assert_int_equal(sh("'%s' sweep --model '%s' --capacity 256 --word-bits 16 --ports 1 --macs 4 "
                        "--clock-mhz 100,1000 --output-dir '%s/sw2' --no-charts -q "
                        "--preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, MODEL, tmp, SB_SRC_ROOT),
                     0);
    assert_int_equal(sh("grep -q ',100,ok,' '%s/sw2/sweep.csv'", tmp), 0);
    assert_int_equal(sh("grep ',1000,infeasible,' '%s/sw2/sweep.csv' | grep -q 'sram.min_period_ns'", tmp), 0);
    assert_int_equal(sh("grep ',1000,' '%s/sw2/sweep.csv' | awk -F, '$17 == 1' | grep -q . && exit 1 || exit 0", tmp), 0);
}

/* A sweep.csv row's axes (columns 3..8) and figures (10..15: latency,
 * energy, power, bounds, peak SRAM). */
#define FIGS "cut -d, -f3-8,10-15"

/* The sweep's optimum and front are exact: each front point (and the
 * fastest) equals a sweep of that one point (one sb_sim_analyze), and a
 * point's figures do not depend on the other clocks in the list. The old
 * default re-costed one schedule per memory configuration for every clock:
 * tiny at 64 kB, 32-bit words, 2 ports, 64 MACs, 145 MHz took 44.66 ms
 * with --clock-mhz 25,145 and 34.61 ms with --clock-mhz 145. */
static void test_sweep_exact(void **state) {
    (void)state;
    if (access(TINY, R_OK) != 0) skip();
    const char *common = "--capacity 64k --word-bits 32 --ports 2 --macs 4,64 --no-charts -q";
    assert_int_equal(sh("'%s' sweep --model '%s' %s --regfile-bytes 64,256 --clock-mhz 25,145 --output-dir '%s/sx' "
                        "--preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, TINY, common, tmp, SB_SRC_ROOT), 0);
    assert_int_equal(sh("'%s' sweep --model '%s' %s --regfile-bytes 64,256 --clock-mhz 145 --output-dir '%s/sx1' "
                        "--preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, TINY, common, tmp, SB_SRC_ROOT), 0);
    assert_int_equal(sh("test $(grep -c ',ok,' '%s/sx/sweep.csv') -eq 8", tmp), 0);
    /* the 145 MHz points with and without 25 MHz in the list */
    assert_int_equal(sh("grep ',145,ok,' '%s/sx/sweep.csv' | " FIGS " > '%s/a' && tail -n +2 '%s/sx1/sweep.csv' | " FIGS
                        " > '%s/b' && test -s '%s/a' && cmp '%s/a' '%s/b'", tmp, tmp, tmp, tmp, tmp, tmp, tmp), 0);
    /* each front point and the fastest point against a sweep of it alone */
    assert_int_equal(sh("cd '%s' && (awk -F, 'NR > 1 && $17 == 1' sx/sweep.csv; sort -t, -k10,10g sx/sweep.csv | "
                        "grep ',ok,' | head -1) > pick && test -s pick && while IFS=, read -r m e cap w p rf mac clk rest; do "
                        "'%s' sweep --model '%s' --capacity $cap --word-bits $w --ports $p --regfile-bytes $rf --macs $mac "
                        "--clock-mhz $clk --no-charts -q --output-dir one --preset '%s/backends/sram/sram256.toml' 2>/dev/null "
                        "&& one=$(tail -n +2 one/sweep.csv | " FIGS ") && mine=$(echo \"$m,$e,$cap,$w,$p,$rf,$mac,$clk,$rest\" | "
                        FIGS ") && if [ \"$one\" != \"$mine\" ]; then echo \"sweep: $mine; alone: $one\" >&2; exit 1; fi; "
                        "done < pick", tmp, SB_PROGRAM, TINY, SB_SRC_ROOT), 0);
}

/* --extmem DIR: every part of the catalogue, each with its own memory in
 * the label (a part giving [flash] alone keeps the preset's PSRAM); a
 * folder without parts, or a part with neither table, is refused (exit 3). */
static void test_sweep_catalogue(void **state) {
    (void)state;
    if (access(TINY, R_OK) != 0) skip();
    assert_int_equal(sh("'%s' sweep --model '%s' --capacity 64k --word-bits 32 --ports 2 --macs 16 --clock-mhz 100 "
                        "--extmem '%s/backends/sram/extmem' --output-dir '%s/cat' --no-charts -q "
                        "--preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, TINY, SB_SRC_ROOT, tmp, SB_SRC_ROOT), 0);
    assert_int_equal(sh("test $(ls '%s/backends/sram/extmem/'*.toml | wc -l) -ge 4", SB_SRC_ROOT), 0);
    assert_int_equal(sh("test $(grep -c ',ok,' '%s/cat/sweep.csv') -eq $(ls '%s/backends/sram/extmem/'*.toml | wc -l)",
                        tmp, SB_SRC_ROOT), 0);
    assert_int_equal(sh("grep -q '\"emram-14nm + qspi-psram\"' '%s/cat/sweep.csv' && "
                        "grep -q '\"lpddr4-3200-x16 + lpddr4-3200-x16\"' '%s/cat/sweep.csv' && "
                        "grep -q '\"qspi-nor-flash + hyperram-s27ks0641\"' '%s/cat/sweep.csv'", tmp, tmp, tmp), 0);
    assert_int_equal(sh("mkdir -p '%s/noparts' && '%s' sweep --model '%s' --capacity 64k --extmem '%s/noparts' "
                        "--preset '%s/backends/sram/sram256.toml' --output-dir '%s/catbad' --no-charts -q 2>'%s/err.txt'",
                        tmp, SB_PROGRAM, TINY, tmp, SB_SRC_ROOT, tmp, tmp), 3);
    assert_int_equal(sh("grep -qF 'noparts: no *.toml in this folder' '%s/err.txt'", tmp), 0);
    assert_int_equal(sh("printf '[sram]\nword_bits = 16\n' > '%s/noparts/x.toml' && '%s' sweep --model '%s' "
                        "--capacity 64k --extmem '%s/noparts' --preset '%s/backends/sram/sram256.toml' "
                        "--output-dir '%s/catbad' --no-charts -q 2>'%s/err.txt'",
                        tmp, SB_PROGRAM, TINY, tmp, SB_SRC_ROOT, tmp, tmp), 3);
    assert_int_equal(sh("grep -qF 'x.toml: no [flash] or [psram] table' '%s/err.txt'", tmp), 0);
}

/* Sweep axes are held to the sram backend's rules: a value it refuses, or
 * one that is not a number at all, is a usage error (exit 2) naming the
 * option and what was expected, before anything is evaluated or written. */
static void test_sweep_bad_axes(void **state) {
    (void)state;
    static const char *bad[][3] = {
        {"--word-bits", "12", "expected 8, 16, 32 or 64"},
        {"--ports", "7", "expected 1 (1RW) or 2 (1RW+1R)"},
        {"--regfile-bytes", "2048", "expected an integer in 1..1024"},
        {"--capacity", "inf", "expected an integer in 1..1099511627776"},
        {"--capacity", "99999999999999999999", "expected an integer in 1..1099511627776"},
        {"--capacity", "300.7", "expected an integer"},
        {"--macs", "2.5", "expected an integer"},
        {"--clock-mhz", "nan", "expected a number in"},
        {"--latency-budget-ms", "abc", "expected a positive finite number"},
        {"--latency-budget-ms", "-1", "expected a positive finite number"},
        {"--latency-budget-ms", "nan", "expected a positive finite number"},
        {"--energy-budget-mj", "inf", "expected a positive finite number"},
        {"--workers", "many", "expected an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sh("'%s' sweep --model '%s' --preset '%s/backends/sram/sram256.toml' --capacity 1k --word-bits 16 "
                    "--ports 1 --macs 1 --clock-mhz 100 %s '%s' --output-dir '%s/swbad' --no-charts -q 2>'%s/err.txt'",
                    SB_PROGRAM, TINY, SB_SRC_ROOT, bad[i][0], bad[i][1], tmp, tmp);
        if (rc != 2) fail_msg("%s %s: exit %d, want 2", bad[i][0], bad[i][1], rc);
        if (sh("grep -qF -- \"%s '%s': %s\" '%s/err.txt'", bad[i][0], bad[i][1], bad[i][2], tmp))
            fail_msg("%s %s: the message lacks \"%s\"", bad[i][0], bad[i][1], bad[i][2]);
        assert_int_equal(sh("test -e '%s/swbad'", tmp), 1); /* nothing written */
    }
    /* a [sweep] value the backend refuses: a config error naming the line */
    assert_int_equal(sh("printf '[dataset]\\nplugin = \"d\"\\n[[model]]\\nplugin = \"sbm\"\\npath = \"%s\"\\n"
                        "[[backend]]\\nplugin = \"sram\"\\n[sweep]\\nword_bits = [16, 12]\\n' > '%s/bad.toml'",
                        TINY, tmp),
                     0);
    assert_int_equal(sh("'%s' sweep --config '%s/bad.toml' --output-dir '%s/swbad' -q 2>'%s/err.txt'", SB_PROGRAM, tmp,
                        tmp, tmp),
                     3);
    assert_int_equal(sh("grep -qF \"bad.toml:9:1: [sweep] key 'word_bits' item 2 = 12: expected 8, 16, 32 or 64\" "
                        "'%s/err.txt'", tmp),
                     0);
    if (access(TINY, R_OK) != 0) skip();
    /* values each valid, together no hardware: 300 B is no whole number of
     * 64-bit words, so that point is infeasible with the reason, not priced */
    assert_int_equal(sh("'%s' sweep --model '%s' --capacity 300,1k --word-bits 8,64 --ports 1 --macs 1 --clock-mhz 100 "
                        "--output-dir '%s/swm' --no-charts -q --preset '%s/backends/sram/sram256.toml' 2>/dev/null",
                        SB_PROGRAM, TINY, tmp, SB_SRC_ROOT),
                     0);
    assert_int_equal(sh("grep ',300,64,1,64,1,100,infeasible,' '%s/swm/sweep.csv' | grep -q 'whole number of 64-bit words'",
                        tmp),
                     0);
    assert_int_equal(sh("test $(grep -c ',ok,' '%s/swm/sweep.csv') -eq 3", tmp), 0);
}

/* `sweep --config`: the axes from bench.toml's [sweep] table, the model
 * from its [[model]] table of plugin sbm; the command line overrides an axis. */
static void test_sweep_config(void **state) {
    (void)state;
    if (access(TINY, R_OK) != 0) skip();
    assert_int_equal(sh("printf '[dataset]\\nplugin = \"d\"\\n[[model]]\\nplugin = \"sbm\"\\npath = \"%s\"\\n"
                        "[[backend]]\\nplugin = \"sram\"\\n[sweep]\\npreset = \"%s/backends/sram/sram256.toml\"\\n"
                        "capacity_bytes = [256, 1024]\\nword_bits = [16]\\nports = [1]\\nmacs_per_cycle = [4]\\n"
                        "clock_mhz = [100]\\n' > '%s/bench.toml'",
                        TINY, SB_SRC_ROOT, tmp),
                     0);
    /* 1 model x 2 capacities x 1 of everything else = 2 rows + header */
    assert_int_equal(sh("'%s' sweep --config '%s/bench.toml' --output-dir '%s/swc' --no-charts -q 2>/dev/null",
                        SB_PROGRAM, tmp, tmp), 0);
    assert_int_equal(sh("test $(wc -l < '%s/swc/sweep.csv') -eq 3", tmp), 0);
    assert_int_equal(sh("test $(grep -c ',256,16,1,64,4,100,' '%s/swc/sweep.csv') -eq 1", tmp), 0);
    assert_int_equal(sh("test $(grep -c ',1024,16,1,64,4,100,' '%s/swc/sweep.csv') -eq 1", tmp), 0);
    /* --ports overrides the table's ports only: 2 x 2 = 4 rows */
    assert_int_equal(sh("'%s' sweep --ports 1,2 --config '%s/bench.toml' --output-dir '%s/swo' --no-charts -q 2>/dev/null",
                        SB_PROGRAM, tmp, tmp), 0);
    assert_int_equal(sh("test $(wc -l < '%s/swo/sweep.csv') -eq 5", tmp), 0);
    assert_int_equal(sh("test $(grep -c ',1024,16,2,64,4,100,' '%s/swo/sweep.csv') -eq 1", tmp), 0);
    /* a wrong [sweep] table is a configuration error (exit 3) */
    assert_int_equal(sh("printf '[sweep]\\nport = [1]\\n' >> '%s/bench.toml'", tmp), 0);
    assert_int_equal(sh("'%s' sweep --config '%s/bench.toml' --output-dir '%s/swe' -q 2>'%s/err.txt'", SB_PROGRAM, tmp,
                        tmp, tmp), 3);
    assert_int_equal(sh("grep -q 'bench.toml:' '%s/err.txt'", tmp), 0);
}

/* A bench that runs anywhere: the synthetic dataset (7 classes, 2 images)
 * and the tflite fuzz seed, which names no classes, on cpu and sram256. */
static void write_synthetic_bench(const char *dir) {
    assert_int_equal(sh("mkdir -p '%s' && printf '[run]\\nname = \"syn\"\\noutput = \"out\"\\n[dataset]\\n"
                        "plugin = \"synthetic\"\\nn = 2\\nclasses = 7\\n[[model]]\\nname = \"t\"\\n"
                        "plugin = \"tflite\"\\npath = \"%s/tests/fuzz/corpus/tflite/tiny_image.tflite\"\\n"
                        "[[backend]]\\nplugin = \"cpu\"\\n[[backend]]\\nname = \"sram256\"\\nplugin = \"sram\"\\n"
                        "config = \"%s/backends/sram/sram256.toml\"\\n' > '%s/bench.toml'",
                        dir, SB_SRC_ROOT, SB_SRC_ROOT, dir),
                     0);
}

/* Each command's results folder says which command made it:
 * <stamp>-<name>-batch, -compare, -flow, -infer; `run` keeps <stamp>-<name>. */
static void test_folder_names(void **state) {
    static const char *cmds[] = {"batch", "compare", "flow"};
    char dir[128];
    (void)state;
    snprintf(dir, sizeof dir, "%s/names", tmp);
    write_synthetic_bench(dir);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(sh("cd '%s' && '%s' %s -q --no-charts 2>/dev/null", dir, SB_PROGRAM, cmds[i]), 0);
        if (sh("test -s %s/out/*-syn-%s/%s.md", dir, cmds[i], cmds[i]))
            fail_msg("%s: no out/<stamp>-syn-%s/%s.md", cmds[i], cmds[i], cmds[i]);
    }
    assert_int_equal(sh("cd '%s' && '%s' infer synthetic:0 -q 2>/dev/null", dir, SB_PROGRAM), 0);
    assert_int_equal(sh("test -s %s/out/*-syn-infer/results.json", dir), 0);
    assert_int_equal(sh("cd '%s' && '%s' run -q --no-charts bench.toml 2>/dev/null", dir, SB_PROGRAM), 0);
    assert_int_equal(sh("ls -d %s/out/*-syn | grep -q .", dir), 0);
    assert_int_equal(sh("test $(ls -d %s/out/*-syn* | wc -l) -eq 5", dir), 0);
}

/* sweep --model is a [[model]] name, as in every command (from --config,
 * else ./bench.toml); a value with '/' or ending in .sbm is still a file.
 * An unknown name lists the names there are. */
static void test_sweep_model_name(void **state) {
    char dir[128];
    const char *axes = "--capacity 256 --word-bits 16 --ports 1 --macs 4 --clock-mhz 100 --no-charts -q "
                       "--preset " SB_SRC_ROOT "/backends/sram/sram256.toml";
    (void)state;
    if (access(TINY, R_OK) != 0) skip();
    snprintf(dir, sizeof dir, "%s/names-sweep", tmp);
    assert_int_equal(sh("mkdir -p '%s' && printf '[run]\\nname = \"nm\"\\noutput = \"out\"\\n[dataset]\\n"
                        "plugin = \"d\"\\n[[model]]\\nname = \"small\"\\nplugin = \"sbm\"\\npath = \"%s\"\\n"
                        "[[model]]\\nname = \"other\"\\nplugin = \"tflite\"\\npath = \"x.tflite\"\\n"
                        "[[backend]]\\nplugin = \"sram\"\\n' > '%s/bench.toml'", dir, TINY, dir),
                     0);
    /* by name from ./bench.toml, and from --config run elsewhere */
    assert_int_equal(sh("cd '%s' && '%s' sweep --model small %s --output-dir a 2>/dev/null", dir, SB_PROGRAM, axes), 0);
    assert_int_equal(sh("test $(grep -c ',ok,' '%s/a/sweep.csv') -eq 1", dir), 0);
    assert_int_equal(sh("cd / && '%s' sweep --config '%s/bench.toml' --model small %s --output-dir '%s/b' 2>/dev/null",
                        SB_PROGRAM, dir, axes, dir), 0);
    assert_int_equal(sh("cmp -s '%s/a/sweep.csv' '%s/b/sweep.csv'", dir, dir), 0);
    /* a path still works, and the default folder is named by the command */
    assert_int_equal(sh("cd '%s' && '%s' sweep --config bench.toml --model '%s' %s 2>/dev/null", dir, SB_PROGRAM, TINY,
                        axes), 0);
    assert_int_equal(sh("test -s %s/out/*-nm-sweep/sweep.csv", dir), 0);
    /* an unknown name, a model the sweep cannot read, no bench.toml */
    assert_int_equal(sh("cd '%s' && '%s' sweep --model tiny %s 2>'%s/err'", dir, SB_PROGRAM, axes, dir), 2);
    assert_int_equal(sh("grep -qF \"no [[model]] of that name in bench.toml (it has: small, other)\" '%s/err'", dir), 0);
    assert_int_equal(sh("cd '%s' && '%s' sweep --model other %s 2>'%s/err'", dir, SB_PROGRAM, axes, dir), 2);
    assert_int_equal(sh("grep -qF \"[[model]] 'other' is of plugin 'tflite'\" '%s/err'", dir), 0);
    assert_int_equal(sh("cd / && '%s' sweep --model small %s 2>'%s/err'", SB_PROGRAM, axes, dir), 2);
    assert_int_equal(sh("grep -qF 'no ./bench.toml to find that [[model]] in' '%s/err'", dir), 0);
}

/* On a terminal (script(1) gives one) a sweep shows points done / total,
 * rate and ETA; not with -q, not when stderr is a file. */
static void test_sweep_progress(void **state) {
    const char *sweep = "sweep --capacity 256,1k --word-bits 16 --ports 1 --macs 1,4 --clock-mhz 100 --no-charts "
                        "--preset " SB_SRC_ROOT "/backends/sram/sram256.toml";
    (void)state;
    if (access(TINY, R_OK) != 0 || sh("command -v script >/dev/null")) skip();
    assert_int_equal(sh("script -qec \"'%s' %s --model '%s' --output-dir '%s/pr' >/dev/null\" /dev/null > '%s/tty'",
                        SB_PROGRAM, sweep, TINY, tmp, tmp), 0);
    assert_int_equal(sh("grep -aq 'srambench sweep: 4/4 points, [0-9]* points/s, ETA 0 s' '%s/tty'", tmp), 0);
    assert_int_equal(sh("script -qec \"'%s' %s -q --model '%s' --output-dir '%s/pr' >/dev/null\" /dev/null > '%s/tty'",
                        SB_PROGRAM, sweep, TINY, tmp, tmp), 0);
    assert_int_equal(sh("grep -aq 'points/s' '%s/tty'", tmp), 1);
    assert_int_equal(sh("'%s' %s --model '%s' --output-dir '%s/pr' >/dev/null 2>'%s/err'", SB_PROGRAM, sweep, TINY, tmp,
                        tmp), 0);
    assert_int_equal(sh("grep -q 'points/s' '%s/err'", tmp), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_usage_errors), cmocka_unit_test(test_report_stored_run),
                                       cmocka_unit_test(test_partial_report),
                                       cmocka_unit_test(test_damaged_run),
                                       cmocka_unit_test(test_sweep_small), cmocka_unit_test(test_sweep_exact),
                                       cmocka_unit_test(test_sweep_catalogue),
                                       cmocka_unit_test(test_sweep_bad_axes),
                                       cmocka_unit_test(test_sweep_config),
                                       cmocka_unit_test(test_folder_names),
                                       cmocka_unit_test(test_sweep_model_name),
                                       cmocka_unit_test(test_sweep_progress)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
