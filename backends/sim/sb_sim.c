/*
 * sb_sim.c - hardware description, per-layer timing and energy from counts,
 * the scheduler, and the lower bounds (docs/sram-model.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sb_sim_int.h"

/* ---------------------------------------------------------------- options */

#define SRC SB_OPT_REQUIRED | SB_OPT_SOURCED
const sb_option_spec sb_sim_option_spec[] = {
    {"preset", SB_OPT_STRING, 0, "name of the hardware description, for notes (\"sram256\")"},
    {"sram.capacity_bytes", SB_OPT_INT, SRC, "on-chip SRAM capacity in bytes (= words x word_bits / 8)"},
    {"sram.word_bits", SB_OPT_INT, SRC, "SRAM word width in bits: 8, 16, 32 or 64"},
    {"sram.words", SB_OPT_INT, SRC, "SRAM words"},
    {"sram.ports", SB_OPT_INT, SRC, "1 = one read/write port, 2 = 1RW + 1R"},
    {"sram.clock_mhz", SB_OPT_FLOAT, SB_OPT_SOURCED, "SRAM and datapath clock in MHz (or sram.period_ns)"},
    {"sram.period_ns", SB_OPT_FLOAT, SB_OPT_SOURCED, "clock period in ns (or sram.clock_mhz)"},
    {"sram.min_period_ns", SB_OPT_FLOAT, SB_OPT_SOURCED,
     "the macro's minimum clock period in ns (optional): a faster clock is refused, and a sweep marks it infeasible"},
    {"sram.read_energy_pj", SB_OPT_FLOAT, SRC, "energy per word read, pJ"},
    {"sram.write_energy_pj", SB_OPT_FLOAT, SRC, "energy per word write, pJ"},
    {"sram.idle_clock_energy_pj", SB_OPT_FLOAT, SRC, "clock energy per cycle without an access, pJ"},
    {"sram.leakage_uw", SB_OPT_FLOAT, SRC, "leakage power, uW"},
    {"regfile.bytes", SB_OPT_INT, SRC, "register file / operand buffer bytes in the datapath"},
    {"regfile.read_energy_pj", SB_OPT_FLOAT, SRC, "energy per operand read from the register file, pJ"},
    {"mac.macs_per_cycle", SB_OPT_INT, SRC, "8x8-bit MACs per clock cycle"},
    {"mac.energy_pj", SB_OPT_FLOAT, SRC, "energy per 8x8 MAC with 32-bit accumulate, pJ"},
    {"mac.requant_energy_pj", SB_OPT_FLOAT, SRC,
     "energy per requantisation of an int32 value to int8 (32-bit fixed-point multiply, rounding shift), pJ"},
    {"flash.name", SB_OPT_STRING, 0, "weight memory, e.g. \"qspi-nor-flash\""},
    {"flash.bandwidth_mbytes_per_s", SB_OPT_FLOAT, SRC, "weight memory read bandwidth, 1e6 bytes/s"},
    {"flash.burst_setup_ns", SB_OPT_FLOAT, SRC, "weight memory setup per burst, ns"},
    {"flash.burst_bytes", SB_OPT_INT, SRC, "weight memory longest burst, bytes"},
    {"flash.read_energy_pj_per_byte", SB_OPT_FLOAT, SRC, "weight memory read energy, pJ per byte"},
    {"psram.name", SB_OPT_STRING, 0, "activation memory, e.g. \"qspi-psram\" or \"lpddr4\""},
    {"psram.bandwidth_mbytes_per_s", SB_OPT_FLOAT, SRC, "activation memory bandwidth, 1e6 bytes/s"},
    {"psram.burst_setup_ns", SB_OPT_FLOAT, SRC, "activation memory setup per burst, ns"},
    {"psram.burst_bytes", SB_OPT_INT, SRC, "activation memory longest burst, bytes"},
    {"psram.read_energy_pj_per_byte", SB_OPT_FLOAT, SRC, "activation memory read energy, pJ per byte"},
    {"psram.write_energy_pj_per_byte", SB_OPT_FLOAT, SRC, "activation memory write energy, pJ per byte"},
    {"scheduler.objective", SB_OPT_STRING, 0, "\"energy\" (default), \"latency\" or \"edp\""},
    {"scheduler.double_buffer", SB_OPT_BOOL, 0, "allow double-buffered tiles (default true)"},
    {"scheduler.loop_order", SB_OPT_STRING, 0,
     "\"any\" (default), or one window-op loop order alone: \"spatial_outer\", \"channel_outer\", \"psum_spill\""},
    {"scheduler.fusion", SB_OPT_STRING, 0,
     "\"elementwise\" (default: lut, mul and add chains run in the output stage of the conv/dw/fc before them "
     "where legal and cheaper) or \"none\" (every op alone)"},
    {NULL, 0, 0, NULL}};

/* What each number may be. The upper bounds are generous physical ceilings
 * (a terabyte of SRAM, a microjoule per access, a petabyte per second):
 * beyond them a value is a typo, it would overflow its integer field, or
 * the totals (counts of an inference x per-event costs) would become inf
 * and be reported as a figure. `set`: the only values, 0-terminated. */
typedef struct num_rule {
    const char *key;
    double lo, hi;
    int integer;
    double set[5];
    const char *expected;
} num_rule;

