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
    {"sram.read_energy_pj", SB_OPT_FLOAT, SRC, "energy per word read, pJ"},
    {"sram.write_energy_pj", SB_OPT_FLOAT, SRC, "energy per word write, pJ"},
    {"sram.idle_clock_energy_pj", SB_OPT_FLOAT, SRC, "clock energy per cycle without an access, pJ"},
    {"sram.leakage_uw", SB_OPT_FLOAT, SRC, "leakage power, uW"},
    {"regfile.bytes", SB_OPT_INT, SRC, "register file / operand buffer bytes in the datapath"},
    {"regfile.read_energy_pj", SB_OPT_FLOAT, SRC, "energy per operand read from the register file, pJ"},
    {"mac.macs_per_cycle", SB_OPT_INT, SRC, "8x8-bit MACs per clock cycle"},
    {"mac.energy_pj", SB_OPT_FLOAT, SRC, "energy per 8x8 MAC with 32-bit accumulate, pJ"},
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
    {NULL, 0, 0, NULL}};

/* A figure: present, sourced (when the spec says so) and positive. */
static int get_num(const sb_options *o, const char *key, int required, double lo, double *out, sb_error *err) {
    const sb_option *v = sb_opt_find(o, key);
    char sk[128];
    if (!v) {
        if (required) return sb_error_set(err, SB_EINVAL, "option '%s' missing: expected a number", key);
        return 1;
    }
    if (v->type != SB_OPT_INT && v->type != SB_OPT_FLOAT)
        return sb_error_set(err, SB_EINVAL, "%s:%d: '%s': expected a number", v->file ? v->file : "?", v->line, key);
    *out = v->type == SB_OPT_INT ? (double)v->i : v->f;
    if (!(*out >= lo) || !isfinite(*out))
        return sb_error_set(err, SB_EINVAL, "%s:%d: '%s' = %g: expected >= %g", v->file ? v->file : "?",
                            v->line, key, *out, lo);
    snprintf(sk, sizeof sk, "%s_source", key);
    const sb_option *s = sb_opt_find(o, sk);
    if (!s || s->type != SB_OPT_STRING || !s->s || !s->s[0])
        return sb_error_set(err, SB_EINVAL, "%s:%d: '%s' has no '%s': every figure needs its source or \"assumption: ...\"",
                            v->file ? v->file : "?", v->line, key, sk);
    return 0;
}

static int get_mem(const sb_options *o, const char *pfx, int need_write, sb_sim_extmem *m, sb_error *err) {
    char k[96];
    double v;
    int rc;
    snprintf(m->name, sizeof m->name, "%s", sb_opt_str(o, (snprintf(k, sizeof k, "%s.name", pfx), k), pfx));
#define MEMNUM(field, key, lo) \
    snprintf(k, sizeof k, "%s." key, pfx); \
    if ((rc = get_num(o, k, 1, lo, &v, err)) != 0) return rc; \
    m->field = v;
    MEMNUM(bandwidth_mbytes_per_s, "bandwidth_mbytes_per_s", 1e-6)
    MEMNUM(burst_setup_ns, "burst_setup_ns", 0)
    MEMNUM(burst_bytes, "burst_bytes", 1)
    MEMNUM(read_pj_per_byte, "read_energy_pj_per_byte", 0)
    m->write_pj_per_byte = 0;
    if (need_write) { MEMNUM(write_pj_per_byte, "write_energy_pj_per_byte", 0) }
#undef MEMNUM
    return 0;
}

int sb_sim_hw_from_options(const sb_options *o, sb_sim_hw *hw, sb_error *err) {
    double v, mhz = 0, per = 0;
    int rc;
    memset(hw, 0, sizeof *hw);
#define NUM(dst, key, lo) \
    if ((rc = get_num(o, key, 1, lo, &v, err)) != 0) return rc; \
    dst = v;
    NUM(hw->capacity_bytes, "sram.capacity_bytes", 1)
    NUM(hw->word_bits, "sram.word_bits", 8)
    NUM(int64_t words, "sram.words", 1)
    NUM(hw->ports, "sram.ports", 1)
    NUM(hw->read_pj, "sram.read_energy_pj", 0)
    NUM(hw->write_pj, "sram.write_energy_pj", 0)
    NUM(hw->idle_clock_pj, "sram.idle_clock_energy_pj", 0)
    NUM(hw->leakage_uw, "sram.leakage_uw", 0)
    NUM(hw->rf_bytes, "regfile.bytes", 1)
    NUM(hw->rf_read_pj, "regfile.read_energy_pj", 0)
    NUM(hw->macs_per_cycle, "mac.macs_per_cycle", 1)
    NUM(hw->mac_pj, "mac.energy_pj", 0)
#undef NUM
    int has_mhz = (rc = get_num(o, "sram.clock_mhz", 0, 1e-6, &mhz, err)) == 0;
    if (rc < 0) return rc;
    int has_per = (rc = get_num(o, "sram.period_ns", 0, 1e-6, &per, err)) == 0;
    if (rc < 0) return rc;
    if (has_mhz == has_per)
        return sb_error_set(err, SB_EINVAL, "options 'sram.clock_mhz' and 'sram.period_ns': expected exactly one");
    hw->period_ns = has_per ? per : 1000.0 / mhz;
    int wb = hw->word_bits;
    if (wb != 8 && wb != 16 && wb != 32 && wb != 64)
        return sb_error_set(err, SB_EINVAL, "option 'sram.word_bits' = %d: expected 8, 16, 32 or 64", wb);
    if (words * wb / 8 != hw->capacity_bytes)
        return sb_error_set(err, SB_EINVAL, "option 'sram.capacity_bytes' = %lld: expected words x word_bits / 8 = %lld",
                            (long long)hw->capacity_bytes, (long long)(words * wb / 8));
    if (hw->rf_bytes > 1024)
        return sb_error_set(err, SB_EINVAL, "option 'regfile.bytes' = %lld: expected at most 1024 (operand buffers, not a second SRAM)",
                            (long long)hw->rf_bytes);
    if (hw->ports != 1 && hw->ports != 2)
        return sb_error_set(err, SB_EINVAL, "option 'sram.ports' = %d: expected 1 (1RW) or 2 (1RW+1R)", hw->ports);
    if ((rc = get_mem(o, "flash", 0, &hw->flash, err)) != 0) return rc;
    if ((rc = get_mem(o, "psram", 1, &hw->psram, err)) != 0) return rc;
    const char *obj = sb_opt_str(o, "scheduler.objective", "energy");
    if (!strcmp(obj, "energy")) hw->objective = SB_SIM_OBJ_ENERGY;
    else if (!strcmp(obj, "latency")) hw->objective = SB_SIM_OBJ_LATENCY;
    else if (!strcmp(obj, "edp")) hw->objective = SB_SIM_OBJ_EDP;
    else return sb_error_set(err, SB_EINVAL, "option 'scheduler.objective' = \"%s\": expected energy, latency or edp", obj);
    hw->double_buffer = sb_opt_bool(o, "scheduler.double_buffer", 1);
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

void sb_sim_layer_cost(const sb_sim_hw *hw, sb_sim_layer *L) {
    const sb_sim_counts *c = &L->c;
    double P = hw->period_ns;
    double rd = (double)sum4(c->sram_rd_words), wr = (double)sum4(c->sram_wr_words);
    double rdc = rd - (double)c->dma_sram_rd_words, wrc = wr - (double)c->dma_sram_wr_words;
    double compute = ceil((double)(c->macs + c->ops) / (double)hw->macs_per_cycle);
    double port_all = port_cycles(hw, rd, wr), port_c = port_cycles(hw, rdc, wrc);
    double fl_bytes = (double)(c->ext_rd_bytes[SB_SIM_W] + c->ext_wr_bytes[SB_SIM_W]);
    double ps_rd = (double)(sum4(c->ext_rd_bytes) - c->ext_rd_bytes[SB_SIM_W]);
    double ps_wr = (double)(sum4(c->ext_wr_bytes) - c->ext_wr_bytes[SB_SIM_W]);
    double ext = bw_ns(&hw->flash, fl_bytes, (double)c->ext_bursts[SB_SIM_W]) +
                 bw_ns(&hw->psram, ps_rd + ps_wr, (double)(sum4(c->ext_bursts) - c->ext_bursts[SB_SIM_W]));
    double onchip = compute > port_c ? compute : port_c, t;
    if (L->s.db) {
        /* DMA overlaps compute except for the first tile's fill */
        t = ext;
        if (port_all * P > t) t = port_all * P;
        if (compute * P > t) t = compute * P;
        t += c->steps > 0 ? ext / (double)c->steps : 0;
    } else {
        t = ext + onchip * P;
        if (port_all * P > t) t = port_all * P;
    }
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
    L->e_mac_pj = (double)(c->macs + c->ops) * hw->mac_pj;
    L->e_reg_pj = (double)c->reg_reads * hw->rf_read_pj;
    L->e_leak_pj = hw->leakage_uw * t * 1e-3; /* uW x ns = 1e-3 pJ */
    double idle = t / P - port_all;
    L->e_idle_pj = (idle > 0 ? idle : 0) * hw->idle_clock_pj;
    L->energy_pj = L->e_sram_pj + L->e_ext_pj + L->e_mac_pj + L->e_reg_pj + L->e_leak_pj + L->e_idle_pj;
}

int sb_sim_counts_equal(const sb_sim_counts *a, const sb_sim_counts *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

/* -------------------------------------------------------------- scheduler */

/* Candidate tile extents for a dimension of n: small values, powers of two
 * and their 1.5 multiples, and even splits of n. */
static int cands(int n, int *out) {
    int m = 0, v[64], nv = 0;
    for (int i = 1; i <= 8; i++) v[nv++] = i;
    for (int p = 8; p <= n && nv < 40; p *= 2) { v[nv++] = p; v[nv++] = p + p / 2; }
    for (int k = 2; k <= 8; k++) v[nv++] = (n + k - 1) / k;
    v[nv++] = n;
    for (int i = 0; i < nv; i++) {
        if (v[i] < 1 || v[i] > n) continue;
        int dup = 0;
        for (int j = 0; j < m; j++) dup |= out[j] == v[i];
        if (!dup) out[m++] = v[i];
    }
    for (int i = 1; i < m; i++) /* ascending: capacity grows with the extent */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) { int t = out[j]; out[j] = out[j - 1]; out[j - 1] = t; }
    return m;
}

static double objective(const sb_sim_hw *hw, const sb_sim_layer *L) {
    switch (hw->objective) {
    case SB_SIM_OBJ_LATENCY: return L->latency_ns + 1e-9 * L->energy_pj;
    case SB_SIM_OBJ_EDP: return L->latency_ns * L->energy_pj;
    default: return L->energy_pj + 1e-9 * L->latency_ns;
    }
}

typedef struct best { sb_sim_layer L; double obj; int found; int64_t min_bytes; } best;

static void try_sched(const sb_sim_hw *hw, const sb_geom *G, const sb_sim_sched *s, best *b) {
    sb_sim_layer L;
    memset(&L, 0, sizeof L);
    L.s = *s;
    L.s.sram_bytes = sb_sched_bytes(G, s);
    sb_analyze_op(G, &L.s, &L.c);
    sb_sim_layer_cost(hw, &L);
    double o = objective(hw, &L);
    if (!b->found || o < b->obj) { b->L = L; b->obj = o; b->found = 1; }
}

/* Smallest SRAM bytes for any tile of this op: the 1-element tile. */
static int64_t min_bytes(const sb_geom *G) {
    sb_sim_sched s = {0};
    s.kind = G->kind; s.th = s.tw = s.tp = s.tc = s.tk = s.r = 1; s.tt = 1;
    return sb_sched_bytes(G, &s);
}

static void schedule_window(const sb_sim_hw *hw, const sb_geom *G, best *b) {
    int vc[64], vk[64], vh[64], vw[64];
    int nc = cands(G->OC, vc), nk = G->kind == SB_SIM_K_CONV ? cands(G->C, vk) : 1;
    int nh = cands(G->OH, vh), nw = cands(G->OW, vw);
    for (int ic = 0; ic < nc; ic++)
        for (int ik = 0; ik < nk; ik++) {
            sb_sim_sched s = {0};
            s.kind = G->kind; s.tc = vc[ic]; s.tk = G->kind == SB_SIM_K_CONV ? vk[ik] : vc[ic];
            s.r = sb_rf_group(hw, G, s.tc, s.tk);
            if (s.r < 1) continue;
            for (int db = 0; db <= hw->double_buffer; db++) {
                s.db = db;
                for (int ih = 0; ih < nh; ih++) {
                    s.th = vh[ih]; s.tw = vw[0];
                    if (sb_sched_bytes(G, &s) > hw->capacity_bytes) break;
                    for (int iw = 0; iw < nw; iw++) {
                        s.tw = vw[iw];
                        if (sb_sched_bytes(G, &s) > hw->capacity_bytes) break;
                        for (int ord = 0; ord < 2; ord++) { s.order = ord; try_sched(hw, G, &s, b); }
                    }
                }
            }
        }
}

static void schedule_elementwise(const sb_sim_hw *hw, const sb_geom *G, best *b) {
    int vc[64], vp[64], vt[64];
    int nc = cands(G->C, vc), np = cands(G->P, vp), nt = G->kind == SB_SIM_K_LUT ? cands(256, vt) : 1;
    for (int ic = 0; ic < nc; ic++)
        for (int it = 0; it < nt; it++)
            for (int db = 0; db <= hw->double_buffer; db++)
                for (int ip = 0; ip < np; ip++) {
                    sb_sim_sched s = {0};
                    s.kind = G->kind; s.order = SB_SIM_ORDER_CHANNEL_OUTER;
                    s.tc = vc[ic]; s.tp = vp[ip]; s.tt = G->kind == SB_SIM_K_LUT ? vt[it] : 0; s.db = db;
                    s.r = sb_rf_group(hw, G, s.tc, 0);
                    if (s.r < 1) break;
                    if (sb_sched_bytes(G, &s) > hw->capacity_bytes) break;
                    try_sched(hw, G, &s, b);
                }
}

static int64_t const_bytes(const sb_geom *G) {
    switch (G->kind) {
    case SB_SIM_K_CONV: return (int64_t)G->OC * G->T * G->C + 4 * G->npar * (int64_t)G->OC;
    case SB_SIM_K_DW: return (int64_t)G->T * G->C + 4 * G->npar * (int64_t)G->OC;
    case SB_SIM_K_LUT: return 256;
    default: return 0;
    }
}

static int schedule_op(const sb_sim_hw *hw, const sb_graph *g, int i, sb_sim_layer *out, sb_error *err) {
    const sb_op *op = &g->ops[i];
    sb_geom G;
    int rc = sb_geom_of(hw, g, op, &G, err);
    if (rc) return rc;
    best b;
    memset(&b, 0, sizeof b);
    if (G.kind == SB_SIM_K_CONV || G.kind == SB_SIM_K_DW || G.kind == SB_SIM_K_POOL) {
        /* the row/column sums depend only on th / tw: compute each once */
        G.ycache = calloc((size_t)G.OH + 1, sizeof *G.ycache);
        G.xcache = calloc((size_t)G.OW + 1, sizeof *G.xcache);
        if (!G.ycache || !G.xcache) {
            free(G.ycache); free(G.xcache);
            return sb_error_set(err, SB_ENOMEM, "layer '%s': out of memory", op->name);
        }
        schedule_window(hw, &G, &b);
        free(G.ycache); free(G.xcache);
    } else {
        schedule_elementwise(hw, &G, &b);
    }
    if (!b.found) {
        if (sb_rf_group(hw, &G, 1, 1) < 1 && G.kind != SB_SIM_K_GAVG)
            return sb_error_set(err, SB_ECAPACITY, "layer '%s' (op %d): register file of %lld bytes cannot hold one channel's operands",
                                op->name, i, (long long)hw->rf_bytes);
        return sb_error_set(err, SB_ECAPACITY,
                            "layer '%s' (op %d): no tile fits an SRAM of %lld bytes (register file %lld bytes); "
                            "the smallest capacity that works is %lld bytes",
                            op->name, i, (long long)hw->capacity_bytes, (long long)hw->rf_bytes, (long long)min_bytes(&G));
    }
    *out = b.L;
    out->name = op->name;
    out->op_index = i;
    out->params = const_bytes(&G);
    return 0;
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

static void compute_bounds(const sb_sim_hw *hw, const sb_graph *g, sb_sim_report *rep) {
    sb_sim_bounds *B = &rep->bounds;
    double wb = hw->word_bits / 8.0, cap = (double)hw->capacity_bytes, P = hw->period_ns;
    double S = (double)(hw->capacity_bytes + hw->rf_bytes);
    double crd = 0, cwr = 0, dma_in = 0, dma_out = 0, spill_in = 0, spill_out = 0, flash = 0;
    double compute_cycles = 0, macs = 0, ops = 0, hk = 0;
    memset(B, 0, sizeof *B);
    for (int i = 0; i < rep->n_layers; i++) {
        const sb_op *op = &g->ops[i];
        const sb_sim_layer *L = &rep->layers[i];
        sb_geom G;
        if (sb_geom_of(hw, g, op, &G, NULL)) continue;
        double used_in, out = (double)tensor_bytes(g, op->output);
        if (G.kind == SB_SIM_K_CONV || G.kind == SB_SIM_K_DW || G.kind == SB_SIM_K_POOL)
            used_in = (double)used_extent(G.H, G.OH, G.sh, G.KH, G.dh, G.pt) *
                      (double)used_extent(G.W, G.OW, G.sw, G.KW, G.dw, G.pl) * G.C;
        else
            used_in = (double)G.P * G.C;
        double in_all = used_in;
        if (G.kind == SB_SIM_K_BIN && op->inputs[1] != op->inputs[0]) in_all += used_in;
        if (G.kind == SB_SIM_K_BCAST) in_all += G.C;
        double wbytes = (double)L->params;
        flash += wbytes;
        /* an activation may stay on chip only up to the capacity */
        double si = op->inputs[0] == g->input ? used_in : fmax(0, used_in - cap);
        if (G.kind == SB_SIM_K_BIN || G.kind == SB_SIM_K_BCAST)
            si += op->inputs[1] == g->input ? in_all - used_in : fmax(0, in_all - used_in - cap);
        double so = op->output == g->output ? out : fmax(0, out - cap);
        spill_in += si; spill_out += so;
        dma_in += wbytes + si; dma_out += so;
        crd += (G.kind == SB_SIM_K_LUT ? 0 : wbytes) + in_all;
        cwr += out;
        compute_cycles += ceil((double)(L->c.macs + L->c.ops) / (double)hw->macs_per_cycle);
        macs += (double)L->c.macs; ops += (double)L->c.ops;
        /* Hong-Kung style: at most Pmax MACs per segment of S transfers */
        double M = (double)L->c.macs, pmax = 0;
        if (G.kind == SB_SIM_K_CONV) pmax = sqrt(3.0 * G.T) * pow(S, 1.5);
        if (G.kind == SB_SIM_K_DW) pmax = 3.0 * S * G.T;
        if (pmax > 0 && M > 0) hk += S * fmax(0, ceil(M / pmax) - 1);
    }
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
    double e_compute = (macs + ops) * hw->mac_pj + (2 * macs + ops) * hw->rf_read_pj;
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

int sb_sim_analyze(const sb_sim_hw *hw, const sb_graph *g, sb_sim_report *rep, sb_error *err) {
    memset(rep, 0, sizeof *rep);
    rep->hw = *hw;
    rep->layers = calloc((size_t)(g->n_ops > 0 ? g->n_ops : 1), sizeof *rep->layers);
    if (!rep->layers) return sb_error_set(err, SB_ENOMEM, "sb_sim_analyze: out of memory");
    rep->n_layers = g->n_ops;
    for (int i = 0; i < g->n_ops; i++) {
        int rc = schedule_op(hw, g, i, &rep->layers[i], err);
        if (rc) { sb_sim_report_free(rep); return rc; }
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
        rep->total.steps += L->c.steps;
        rep->latency_ns += L->latency_ns; rep->compute_ns += L->compute_ns;
        rep->memory_ns += L->memory_ns; rep->dma_ns += L->dma_ns; rep->stall_ns += L->stall_ns;
        rep->e_sram_pj += L->e_sram_pj; rep->e_ext_pj += L->e_ext_pj; rep->e_mac_pj += L->e_mac_pj;
        rep->e_reg_pj += L->e_reg_pj; rep->e_leak_pj += L->e_leak_pj; rep->e_idle_pj += L->e_idle_pj;
        rep->energy_pj += L->energy_pj;
        if (L->s.sram_bytes > rep->sram_peak_bytes) rep->sram_peak_bytes = L->s.sram_bytes;
        double pw = L->latency_ns > 0 ? L->energy_pj / L->latency_ns : 0; /* pJ/ns = mW */
        if (pw > rep->peak_power_mw) rep->peak_power_mw = pw;
    }
    rep->avg_power_mw = rep->latency_ns > 0 ? rep->energy_pj / rep->latency_ns : 0;
    for (int t = 0; t < g->n_tensors; t++)
        if (!g->tensors[t].data) rep->arena_bytes += tensor_bytes(g, t);
    compute_bounds(hw, g, rep);
    return 0;
}

void sb_sim_report_free(sb_sim_report *rep) {
    if (!rep) return;
    free(rep->layers);
    rep->layers = NULL;
    rep->n_layers = 0;
}