#define TIB 1099511627776.0 /* 2^40 */
static const num_rule rules[] = {
    {"sram.capacity_bytes", 1, TIB, 1, {0}, "an integer in 1..1099511627776 (2^40 bytes)"},
    {"sram.word_bits", 8, 64, 1, {8, 16, 32, 64, 0}, "8, 16, 32 or 64"},
    {"sram.words", 1, TIB, 1, {0}, "an integer in 1..1099511627776 (2^40)"},
    {"sram.ports", 1, 2, 1, {1, 2, 0}, "1 (1RW) or 2 (1RW+1R)"},
    {"sram.clock_mhz", 1e-6, 1e6, 0, {0}, "a number in 1e-06..1e+06 (MHz)"},
    {"sram.period_ns", 1e-3, 1e9, 0, {0}, "a number in 0.001..1e+09 (ns)"},
    {"sram.min_period_ns", 1e-3, 1e9, 0, {0}, "a number in 0.001..1e+09 (ns)"},
    {"sram.read_energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
    {"sram.write_energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
    {"sram.idle_clock_energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
    {"sram.leakage_uw", 0, 1e9, 0, {0}, "a number in 0..1e+09 (uW)"},
    {"regfile.bytes", 1, 1024, 1, {0}, "an integer in 1..1024 (operand buffers, not a second SRAM)"},
    {"regfile.read_energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
    {"mac.macs_per_cycle", 1, 1048576, 1, {0}, "an integer in 1..1048576 (2^20)"},
    {"mac.energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
    {"mac.requant_energy_pj", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ)"},
#define MEM_RULES(m) \
    {m ".bandwidth_mbytes_per_s", 1e-6, 1e9, 0, {0}, "a number in 1e-06..1e+09 (1e6 B/s)"}, \
    {m ".burst_setup_ns", 0, 1e9, 0, {0}, "a number in 0..1e+09 (ns)"}, \
    {m ".burst_bytes", 1, 4294967296.0, 1, {0}, "an integer in 1..4294967296 (2^32)"}, \
    {m ".read_energy_pj_per_byte", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ/B)"}, \
    {m ".write_energy_pj_per_byte", 0, 1e6, 0, {0}, "a number in 0..1e+06 (pJ/B)"},
    MEM_RULES("flash") MEM_RULES("psram")
#undef MEM_RULES
};

static const num_rule *rule_of(const char *key) {
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (!strcmp(rules[i].key, key)) return &rules[i];
    return NULL;
}

static int rule_ok(const num_rule *r, double v) {
    if (!(v >= r->lo && v <= r->hi) || (r->integer && v != floor(v))) return 0;
    if (!r->set[0]) return 1;
    for (int i = 0; r->set[i]; i++)
        if (v == r->set[i]) return 1;
    return 0;
}

int sb_sim_check_value(const char *key, double v, const char **expected) {
    const num_rule *r = rule_of(key);
    *expected = r ? r->expected : "a known key";
    return r && rule_ok(r, v) ? 0 : SB_EINVAL;
}

/* "file:line: " of an option, so that every message points at the line. */
static const char *at(const sb_option *v, char *buf, size_t n) {
    if (!v || !v->file) return "";
    snprintf(buf, n, "%s:%d: ", v->file, v->line);
    return buf;
}

/* A figure: present, sourced (when the spec says so) and within its rule,
 * checked as written (a double, an int64) before any narrowing cast. */
static int get_num(const sb_options *o, const char *key, int required, double *out, sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    const num_rule *r = rule_of(key);
    char sk[128], w[600];
    if (!v) {
        if (required) return sb_error_set(err, SB_EINVAL, "option '%s' missing: expected %s", key, r->expected);
        return 1;
    }
    if (v->type != SB_OPT_INT && v->type != SB_OPT_FLOAT)
        return sb_error_set(err, SB_EINVAL, "%s'%s': expected %s", at(v, w, sizeof w), key, r->expected);
    *out = v->type == SB_OPT_INT ? (double)v->i : v->f;
    if (!rule_ok(r, *out)) {
        if (v->type == SB_OPT_INT)
            return sb_error_set(err, SB_EINVAL, "%s'%s' = %lld: expected %s", at(v, w, sizeof w), key,
                                (long long)v->i, r->expected);
        return sb_error_set(err, SB_EINVAL, "%s'%s' = %g: expected %s", at(v, w, sizeof w), key, *out, r->expected);
    }
    snprintf(sk, sizeof sk, "%s_source", key);
    const sb_option *s = sb_opt_find(o, sk);
    if (!s || s->type != SB_OPT_STRING || !s->s || !s->s[0])
        return sb_error_set(err, SB_EINVAL, "%s'%s' has no '%s': every figure needs its source or \"assumption: ...\"",
                            at(v, w, sizeof w), key, sk);
    return 0;
}

static int get_mem(const sb_options *o, const char *pfx, int need_write, sb_sim_extmem *m, sb_error *err) {
    char k[96];
    double v;
    int rc;
    snprintf(m->name, sizeof m->name, "%s", sb_opt_str(o, (snprintf(k, sizeof k, "%s.name", pfx), k), pfx));
#define MEMNUM(field, key) \
    snprintf(k, sizeof k, "%s." key, pfx); \
    if ((rc = get_num(o, k, 1, &v, err)) != 0) return rc; \
    m->field = v;
    MEMNUM(bandwidth_mbytes_per_s, "bandwidth_mbytes_per_s")
    MEMNUM(burst_setup_ns, "burst_setup_ns")
    MEMNUM(burst_bytes, "burst_bytes")
    MEMNUM(read_pj_per_byte, "read_energy_pj_per_byte")
    m->write_pj_per_byte = 0;
    if (need_write) { MEMNUM(write_pj_per_byte, "write_energy_pj_per_byte") }
#undef MEMNUM
    return 0;
}

/* A string option that must be one of `names` (NULL-terminated); its index. */
static int get_choice(const sb_options *o, const char *key, const char *const *names, const char *expected, int *out,
                      sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    const char *s = v ? (v->type == SB_OPT_STRING && v->s ? v->s : "(not a string)") : names[0];
    char w[600];
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return sb_error_set(err, SB_EINVAL, "%s'%s' = \"%s\": expected %s", at(v, w, sizeof w), key, s, expected);
}

int sb_sim_hw_from_options(const sb_options *o, sb_sim_hw *hw, sb_error *err) {
    double v, mhz = 0, per = 0;
    char w[600], w2[600];
    int rc;
    memset(hw, 0, sizeof *hw);
#define NUM(dst, key) \
    if ((rc = get_num(o, key, 1, &v, err)) != 0) return rc; \
    dst = v;
    NUM(hw->capacity_bytes, "sram.capacity_bytes")
    NUM(hw->word_bits, "sram.word_bits")
    NUM(int64_t words, "sram.words")
    NUM(hw->ports, "sram.ports")
    NUM(hw->read_pj, "sram.read_energy_pj")
    NUM(hw->write_pj, "sram.write_energy_pj")
    NUM(hw->idle_clock_pj, "sram.idle_clock_energy_pj")
    NUM(hw->leakage_uw, "sram.leakage_uw")
    NUM(hw->rf_bytes, "regfile.bytes")
    NUM(hw->rf_read_pj, "regfile.read_energy_pj")
    NUM(hw->macs_per_cycle, "mac.macs_per_cycle")
    NUM(hw->mac_pj, "mac.energy_pj")
    NUM(hw->requant_pj, "mac.requant_energy_pj")
#undef NUM
    int has_mhz = (rc = get_num(o, "sram.clock_mhz", 0, &mhz, err)) == 0;
    if (rc < 0) return rc;
    int has_per = (rc = get_num(o, "sram.period_ns", 0, &per, err)) == 0;
    if (rc < 0) return rc;
    const sb_option *clk = sb_opt_find(o, has_per ? "sram.period_ns" : "sram.clock_mhz");
    if (has_mhz == has_per)
        return sb_error_set(err, SB_EINVAL, "%soptions 'sram.clock_mhz' and 'sram.period_ns': expected exactly one",
                            at(clk, w, sizeof w));
    hw->period_ns = has_per ? per : 1000.0 / mhz;
    if ((rc = get_num(o, "sram.min_period_ns", 0, &hw->min_period_ns, err)) < 0) return rc;
    if (rc > 0) hw->min_period_ns = 0;
    if (sb_sim_clock_too_fast(hw, hw->period_ns))
        return sb_error_set(err, SB_EINVAL, "%s'sram.%s' = %g: a %g ns period is below %s'sram.min_period_ns' = %g "
                            "(%.4g MHz), the macro's fastest clock", at(clk, w, sizeof w), has_per ? "period_ns" : "clock_mhz",
                            has_per ? per : mhz, hw->period_ns, at(sb_opt_find(o, "sram.min_period_ns"), w2, sizeof w2),
                            hw->min_period_ns, 1000.0 / hw->min_period_ns);
    if (words * hw->word_bits / 8 != hw->capacity_bytes)
        return sb_error_set(err, SB_EINVAL, "%s'sram.capacity_bytes' = %lld: expected words x word_bits / 8 = %lld",
                            at(sb_opt_find(o, "sram.capacity_bytes"), w, sizeof w), (long long)hw->capacity_bytes,
                            (long long)(words * hw->word_bits / 8));
    if ((rc = get_mem(o, "flash", 0, &hw->flash, err)) != 0) return rc;
    if ((rc = get_mem(o, "psram", 1, &hw->psram, err)) != 0) return rc;
    static const char *const objectives[] = {"energy", "latency", "edp", NULL}; /* SB_SIM_OBJ_* order */
    static const char *const orders[] = {"any", "spatial_outer", "channel_outer", "psum_spill", NULL};
    if ((rc = get_choice(o, "scheduler.objective", objectives, "energy, latency or edp", &hw->objective, err)) ||
        (rc = get_choice(o, "scheduler.loop_order", orders, "any, spatial_outer, channel_outer or psum_spill",
                         &hw->only_order, err)))
        return rc;
    /* the default first: "elementwise" (the best of fused and unfused per op) */
    static const char *const fusions[] = {"elementwise", "none", NULL};
    int fu;
    if ((rc = get_choice(o, "scheduler.fusion", fusions, "elementwise or none", &fu, err))) return rc;
    hw->fusion = fu == 0 ? SB_SIM_FUSION_ELEMENTWISE : SB_SIM_FUSION_NONE;
    hw->double_buffer = sb_opt_bool(o, "scheduler.double_buffer", 1);
    return 0;
}

/* The same rules for a description assembled in code (a sweep's design
 * point), plus the geometry: the capacity a whole number of words. */
int sb_sim_hw_check(const sb_sim_hw *hw, sb_error *err) {
    const struct {
        const char *key;
        double v;
    } f[] = {
        {"sram.capacity_bytes", (double)hw->capacity_bytes}, {"sram.word_bits", hw->word_bits},
        {"sram.ports", hw->ports}, {"sram.period_ns", hw->period_ns},
        {"sram.read_energy_pj", hw->read_pj}, {"sram.write_energy_pj", hw->write_pj},
        {"sram.idle_clock_energy_pj", hw->idle_clock_pj}, {"sram.leakage_uw", hw->leakage_uw},
        {"regfile.bytes", (double)hw->rf_bytes}, {"regfile.read_energy_pj", hw->rf_read_pj},
        {"mac.macs_per_cycle", (double)hw->macs_per_cycle}, {"mac.energy_pj", hw->mac_pj},
        {"mac.requant_energy_pj", hw->requant_pj},
        {"flash.bandwidth_mbytes_per_s", hw->flash.bandwidth_mbytes_per_s},
        {"flash.burst_setup_ns", hw->flash.burst_setup_ns}, {"flash.burst_bytes", (double)hw->flash.burst_bytes},
        {"flash.read_energy_pj_per_byte", hw->flash.read_pj_per_byte},
        {"psram.bandwidth_mbytes_per_s", hw->psram.bandwidth_mbytes_per_s},
        {"psram.burst_setup_ns", hw->psram.burst_setup_ns}, {"psram.burst_bytes", (double)hw->psram.burst_bytes},
        {"psram.read_energy_pj_per_byte", hw->psram.read_pj_per_byte},
        {"psram.write_energy_pj_per_byte", hw->psram.write_pj_per_byte},
    };
    const char *exp;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (sb_sim_check_value(f[i].key, f[i].v, &exp))
            return sb_error_set(err, SB_EINVAL, "%s = %.10g: expected %s", f[i].key, f[i].v, exp);
    if (hw->capacity_bytes % (hw->word_bits / 8))
        return sb_error_set(err, SB_EINVAL, "sram.capacity_bytes = %lld: expected a whole number of %d-bit words",
                            (long long)hw->capacity_bytes, hw->word_bits);
    return 0;
}

/* ---------------------------------------------------------- time and energy */

static double port_cycles(const sb_sim_hw *hw, double rd, double wr) {
    if (hw->ports == 1) return rd + wr;
    /* writes only through the RW port; reads spread over both */
    double half = (rd + wr) / 2;
    return wr > half ? wr : ceil(half);
}

static double bw_ns(const sb_sim_extmem *m, double bytes, double bursts) {
    return bytes / (m->bandwidth_mbytes_per_s * 1e-3) + bursts * m->burst_setup_ns;
}

static int64_t sum4(const int64_t *a) { return a[0] + a[1] + a[2] + a[3]; }

/* What the timing and energy of a layer take from its counts: the
 * scheduler keeps these per tried schedule (112 B, not the 248 B counts). */
typedef struct cost_terms {
    double rd, wr, rdc, wrc;           /* SRAM words: all, and the datapath's */
    double work;                       /* MACs + element ops + requantisations */
    double fl_bytes, ps_rd, ps_wr, fl_bursts, ps_bursts;
    double macs_ops, requants, reg_reads, steps;
} cost_terms;

static void terms_of(const sb_sim_counts *c, cost_terms *t) {
    t->rd = (double)sum4(c->sram_rd_words);
    t->wr = (double)sum4(c->sram_wr_words);
    t->rdc = t->rd - (double)c->dma_sram_rd_words;
    t->wrc = t->wr - (double)c->dma_sram_wr_words;
    /* a requantisation takes an op slot of the datapath, like an element op */
    t->work = (double)(c->macs + c->ops + c->requants);
    t->fl_bytes = (double)(c->ext_rd_bytes[SB_SIM_W] + c->ext_wr_bytes[SB_SIM_W]);
    t->ps_rd = (double)(sum4(c->ext_rd_bytes) - c->ext_rd_bytes[SB_SIM_W]);
    t->ps_wr = (double)(sum4(c->ext_wr_bytes) - c->ext_wr_bytes[SB_SIM_W]);
    t->fl_bursts = (double)c->ext_bursts[SB_SIM_W];
    t->ps_bursts = (double)(sum4(c->ext_bursts) - c->ext_bursts[SB_SIM_W]);
    t->macs_ops = (double)(c->macs + c->ops);
    t->requants = (double)c->requants;
    t->reg_reads = (double)c->reg_reads;
    t->steps = (double)c->steps;
}

/* The resource with the most busy time: the DMA engine's time goes to the
 * memory with the larger share of it, since one engine serves both. */
static int critical_resource(double compute_ns, double port_ns, double flash_ns, double psram_ns) {
    double ext_ns = flash_ns + psram_ns;
    if (ext_ns > compute_ns && ext_ns > port_ns) return flash_ns >= psram_ns ? SB_SIM_RES_FLASH : SB_SIM_RES_PSRAM;
    return port_ns > compute_ns ? SB_SIM_RES_PORT : SB_SIM_RES_COMPUTE;
}

const char *sb_sim_resource_name(int res) {
    static const char *const names[] = {"compute", "sram_port", "flash", "psram"};
    return res >= 0 && res <= SB_SIM_RES_PSRAM ? names[res] : "?";
}

/* Double-buffered: a software pipeline over the tile steps. Step i's
 * compute runs while the DMA loads step i+1 and stores step i-1, and every
 * one of them uses the shared SRAM port, so a slot takes the longest of its
 * compute, its port words (DMA's and datapath's) and its DMA transfers. The
 * first loads and the last stores are exposed. Each step is the layer's
 * average step (load, store, port and compute totals over steps): exact when
 * the steps are alike. Never more than serial: a double-buffered schedule
 * can always wait for each transfer as a single-buffered one does. */
static double overlapped_ns(double serial_ns, double load_ns, double store_ns, double onchip_ns, int64_t steps) {
    if (steps <= 0) return serial_ns;
    double s = (double)steps;
    double l = load_ns / s;   /* one step's loads */
    double w = store_ns / s;  /* one step's stores */
    double c = onchip_ns / s; /* one step's compute or port words, the longer */
    double t = l + w; /* prologue and epilogue */
    if (steps == 1) {
        t += c;
    } else {
        t += c > l ? c : l;              /* step 0: loads step 1, nothing to store */
        t += (s - 2) * (c > l + w ? c : l + w);
        t += c > w ? c : w;              /* last step: stores the one before */
    }
    return t < serial_ns ? t : serial_ns;
}

/* Always inlined: the search's inner loop reads only the latency and the
 * energy, and the compiler drops the other figures (~8% of a sweep's CPU;
 * the same expressions, so the same values as sb_sim_layer_cost's). */
static inline __attribute__((always_inline)) void cost_of(const sb_sim_hw *hw, const cost_terms *c, int db,
                                                          sb_sim_layer *L) {
    double P = hw->period_ns;
    double rd = c->rd, wr = c->wr;
    double compute = ceil(c->work / (double)hw->macs_per_cycle);
    double port_all = port_cycles(hw, rd, wr), port_c = port_cycles(hw, c->rdc, c->wrc);
    double fl_bytes = c->fl_bytes, ps_rd = c->ps_rd, ps_wr = c->ps_wr;
    L->flash_ns = bw_ns(&hw->flash, fl_bytes, c->fl_bursts);
    L->psram_ns = bw_ns(&hw->psram, ps_rd + ps_wr, c->ps_bursts);
    double ext = L->flash_ns + L->psram_ns;
    /* PSRAM time split between loads and stores by bytes (the bursts are
     * counted per class, not per direction) */
    double store_ns = ps_wr > 0 ? L->psram_ns * ps_wr / (ps_rd + ps_wr) : 0;
    double onchip = compute > port_c ? compute : port_c, t;
    /* serial: the DMA, then the datapath (operand fetch pipelined with the
     * MACs), never faster than the port's words */
    L->serial_ns = ext + onchip * P;
    if (port_all * P > L->serial_ns) L->serial_ns = port_all * P;
    double slot_cycles = compute > port_all ? compute : port_all;
    t = db ? overlapped_ns(L->serial_ns, ext - store_ns, store_ns, slot_cycles * P, (int64_t)c->steps) : L->serial_ns;
    L->critical = critical_resource(compute * P, port_all * P, L->flash_ns, L->psram_ns);
    L->compute_cycles = compute;
    L->port_cycles = port_all;
    L->ext_ns = ext;
    L->latency_ns = t;
    L->compute_ns = compute * P;
    L->memory_ns = (onchip - compute) * P;
    L->dma_ns = t - onchip * P;
    L->stall_ns = t - compute * P;
    L->e_sram_pj = rd * hw->read_pj + wr * hw->write_pj;
    L->e_ext_pj = fl_bytes * hw->flash.read_pj_per_byte + ps_rd * hw->psram.read_pj_per_byte +
                  ps_wr * hw->psram.write_pj_per_byte;
    L->e_mac_pj = c->macs_ops * hw->mac_pj;
    L->e_rq_pj = c->requants * hw->requant_pj;
    L->e_reg_pj = c->reg_reads * hw->rf_read_pj;
    L->e_leak_pj = hw->leakage_uw * t * 1e-3; /* uW x ns = 1e-3 pJ */
    double idle = t / P - port_all;
    L->e_idle_pj = (idle > 0 ? idle : 0) * hw->idle_clock_pj;
    L->energy_pj = L->e_sram_pj + L->e_ext_pj + L->e_mac_pj + L->e_rq_pj + L->e_reg_pj + L->e_leak_pj + L->e_idle_pj;
}

void sb_sim_layer_cost(const sb_sim_hw *hw, sb_sim_layer *L) {
    cost_terms t;
    terms_of(&L->c, &t);
    cost_of(hw, &t, L->s.db, L);
}

int sb_sim_counts_equal(const sb_sim_counts *a, const sb_sim_counts *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

/* -------------------------------------------------------------- scheduler */

/* Candidate tile extents for a dimension of n: 1..16, powers of two and
 * their 1.5 multiples, a geometric grid of ratio ~1.25, every exact divisor
 * of n, and the even splits ceil(n / k) (they cut n with the least waste),
 * also rounded up to whole words (channel vectors are padded to words).
 * Ascending, at most SB_NCAND (the full extent always among them). */
#define SB_NCAND 160
#define SB_REACH 3          /* candidates either side a descent step tries */
#define SB_STARTS_MAX 16    /* descents per op */
#define SB_GRID_MAX 4000    /* fitting grid points before the grid coarsens */
static int cands(int n, int wb, int *out) {
    int m = 0;
    char *seen = calloc((size_t)n + 1, 1);
    if (!seen) { out[0] = 1; return 1; } /* the 1-extent always works */
#define ADD(x) do { int v_ = (x); if (v_ >= 1 && v_ <= n && !seen[v_]) { seen[v_] = 1; m++; } } while (0)
    for (int i = 1; i <= 16; i++) ADD(i);
    for (int p = 8; p <= n; p *= 2) { ADD(p); ADD(p + p / 2); }
    for (double p = 8; p <= n; p *= 1.25) ADD((int)p);
    for (int d = 1; (int64_t)d * d <= n; d++)
        if (n % d == 0) { ADD(d); ADD(n / d); }
    for (int k = 2; k <= 16; k++) { ADD((n + k - 1) / k); ADD((int)sb_rup((n + k - 1) / k, wb)); }
    ADD(n);
#undef ADD
    m = 0;
    for (int v = 1; v <= n && m < SB_NCAND; v++) if (seen[v]) out[m++] = v;
    if (m == SB_NCAND) out[m - 1] = n; /* keep the full extent */
    free(seen);
    return m;
}

static double objective(const sb_sim_hw *hw, const sb_sim_layer *L) {
    switch (hw->objective) {
    case SB_SIM_OBJ_LATENCY: return L->latency_ns + 1e-9 * L->energy_pj;
    case SB_SIM_OBJ_EDP: return L->latency_ns * L->energy_pj;
    default: return L->energy_pj + 1e-9 * L->latency_ns;
    }
}

/* The best schedule seen: its counts and figures are made once, at the end. */
typedef struct best { sb_sim_sched s; double obj; int found; } best;

/* The search space of one op: up to 5 dimensions, each a list of values.
 * Window ops: tc, tk, th, tw, (double buffer x loop order); elementwise:
 * tc, tt, tp, double buffer. */
enum { D_C, D_K, D_H, D_W, D_X, ND };
#define SB_MEMO 4096 /* points remembered per op by the descents (power of two) */
typedef struct space {
    const sb_sim_hw *hw;
    const sb_geom *G;
    int n[ND];
    int v[ND][SB_NCAND];
    int rk[SB_NCAND];   /* window ops: register-file group for any tc, per tk candidate */
    /* descents from different starts meet, and each pass re-tries the
     * neighbours of the last: remember objectives by index vector */
    uint64_t memo_key[SB_MEMO];
    double memo_obj[SB_MEMO];
    struct tried_set *tried; /* may be NULL */
} space;

/* The schedules one op's search has costed, by index vector: what their
 * cost takes from their counts. That does not depend on the MACs per
 * cycle, clock, ports or per-event costs, so the hardware of one memory
 * configuration (sb_sim_analyze_group) shares it: the tile search of the
 * second and later descriptions re-costs instead of re-counting. (Whether
 * a schedule fits is cheaper to recompute than to look up.) */
typedef struct tried {
    uint64_t key;           /* ix_key() */
    uint32_t gen;           /* the entry is valid in this generation of the set */
    cost_terms t;
} tried;

/* A point of the grid phase of search(), in the order it was evaluated. */
typedef struct grid_point {
    int ix[ND];
    sb_sim_sched s;
    cost_terms t;
} grid_point;

typedef struct tried_set {
    tried *e;
    size_t cap, n;          /* cap: a power of two, or 0 */
    uint32_t gen;           /* one per op: bumping it empties the set */
    /* The grid phase visits the same fitting points whatever the costs:
     * the first description records them, the others replay the list. */
    grid_point *grid;
    size_t grid_n, grid_cap;
    int grid_state;         /* 0 none, 1 recording, 2 complete, -1 lost (memory) */
} tried_set;

static uint64_t ix_key(const int *ix) {
    uint64_t key = 1; /* never 0 */
    for (int d = 0; d < ND; d++) key = key * (SB_NCAND + 1) + (uint64_t)ix[d];
    return key;
}

static void tried_reset(tried_set *ts) {
    ts->n = 0;
    ts->grid_n = 0;
    ts->grid_state = 0;
    if (++ts->gen == 0) { /* wrapped: forget every generation */
        if (ts->e) memset(ts->e, 0, ts->cap * sizeof *ts->e);
        ts->gen = 1;
    }
}

static tried *tried_probe(tried *e, size_t cap, uint32_t gen, uint64_t key) {
    /* Fibonacci hashing: the product's top bits */
    int lg = 0;
    while (((size_t)1 << lg) < cap) lg++;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - lg));
    while (e[i].gen == gen && e[i].key != key) i = (i + 1) & (cap - 1);
    return &e[i];
}

/* Doubles the table (half full at most); 0, or -1 out of memory. */
static int tried_grow(tried_set *ts) {
    size_t cap = ts->cap ? 2 * ts->cap : 4096;
    tried *e = calloc(cap, sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < ts->cap; i++)
        if (ts->e[i].gen == ts->gen) *tried_probe(e, cap, ts->gen, ts->e[i].key) = ts->e[i];
    free(ts->e);
    ts->e = e;
    ts->cap = cap;
    return 0;
}

/* The entry of key: valid (gen current) when tried before, else a free
 * slot for it; NULL when out of memory. */
static tried *tried_slot(tried_set *ts, uint64_t key) {
    if (2 * (ts->n + 1) > ts->cap && tried_grow(ts) < 0) return NULL;
    return tried_probe(ts->e, ts->cap, ts->gen, key);
}

/* The schedule at index vector ix; 0 when it does not fit. */
static int build(const space *sp, const int *ix, sb_sim_sched *s) {
    const sb_geom *G = sp->G;
    int window = G->kind == SB_SIM_K_CONV || G->kind == SB_SIM_K_DW || G->kind == SB_SIM_K_POOL;
    int x = sp->v[D_X][ix[D_X]];
    memset(s, 0, sizeof *s);
    s->kind = G->kind;
    s->tc = sp->v[D_C][ix[D_C]];
    s->db = x & 1;
    if (window) {
        s->order = x >> 1;
        s->tk = G->kind == SB_SIM_K_CONV ? sp->v[D_K][ix[D_K]] : s->tc;
        s->th = sp->v[D_H][ix[D_H]];
        s->tw = sp->v[D_W][ix[D_W]];
        s->r = s->tc < sp->rk[ix[D_K]] ? s->tc : sp->rk[ix[D_K]]; /* = sb_rf_group(hw, G, tc, tk) */
    } else {
        s->order = SB_SIM_ORDER_CHANNEL_OUTER;
        s->tt = G->kind == SB_SIM_K_LUT ? sp->v[D_K][ix[D_K]] : 0;
        s->tp = sp->v[D_H][ix[D_H]];
        s->r = sb_rf_group(sp->hw, G, s->tc, 0);
    }
    if (s->r < 1 || !sb_sched_valid(G, s)) return 0;
    s->sram_bytes = sb_sched_bytes(G, s);
    return s->sram_bytes <= sp->hw->capacity_bytes;
}

/* Objective of schedule s with cost terms t; keeps the best seen in b.
 * (The search's inner loop: cost_of fills every figure it reads, so L
 * needs no clearing.) */
static double eval_terms(const space *sp, const sb_sim_sched *s, const cost_terms *t, best *b) {
    sb_sim_layer L;
    cost_of(sp->hw, t, s->db, &L);
    double o = objective(sp->hw, &L);
    if (!b->found || o < b->obj) {
        b->s = *s;
        b->obj = o;
        b->found = 1;
    }
    return o;
}

/* Appends a grid point to the recording (none when it lacks memory). */
static void grid_record(tried_set *ts, const int *ix, const sb_sim_sched *s, const cost_terms *t) {
    if (ts->grid_n == ts->grid_cap) {
        size_t cap = ts->grid_cap ? 2 * ts->grid_cap : 1024;
        grid_point *g = realloc(ts->grid, cap * sizeof *g);
        if (!g) {
            ts->grid_state = -1;
            return;
        }
        ts->grid = g;
        ts->grid_cap = cap;
    }
    grid_point *g = &ts->grid[ts->grid_n++];
    memcpy(g->ix, ix, sizeof g->ix);
    g->s = *s;
    g->t = *t;
}

/* Objective of the schedule s at ix, which fits (eval_terms). */
static double eval_sched(const space *sp, const int *ix, const sb_sim_sched *s, best *b) {
    cost_terms t;
    uint64_t key = ix_key(ix);
    tried *e = sp->tried ? tried_slot(sp->tried, key) : NULL;
    if (e && e->gen == sp->tried->gen) {
        t = e->t;
    } else {
        sb_sim_counts c;
        sb_analyze_op(sp->G, s, &c);
        terms_of(&c, &t);
        if (e) {
            e->key = key;
            e->gen = sp->tried->gen;
            e->t = t;
            sp->tried->n++;
        }
    }
    if (sp->tried && sp->tried->grid_state == 1) grid_record(sp->tried, ix, s, &t);
    return eval_terms(sp, s, &t, b);
}
/* Objective of the schedule at ix, INFINITY when it does not fit. */
static double eval(const space *sp, const int *ix, best *b) {
    sb_sim_sched s;
    return build(sp, ix, &s) ? eval_sched(sp, ix, &s, b) : INFINITY;
}

/* eval() through the memo (key 0 = empty slot). */
static double eval_memo(space *sp, const int *ix, best *b) {
    uint64_t key = ix_key(ix);
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (int probe = 0; probe < 8; probe++) {
        size_t i = (size_t)((h >> 40) + (uint64_t)probe) & (SB_MEMO - 1);
        if (sp->memo_key[i] == key) return sp->memo_obj[i];
        if (sp->memo_key[i] == 0) {
            sp->memo_key[i] = key;
            return sp->memo_obj[i] = eval(sp, ix, b);
        }
    }
    return eval(sp, ix, b); /* the neighbourhood is full: just evaluate */
}

/* A move that no longer fits gives back rows or columns of the tile (the
 * larger of the two first) until it fits, so that a larger channel tile is
 * weighed against a smaller spatial one rather than rejected. */
static void shrink(const space *sp, int *t) {
    sb_sim_sched s;
    while (!build(sp, t, &s) && (t[D_H] > 0 || t[D_W] > 0)) {
        if (s.r < 1) return; /* the register file, not the tile, is the limit */
        int h = sp->v[D_H][t[D_H]], w = sp->v[D_W][t[D_W]];
        if (t[D_W] > 0 && (w >= h || t[D_H] == 0)) t[D_W]--;
        else t[D_H]--;
    }
}

/* Moves ix to the best point that differs from it in dimensions d1 and d2
 * (d2 < 0: d1 only) by at most SB_REACH candidates each (any buffering x
 * order choice); returns 1 when it moved. A move of a channel extent that
 * no longer fits shrinks the spatial tile (shrink()). */
static int move(space *sp, int *ix, double *cur, best *b, int d1, int d2) {
    int r1 = d1 == D_X ? sp->n[d1] : SB_REACH, r2 = d2 < 0 ? 0 : d2 == D_X ? sp->n[d2] : SB_REACH;
    int bt[ND], t[ND], moved = 0;
    memcpy(bt, ix, sizeof bt);
    for (int i = ix[d1] - r1; i <= ix[d1] + r1; i++)
        for (int j = d2 < 0 ? 0 : ix[d2] - r2; j <= (d2 < 0 ? 0 : ix[d2] + r2); j++) {
            if (i < 0 || i >= sp->n[d1] || (d2 >= 0 && (j < 0 || j >= sp->n[d2]))) continue;
            if (i == ix[d1] && (d2 < 0 || j == ix[d2])) continue;
            memcpy(t, ix, sizeof t);
            t[d1] = i;
            if (d2 >= 0) t[d2] = j;
            if (d1 != D_H && d1 != D_W && d2 != D_H && d2 != D_W) shrink(sp, t);
            double o = eval_memo(sp, t, b);
            if (o < *cur) { *cur = o; memcpy(bt, t, sizeof bt); moved = 1; }
        }
    memcpy(ix, bt, sizeof bt);
    return moved;
}

/* Descent from ix: move along one dimension at a time, then along pairs,
 * until no move improves. A pass costs the sum, not the product, of what
 * each dimension tries. */
static void descend(space *sp, int *ix, double cur, best *b) {
    for (int pass = 0, moved = 1; moved && pass < 64; pass++) {
        moved = 0;
        for (int d = 0; d < ND; d++) moved |= move(sp, ix, &cur, b, d, -1);
        /* the tile's rows and columns, and its two channel extents, trade
         * against each other under the capacity: move them together too */
        if (!moved) moved |= move(sp, ix, &cur, b, D_H, D_W);
        if (!moved) moved |= move(sp, ix, &cur, b, D_C, D_K);
    }
}

typedef struct starts { int n; int ix[SB_STARTS_MAX][ND]; double o[SB_STARTS_MAX]; } starts;

/* Keeps the SB_STARTS_MAX best points seen, best first. */
static void keep_start(starts *st, const int *ix, double o) {
    int at;
    if (!isfinite(o)) return;
    if (st->n < SB_STARTS_MAX) at = st->n++;
    else if (o < st->o[SB_STARTS_MAX - 1]) at = SB_STARTS_MAX - 1;
    else return;
    for (; at > 0 && o < st->o[at - 1]; at--) {
        st->o[at] = st->o[at - 1];
        memcpy(st->ix[at], st->ix[at - 1], sizeof st->ix[at]);
    }
    st->o[at] = o;
    memcpy(st->ix[at], ix, sizeof st->ix[at]);
}

typedef struct grid { int n[ND]; int ix[ND][SB_NCAND]; } grid;

/* Level 0: 1..8, powers of two and their 1.5 multiples; level 1: the same
 * for channels, powers of two for rows and columns; level 2: powers of two;
 * level 3: powers of four; each with the full extent. */
#define SB_LEVELS 4
static void grid_of(const space *sp, int level, grid *gr) {
    for (int d = 0; d < ND; d++) {
        int fine = level == 0 || (level == 1 && (d == D_C || d == D_K));
        gr->n[d] = 0;
        for (int i = 0; i < sp->n[d]; i++) {
            int v = sp->v[d][i], p = 1, step = level == 3 ? 4 : 2, on;
            while (p < v) p *= step;
            on = p == v || d == D_X || i == sp->n[d] - 1;
            if (fine) on |= v <= 8 || (v % 3 == 0 && (v / 3 & (v / 3 - 1)) == 0);
            if (on) gr->ix[d][gr->n[d]++] = i;
        }
    }
}

/* Walks the fitting points of a grid, th and tw innermost so that the first
 * extent that does not fit ends its loop (SRAM bytes grow with th and tw).
 * With `fit` (room for limit points): records them and stops after limit,
 * returning how many it saw. Without: evaluates each, keeping the best as
 * starts. */
static int64_t grid_walk(const space *sp, const grid *gr, int64_t limit, int (*fit)[ND], best *b, starts *st) {
    int gi[ND], ix[ND];
    int64_t n = 0;
    sb_sim_sched s;
    for (gi[D_C] = 0; gi[D_C] < gr->n[D_C]; gi[D_C]++)
    for (gi[D_K] = 0; gi[D_K] < gr->n[D_K]; gi[D_K]++)
    for (gi[D_X] = 0; gi[D_X] < gr->n[D_X]; gi[D_X]++)
    for (gi[D_H] = 0; gi[D_H] < gr->n[D_H]; gi[D_H]++) {
        int any = 0;
        for (gi[D_W] = 0; gi[D_W] < gr->n[D_W]; gi[D_W]++) {
            for (int d = 0; d < ND; d++) ix[d] = gr->ix[d][gi[d]];
            if (!build(sp, ix, &s)) break;
            any = 1;
            if (!fit) { keep_start(st, ix, eval_sched(sp, ix, &s, b)); continue; }
            if (n == limit) return n + 1;
            memcpy(fit[n++], ix, sizeof ix);
        }
        if (!any) break;
    }
    return n;
}

/* The search (docs/sram-model.md section 4): every fitting point of the
 * finest grid with at most SB_GRID_MAX fitting points is evaluated (small
 * SRAMs: few tiles fit, the grid is fine; large SRAMs: coarser), and the
 * best SB_STARTS_MAX are refined by descent over every candidate. The work
 * is bounded at any capacity; an exhaustive search is not (tens of millions
 * of points per layer at 512 kB). */
/* The grid phase: the starts and the best of the fitting points of the
 * finest grid with at most SB_GRID_MAX of them. */
static void grid_phase(space *sp, int (*fit)[ND], best *b, starts *loc) {
    grid gr;
    /* the limit is per 4 buffering x order choices, so that a third loop
     * order does not coarsen the grid of the other two */
    int64_t lim = (int64_t)SB_GRID_MAX * (sp->n[D_X] > 4 ? sp->n[D_X] : 4) / 4;
    for (int level = 0; level < SB_LEVELS; level++) {
        grid_of(sp, level, &gr);
        int64_t n = fit && level < SB_LEVELS - 1 ? grid_walk(sp, &gr, lim, fit, b, loc) : -1;
        if (n < 0) { grid_walk(sp, &gr, 0, NULL, b, loc); break; }
        if (n <= lim) {
            sb_sim_sched s;
            for (int64_t i = 0; i < n; i++)
                if (build(sp, fit[i], &s)) keep_start(loc, fit[i], eval_sched(sp, fit[i], &s, b));
            break;
        }
    }
}

/* The energy a schedule costs whatever its time: cost_of's first five
 * terms, summed in its order. Leakage, idle clock and the objective's
 * latency term only add non-negative amounts in floating point, so an
 * energy objective is never below it. */
static double fixed_energy(const sb_sim_hw *hw, const cost_terms *c) {
    double e_sram = c->rd * hw->read_pj + c->wr * hw->write_pj;
    double e_ext = c->fl_bytes * hw->flash.read_pj_per_byte + c->ps_rd * hw->psram.read_pj_per_byte +
                   c->ps_wr * hw->psram.write_pj_per_byte;
    double e_mac = c->macs_ops * hw->mac_pj;
    double e_rq = c->requants * hw->requant_pj;
    double e_reg = c->reg_reads * hw->rf_read_pj;
    return e_sram + e_ext + e_mac + e_rq + e_reg;
}

/* The grid phase again, from the recording: the same points in the same
 * order, so the same starts and best for these costs. With an energy
 * objective and the starts full, a point whose fixed energy is already no
 * better than the worst start can change neither (keep_start and the best
 * need a strictly smaller objective), and is not costed. */
static void replay_grid(const space *sp, const tried_set *ts, best *b, starts *loc) {
    const sb_sim_hw *hw = sp->hw;
    int prune = hw->objective == SB_SIM_OBJ_ENERGY && hw->leakage_uw >= 0 && hw->idle_clock_pj >= 0;
    for (size_t i = 0; i < ts->grid_n; i++) {
        const grid_point *g = &ts->grid[i];
        if (prune && loc->n == SB_STARTS_MAX && fixed_energy(hw, &g->t) >= loc->o[SB_STARTS_MAX - 1]) continue;
        keep_start(loc, g->ix, eval_terms(sp, &g->s, &g->t, b));
    }
}

static void search(space *sp, int (*fit)[ND], best *b) {
    starts loc;
    int ix[ND];
    tried_set *ts = sp->tried;
    loc.n = 0;
    if (ts && ts->grid_state == 2) {
        replay_grid(sp, ts, b, &loc);
    } else {
        if (ts && ts->grid_state == 0) ts->grid_state = 1;
        grid_phase(sp, fit, b, &loc);
        if (ts && ts->grid_state == 1) ts->grid_state = 2;
    }
    if (loc.n == 0) { /* nothing on the grid fits: start from the smallest tile */
        for (int d = 0; d < ND; d++) ix[d] = 0;
        keep_start(&loc, ix, eval(sp, ix, b));
    }
    for (int i = 0; i < loc.n; i++) descend(sp, loc.ix[i], loc.o[i], b);
}

/* The scheduler's buffers, kept between ops and between analyses by the
 * caller (sb_sim_scratch_new): the search space with its memo (~70 kB), the
 * grid's fitting points (~120 kB), the row/column caches and the tried set.
 * Allocated and freed per op, blocks this size went back to the kernel each
 * time: an exact sweep of 448 EfficientNet-B0 points took 375,567 page
 * faults and 1.1 s of system time (docs/views.md, sweep). Not thread-local
 * storage: the library is linked into plugins that are unloaded, and a
 * thread's destructor must not outlive its code. */
#define SB_FIT_MAX ((int64_t)SB_GRID_MAX * 2 * SB_SIM_NORDER / 4) /* lim of search() */
struct sb_sim_scratch {
    space sp;
    int fit[SB_FIT_MAX][ND];
    sb_agg *ycache, *xcache;
    int ny, nx;             /* entries the caches hold */
    tried_set tried;        /* of the op being scheduled */
};
typedef sb_sim_scratch scratch;

sb_sim_scratch *sb_sim_scratch_new(void) {
    return calloc(1, sizeof(sb_sim_scratch));
}

void sb_sim_scratch_free(sb_sim_scratch *t) {
    if (!t) return;
    free(t->tried.e);
    free(t->tried.grid);
    free(t->ycache);
    free(t->xcache);
    free(t);
}

/* Zeroed caches of n entries in *c (capacity *have), grown as needed. */
static sb_agg *agg_cache(sb_agg **c, int *have, int n) {
    if (n > *have) {
        sb_agg *p = realloc(*c, (size_t)n * sizeof *p);
        if (!p) return NULL;
        *c = p;
        *have = n;
    }
    memset(*c, 0, (size_t)n * sizeof **c);
    return *c;
}

/* Smallest SRAM bytes for any tile of this op: the 1-element tile. */
static int64_t min_bytes(const sb_geom *G) {
    sb_sim_sched s = {0};
    s.kind = G->kind; s.th = s.tw = s.tp = s.tc = s.tk = s.r = 1; s.tt = 1;
    return sb_sched_bytes(G, &s);
}

static void schedule_any(const sb_sim_hw *hw, const sb_geom *G, scratch *t, int share, best *b) {
    space *sp = &t->sp;
    memset(sp, 0, sizeof *sp); /* the memo's empty slots are 0 */
    sp->tried = share ? &t->tried : NULL;
    int window = G->kind == SB_SIM_K_CONV || G->kind == SB_SIM_K_DW || G->kind == SB_SIM_K_POOL;
    sp->hw = hw;
    sp->G = G;
    sp->n[D_C] = cands(window ? G->OC : G->C, G->wb, sp->v[D_C]);
    if (window) {
        sp->n[D_K] = G->kind == SB_SIM_K_CONV ? cands(G->C, G->wb, sp->v[D_K]) : (sp->v[D_K][0] = 1, 1);
        sp->n[D_H] = cands(G->OH, G->wb, sp->v[D_H]);
        sp->n[D_W] = cands(G->OW, G->wb, sp->v[D_W]);
    } else {
        sp->n[D_K] = G->kind == SB_SIM_K_LUT ? cands(256, G->wb, sp->v[D_K]) : (sp->v[D_K][0] = 0, 1);
        sp->n[D_H] = cands(G->P, G->wb, sp->v[D_H]);
        sp->n[D_W] = 1;
        sp->v[D_W][0] = 0;
    }
    if (window) /* the group size depends on tc only through min(tc, .) */
        for (int i = 0; i < sp->n[D_K]; i++) {
            int tk = G->kind == SB_SIM_K_CONV ? sp->v[D_K][i] : 1;
            sp->rk[i] = sb_rf_group(hw, G, 1 << 30, tk);
        }
    /* double buffer (bit 0) x loop order (x >> 1, window ops only; the
     * psum-spill order only where there is a reduction to split: conv/fc) */
    sp->n[D_X] = 0;
    for (int x = 0; x < 2 * SB_SIM_NORDER; x++) {
        int ord = x >> 1;
        if ((x & 1) > hw->double_buffer) continue;
        if (!window && ord) continue;
        if (window && hw->only_order && ord != hw->only_order - 1) continue;
        if (G->kind != SB_SIM_K_CONV && ord == SB_SIM_ORDER_PSUM_SPILL && hw->only_order != 1 + ord) continue;
        sp->v[D_X][sp->n[D_X]++] = x;
    }
    search(sp, t->fit, b);
}

static int64_t const_bytes(const sb_geom *G) {
    switch (G->kind) {
    case SB_SIM_K_CONV: return (int64_t)G->OC * G->T * G->C + 4 * G->npar * (int64_t)G->OC;
    case SB_SIM_K_DW: return (int64_t)G->T * G->C + 4 * G->npar * (int64_t)G->OC;
    case SB_SIM_K_LUT: return 256;
    default: return 0;
    }
}

/* The best schedule of op i with the first nf ops of `chain` in its output
 * stage and (pro) the broadcast mul before it on its input tiles (nf = 0,
 * pro = 0: alone), for hw with scratch t; with share, t's tried set holds
 * the costed schedules of this variant of op i (nf, pro) in this memory
 * configuration (another variant has other counts: reset between), or none. */
static int schedule_op(const sb_sim_hw *hw, const sb_graph *g, int i, const int *chain, int nf, int pro, scratch *t,
                       int share, sb_sim_layer *out, sb_error *err) {
    const sb_op *op = &g->ops[i];
    sb_geom G;
    int rc = sb_geom_of(hw, g, op, &G, err);
    if (rc) return rc;
    if (nf) sb_geom_fuse(hw, g, chain, nf, &G);
    G.pro = pro;
    best b;
    memset(&b, 0, sizeof b);
    if (G.kind == SB_SIM_K_CONV || G.kind == SB_SIM_K_DW || G.kind == SB_SIM_K_POOL) {
        /* the row/column sums depend only on th / tw: compute each once */
        G.ycache = agg_cache(&t->ycache, &t->ny, G.OH + 1);
        G.xcache = agg_cache(&t->xcache, &t->nx, G.OW + 1);
        if (!G.ycache || !G.xcache) return sb_error_set(err, SB_ENOMEM, "layer '%s': out of memory", op->name);
    }
    schedule_any(hw, &G, t, share, &b);
    if (!b.found) {
        if (sb_rf_group(hw, &G, 1, 1) < 1 && G.kind != SB_SIM_K_GAVG)
            return sb_error_set(err, SB_ECAPACITY, "layer '%s' (op %d): register file of %lld bytes cannot hold one channel's operands",
                                op->name, i, (long long)hw->rf_bytes);
        return sb_error_set(err, SB_ECAPACITY,
                            "layer '%s' (op %d): no tile fits an SRAM of %lld bytes (register file %lld bytes); "
                            "the smallest capacity that works is %lld bytes",
                            op->name, i, (long long)hw->capacity_bytes, (long long)hw->rf_bytes, (long long)min_bytes(&G));
    }
    memset(out, 0, sizeof *out);
    out->s = b.s;
    /* the search kept no counts: the winner's, and its cost from them */
    sb_analyze_op(&G, &out->s, &out->c);
    sb_sim_layer_cost(hw, out);
    out->name = op->name;
    out->op_index = i;
    out->s.nfuse = nf;
    out->s.pro = pro;
    out->params = const_bytes(&G);
    return 0;
}

/* A layer that runs in op i's stage: no schedule, no counts of its own. */
static void mark_fused(sb_sim_layer *L, int op_index, int i) {
    const char *name = L->name;
    int kind = L->s.kind;
    memset(L, 0, sizeof *L);
    L->name = name;
    L->s.kind = kind;
    L->op_index = op_index;
    L->fused = 1;
    L->fused_into = i;
}

/* scheduler.fusion = elementwise: for each conv/dw/fc, over the prefixes of
 * its fusable output chain (k = 0..n ops) and, for a 1x1 conv, with or
 * without the broadcast mul before it (p), the variant that minimises the
 * producer's objective plus those of the ops left alone (k = 0, p = 0: the
 * schedules of the first pass). A variant that does not fit is not a
 * candidate. One description's choice for one producer: */
typedef struct fuse_pick {
    int m;                  /* the input mul, -1 when none or already fused */
    int k, p;               /* the best variant so far */
    double best, pro_obj;
    double rest[SB_SIM_FUSE_MAX + 1]; /* objectives of chain[f..n-1] left alone */
    sb_sim_layer keep;      /* the best variant's layer (k or p not 0) */
} fuse_pick;

/* The choice before any variant is tried: everything as the first pass
 * left it. Whether the mul m is free depends on this description's
 * earlier choices, so differs between the descriptions of a group. */
static void fuse_start(const sb_sim_hw *hw, const sb_sim_layer *layers, int i, const int *chain, int n, int m,
                       fuse_pick *fp) {
    fp->m = m >= 0 && !layers[m].fused ? m : -1; /* fused: in an earlier op's output stage */
    fp->k = 0;
    fp->p = 0;
    fp->pro_obj = fp->m >= 0 ? objective(hw, &layers[fp->m]) : 0;
    fp->rest[n] = 0;
    for (int f = n - 1; f >= 0; f--) fp->rest[f] = fp->rest[f + 1] + objective(hw, &layers[chain[f]]);
    fp->best = objective(hw, &layers[i]) + fp->rest[0] + fp->pro_obj;
}

/* Schedules variant (k, p) of producer i and keeps it when it beats the
 * choice so far; 0, or an error other than SB_ECAPACITY. */
static int fuse_try(const sb_sim_hw *hw, const sb_graph *g, int i, const int *chain, int k, int p, scratch *t,
                    int share, fuse_pick *fp, sb_error *err) {
    sb_sim_layer cand;
    int rc = schedule_op(hw, g, i, chain, k, p, t, share, &cand, err);
    if (rc == SB_ECAPACITY) return 0;
    if (rc) return rc;
    double o = objective(hw, &cand) + fp->rest[k] + (p ? 0 : fp->pro_obj);
    if (o < fp->best) {
        fp->best = o;
        fp->k = k;
        fp->p = p;
        fp->keep = cand;
    }
    return 0;
}

/* Puts the chosen variant of producer i in its place. */
static void fuse_apply(sb_sim_layer *layers, int i, const int *chain, const fuse_pick *fp) {
    if (!fp->k && !fp->p) return;
    layers[i] = fp->keep;
    for (int f = 0; f < fp->k; f++) mark_fused(&layers[chain[f]], chain[f], i);
    if (fp->p) mark_fused(&layers[fp->m], fp->m, i);
}

/* The fusion pass of a group, producer by producer across the
 * descriptions: a variant's geometry, fit and counts depend only on the
 * memory configuration, so its tried schedules serve every description
 * that tries it (tried_reset per variant: the set is keyed by index vector
 * alone). Each description tries its variants in one order (p, then k) and
 * keeps the first best: the choices sb_sim_analyze makes for it alone. */
static void fuse_group(const sb_sim_hw *hw, int n, const sb_graph *g, sb_sim_report *rep, scratch *t, int *rc,
                       sb_error *err) {
    fuse_pick *fp = malloc((size_t)n * sizeof *fp);
    if (!fp) {
        for (int d = 0; d < n; d++)
            if (rc[d] == 0) rc[d] = sb_error_set(&err[d], SB_ENOMEM, "sb_sim_analyze: out of memory");
        return;
    }
    for (int i = 0; i < g->n_ops; i++) {
        /* the chain and the mul depend only on the memory configuration */
        int chain[SB_SIM_FUSE_MAX];
        int nc = sb_fuse_chain(&hw[0], g, i, chain);
        int m = sb_fuse_input(&hw[0], g, i);
        if (!nc && m < 0) continue;
        for (int d = 0; d < n; d++)
            if (rc[d] == 0) fuse_start(&hw[d], rep[d].layers, i, chain, nc, m, &fp[d]);
        for (int p = 0; p <= (m >= 0); p++)
            for (int k = !p; k <= nc; k++) {
                tried_reset(&t->tried);
                for (int d = 0; d < n; d++)
                    if (rc[d] == 0 && (!p || fp[d].m >= 0))
                        rc[d] = fuse_try(&hw[d], g, i, chain, k, p, t, n > 1, &fp[d], &err[d]);
            }
        for (int d = 0; d < n; d++)
            if (rc[d] == 0) fuse_apply(rep[d].layers, i, chain, &fp[d]);
    }
    free(fp);
}

/* ----------------------------------------------------------------- bounds */

/* Distinct input positions along one dimension that some tap reads. */
static int64_t used_extent(int n, int on, int stride, int k, int dil, int pad) {
    int64_t used = 0;
    char *hit = calloc((size_t)n + 1, 1);
    if (!hit) return 0; /* 0 keeps the bound a lower bound */
    for (int o = 0; o < on; o++)
        for (int t = 0; t < k; t++) {
            int x = o * stride - pad + t * dil;
            if (x >= 0 && x < n && !hit[x]) { hit[x] = 1; used++; }
        }
    free(hit);
    return used;
}

static int64_t tensor_bytes(const sb_graph *g, int t) {
    int64_t n = 1;
    for (int i = 0; i < g->tensors[t].rank; i++) n *= g->tensors[t].shape[i];
    return n;
}

/* scheduler.fusion = elementwise: the activations that may stay on chip,
 * 1 per tensor: the values inside the fusable chains (sb_fuse_chain, the
 * only fusions the scheduler makes) whose fused tile fits at its smallest
 * (every region grows with every tile extent, so no fused schedule fits
 * where the 1-element tile does not). None for fusion = none (unless `rep`
 * holds fused layers). NULL: out of memory. */
static char *onchip_tensors(const sb_sim_hw *hw, const sb_graph *g, const sb_sim_report *rep) {
    char *on = calloc((size_t)g->n_tensors + 1, 1);
    int fused = 0;
    for (int i = 0; i < rep->n_layers; i++) fused |= rep->layers[i].fused;
    /* a report scheduled with fusion, re-costed under a description without
     * it, keeps the bound of its schedules */
    if (!on || (hw->fusion == SB_SIM_FUSION_NONE && !fused)) return on;
    for (int i = 0; i < g->n_ops; i++) {
        int chain[SB_SIM_FUSE_MAX], n = sb_fuse_chain(hw, g, i, chain), t = g->ops[i].output;
        sb_geom G;
        if (n == 0 || sb_geom_of(hw, g, &g->ops[i], &G, NULL)) n = 0;
        for (int k = 1; k <= n; k++) {
            sb_geom_fuse(hw, g, chain, k, &G);
            if (min_bytes(&G) > hw->capacity_bytes) break;
            on[t] = 1;
            t = g->ops[chain[k - 1]].output;
        }
        int m = sb_fuse_input(hw, g, i); /* the input mul's product */
        if (m < 0 || sb_geom_of(hw, g, &g->ops[i], &G, NULL)) continue;
        G.pro = 1;
        if (min_bytes(&G) <= hw->capacity_bytes) on[g->ops[m].output] = 1;
    }
    return on;
}

/* The work of an op alone (MACs, element ops, requantisations), without
 * the consumers fused into it; for a fused consumer, its own. */
static const sb_sim_counts *own_counts(const sb_geom *G, const sb_sim_layer *L, sb_sim_counts *own) {
    if (!L->fused && !L->s.nfuse && !L->s.pro) return &L->c;
    sb_sim_sched s = L->s;
    if (L->fused) { /* elementwise work does not depend on the tile */
        memset(&s, 0, sizeof s);
        s.kind = G->kind;
        s.tp = G->P;
        s.tc = s.r = G->C;
        s.tt = 256;
    }
    sb_analyze_op(G, &s, own);
    return own;
}

void sb_sim_bounds_of(const sb_sim_hw *hw, const sb_graph *g, const sb_sim_report *rep, sb_sim_bounds *B) {
    double wb = hw->word_bits / 8.0, cap = (double)hw->capacity_bytes, P = hw->period_ns;
    double S = (double)(hw->capacity_bytes + hw->rf_bytes);
    double crd = 0, cwr = 0, dma_in = 0, dma_out = 0, spill_in = 0, spill_out = 0, flash = 0;
    double compute_cycles = 0, macs = 0, ops = 0, rq = 0, hk = 0;
    char *on = onchip_tensors(hw, g, rep);
    memset(B, 0, sizeof *B);
    if (!on) return; /* out of memory: zero bounds are still bounds */
    for (int i = 0; i < rep->n_layers; i++) {
        const sb_op *op = &g->ops[i];
        const sb_sim_layer *L = &rep->layers[i];
        sb_geom G;
        sb_sim_counts own;
        if (sb_geom_of(hw, g, op, &G, NULL)) continue;
        const sb_sim_counts *c = own_counts(&G, L, &own);
        int two = G.kind == SB_SIM_K_BIN || G.kind == SB_SIM_K_BCAST;
        int a_on = on[op->inputs[0]], b_on = two && on[op->inputs[1]];
        double used_in, out = (double)tensor_bytes(g, op->output);
        if (G.kind == SB_SIM_K_CONV || G.kind == SB_SIM_K_DW || G.kind == SB_SIM_K_POOL)
            used_in = (double)used_extent(G.H, G.OH, G.sh, G.KH, G.dh, G.pt) *
                      (double)used_extent(G.W, G.OW, G.sw, G.KW, G.dw, G.pl) * G.C;
        else
            used_in = (double)G.P * G.C;
        /* an activation that may stay on chip (fusion) is neither read nor
         * written through the port nor moved: the output stage hands it on
         * (a fused consumer's other operand still counts) */
        double a_in = a_on ? 0 : used_in, b_in = 0;
        if (G.kind == SB_SIM_K_BIN && op->inputs[1] != op->inputs[0]) b_in = used_in;
        if (G.kind == SB_SIM_K_BCAST) b_in = G.C;
        if (b_on) b_in = 0;
        double in_all = a_in + b_in;
        double wbytes = (double)const_bytes(&G);
        flash += wbytes;
        /* an activation may stay on chip only up to the capacity */
        double si = a_on ? 0 : op->inputs[0] == g->input ? used_in : fmax(0, used_in - cap);
        if (two) si += op->inputs[1] == g->input ? b_in : fmax(0, b_in - cap);
        double so = on[op->output] ? 0 : op->output == g->output ? out : fmax(0, out - cap);
        spill_in += si; spill_out += so;
        dma_in += wbytes + si; dma_out += so;
        crd += (G.kind == SB_SIM_K_LUT ? 0 : wbytes) + in_all;
        cwr += on[op->output] ? 0 : out;
        /* conv's zero-point corrections depend on the reduction chunks (and a
         * design could fold them into the bias): the bound leaves them out;
         * no schedule avoids the requantisations. An op that may run in its
         * producer's output stage shares that op's last cycle: its whole
         * cycles only (ceil(a + b) >= ceil(a) + floor(b)). */
        double lops = G.kind == SB_SIM_K_CONV ? 0 : (double)c->ops, lrq = (double)c->requants;
        double cyc = ((double)c->macs + lops + lrq) / (double)hw->macs_per_cycle;
        int shares = G.kind >= SB_SIM_K_BIN && G.kind <= SB_SIM_K_LUT && (a_on || b_on || on[op->output]);
        compute_cycles += shares ? floor(cyc) : ceil(cyc);
        macs += (double)c->macs; ops += lops; rq += lrq;
        /* Hong-Kung style: at most Pmax MACs per segment of S transfers */
        double M = (double)c->macs, pmax = 0;
        if (G.kind == SB_SIM_K_CONV) pmax = sqrt(3.0 * G.T) * pow(S, 1.5);
        if (G.kind == SB_SIM_K_DW) pmax = 3.0 * S * G.T;
        if (pmax > 0 && M > 0) hk += S * fmax(0, ceil(M / pmax) - 1);
    }
    free(on);
    double rdw = (crd + dma_out) / wb, wrw = (cwr + dma_in) / wb;
    B->comp_flash_bytes = flash;
    B->comp_psram_bytes = spill_in + spill_out;
    B->comp_port_rd_words = rdw;
    B->comp_port_wr_words = wrw;
    B->comp_port_ns = port_cycles(hw, rdw, wrw) * P;
    B->comp_ext_ns = flash / (hw->flash.bandwidth_mbytes_per_s * 1e-3) +
                     (spill_in + spill_out) / (hw->psram.bandwidth_mbytes_per_s * 1e-3);
    B->comp_latency_ns = fmax(B->comp_port_ns, B->comp_ext_ns);
    B->compute_ns = compute_cycles * P;
    double e_compute = (macs + ops) * hw->mac_pj + rq * hw->requant_pj + (2 * macs + ops) * hw->rf_read_pj;
    B->compute_energy_pj = e_compute + hw->leakage_uw * B->compute_ns * 1e-3;
    B->comp_energy_pj = rdw * hw->read_pj + wrw * hw->write_pj + flash * hw->flash.read_pj_per_byte +
                        spill_in * hw->psram.read_pj_per_byte + spill_out * hw->psram.write_pj_per_byte +
                        e_compute + hw->leakage_uw * B->comp_latency_ns * 1e-3;
    double bw_max = fmax(hw->flash.bandwidth_mbytes_per_s, hw->psram.bandwidth_mbytes_per_s) * 1e-3;
    double epb = fmin(hw->flash.read_pj_per_byte, fmin(hw->psram.read_pj_per_byte, hw->psram.write_pj_per_byte));
    B->hk_ext_bytes = hk;
    B->hk_port_ns = hk / wb / hw->ports * P;
    B->hk_ext_ns = hk / bw_max;
    B->hk_latency_ns = fmax(B->hk_port_ns, B->hk_ext_ns);
    B->hk_energy_pj = hk * epb + hk / wb * fmin(hw->read_pj, hw->write_pj) + e_compute +
                      hw->leakage_uw * B->hk_latency_ns * 1e-3;
    B->latency_ns = fmax(B->compute_ns, fmax(B->comp_latency_ns, B->hk_latency_ns));
    B->energy_pj = fmax(B->compute_energy_pj, fmax(B->comp_energy_pj, B->hk_energy_pj));
}

/* ---------------------------------------------------------------- analyze */

/* Totals, peaks and bounds of a report whose layers are scheduled. */
static void sum_layers(const sb_sim_hw *hw, const sb_graph *g, sb_sim_report *rep) {
    for (int i = 0; i < rep->n_layers; i++) {
        sb_sim_layer *L = &rep->layers[i];
        for (int k = 0; k < SB_SIM_NCLASS; k++) {
            rep->total.ext_rd_bytes[k] += L->c.ext_rd_bytes[k];
            rep->total.ext_wr_bytes[k] += L->c.ext_wr_bytes[k];
            rep->total.ext_bursts[k] += L->c.ext_bursts[k];
            rep->total.dma_xfers[k] += L->c.dma_xfers[k];
            rep->total.sram_rd_words[k] += L->c.sram_rd_words[k];
            rep->total.sram_wr_words[k] += L->c.sram_wr_words[k];
        }
        rep->total.dma_sram_rd_words += L->c.dma_sram_rd_words;
        rep->total.dma_sram_wr_words += L->c.dma_sram_wr_words;
        rep->total.reg_reads += L->c.reg_reads;
        rep->total.macs += L->c.macs;
        rep->total.ops += L->c.ops;
        rep->total.requants += L->c.requants;
        rep->total.steps += L->c.steps;
        rep->latency_ns += L->latency_ns; rep->compute_ns += L->compute_ns;
        rep->memory_ns += L->memory_ns; rep->dma_ns += L->dma_ns; rep->stall_ns += L->stall_ns;
        rep->e_sram_pj += L->e_sram_pj; rep->e_ext_pj += L->e_ext_pj; rep->e_mac_pj += L->e_mac_pj;
        rep->e_rq_pj += L->e_rq_pj; rep->e_reg_pj += L->e_reg_pj; rep->e_leak_pj += L->e_leak_pj; rep->e_idle_pj += L->e_idle_pj;
        rep->energy_pj += L->energy_pj;
        if (L->s.sram_bytes > rep->sram_peak_bytes) rep->sram_peak_bytes = L->s.sram_bytes;
        double pw = L->latency_ns > 0 ? L->energy_pj / L->latency_ns : 0; /* pJ/ns = mW */
        if (pw > rep->peak_power_mw) rep->peak_power_mw = pw;
    }
    rep->avg_power_mw = rep->latency_ns > 0 ? rep->energy_pj / rep->latency_ns : 0;
    for (int t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) rep->arena_bytes += tensor_bytes(g, t);
    sb_sim_bounds_of(hw, g, rep, &rep->bounds);
}

/* The memory configuration: what a schedule's fit and counts depend on
 * (sb_geom_of, the tile regions, the register-file groups, the choices). */
static int same_memory(const sb_sim_hw *a, const sb_sim_hw *b) {
    return a->capacity_bytes == b->capacity_bytes && a->word_bits == b->word_bits && a->rf_bytes == b->rf_bytes &&
           a->flash.burst_bytes == b->flash.burst_bytes && a->psram.burst_bytes == b->psram.burst_bytes &&
           a->double_buffer == b->double_buffer && a->only_order == b->only_order && a->fusion == b->fusion;
}

int sb_sim_analyze_group(const sb_sim_hw *hw, int n, const sb_graph *g, sb_sim_scratch *own, sb_sim_report *rep,
                         int *rc, sb_error *err) {
    scratch *t = own ? own : sb_sim_scratch_new();
    int k, i;
    for (k = 0; k < n; k++) {
        memset(&rep[k], 0, sizeof rep[k]);
        rep[k].hw = hw[k];
        rc[k] = 0;
        if (!same_memory(&hw[k], &hw[0]))
            rc[k] = sb_error_set(&err[k], SB_EINVAL, "sb_sim_analyze_group: description %d has another memory configuration than the first", k);
        else if (!t || !(rep[k].layers = calloc((size_t)(g->n_ops > 0 ? g->n_ops : 1), sizeof *rep[k].layers)))
            rc[k] = sb_error_set(&err[k], SB_ENOMEM, "sb_sim_analyze: out of memory");
        rep[k].n_layers = g->n_ops;
    }
    /* op by op, so that each op's tried schedules serve all n */
    for (i = 0; i < g->n_ops && t; i++) {
        tried_reset(&t->tried);
        for (k = 0; k < n; k++)
            if (rc[k] == 0) rc[k] = schedule_op(&hw[k], g, i, NULL, 0, 0, t, n > 1, &rep[k].layers[i], &err[k]);
    }
    /* every description of the group has hw[0]'s fusion (same_memory) */
    if (t && n > 0 && hw[0].fusion == SB_SIM_FUSION_ELEMENTWISE) fuse_group(hw, n, g, rep, t, rc, err);
    for (k = 0; k < n; k++) {
        if (rc[k] == 0) sum_layers(&hw[k], g, &rep[k]);
        else sb_sim_report_free(&rep[k]);
    }
    if (!own) sb_sim_scratch_free(t);
    return 0;
}

int sb_sim_analyze(const sb_sim_hw *hw, const sb_graph *g, sb_sim_report *rep, sb_error *err) {
    int rc;
    sb_sim_analyze_group(hw, 1, g, NULL, rep, &rc, err);
    return rc;
}

void sb_sim_report_free(sb_sim_report *rep) {
    if (!rep) return;
    free(rep->layers);
    rep->layers = NULL;
    rep->n_layers = 0;
}
