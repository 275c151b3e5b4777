/*
 * sb_sim.h - memory-hierarchy simulation of an INT8 graph on a small SRAM.
 *
 * The model (docs/sram-model.md): every operand reaches the MAC array through
 * one on-chip SRAM of exactly capacity_bytes and a small register file filled
 * from it. A DMA engine moves tiles between two external memories (weights in
 * flash, activations in PSRAM) and the SRAM. A scheduler picks per layer the
 * tile sizes, loop order and buffering that minimise an objective over the
 * counted traffic.
 *
 * Two paths share one schedule:
 *   sb_sim_analyze()  closed-form counts, timing, energy and bounds (no data);
 *   sb_sim_execute()  runs the network tile by tile through a real byte array
 *                     of capacity_bytes and counts every event as it happens.
 * The tests prove that both paths count the same events for every layer.
 */
#ifndef SB_SIM_H
#define SB_SIM_H

#include <stdint.h>

#include "sb_plugin.h"

/* ------------------------------------------------------------ hardware */

typedef struct sb_sim_extmem {
    char name[32];                  /* "qspi-nor-flash", "psram"          */
    double bandwidth_mbytes_per_s;  /* sustained, 1e6 bytes per second   */
    double burst_setup_ns;          /* command + address + dummy cycles   */
    int64_t burst_bytes;            /* longest burst before a new setup   */
    double read_pj_per_byte;
    double write_pj_per_byte;
} sb_sim_extmem;

enum { SB_SIM_OBJ_ENERGY = 0, SB_SIM_OBJ_LATENCY = 1, SB_SIM_OBJ_EDP = 2 };
/* scheduler.fusion. NONE (0, what a description filled in code gets): every
 * op runs alone, its output through PSRAM. ELEMENTWISE: a chain of lut, mul
 * and add ops may run in the output stage of the conv, dw or fc before it,
 * where that is legal and lowers the objective (docs/sram-model.md section 4).
 * Room for a later DEPTH_FIRST. */
enum { SB_SIM_FUSION_NONE = 0, SB_SIM_FUSION_ELEMENTWISE = 1 };
#define SB_SIM_FUSE_MAX 4 /* elementwise consumers fused into one output stage */

typedef struct sb_sim_hw {
    /* on-chip SRAM */
    int64_t capacity_bytes;
    int word_bits;                  /* 8, 16, 32 or 64                    */
    int ports;                      /* 1 = 1RW, 2 = 1RW + 1R              */
    double period_ns;               /* SRAM and datapath clock            */
    double min_period_ns;           /* the macro's fastest clock; 0: not given */
    double read_pj;                 /* per word read access               */
    double write_pj;                /* per word write access              */
    double idle_clock_pj;           /* per cycle without an access        */
    double leakage_uw;
    /* register file / operand buffers in the datapath */
    int64_t rf_bytes;
    double rf_read_pj;              /* per operand read                   */
    /* MAC array */
    int64_t macs_per_cycle;
    double mac_pj;                  /* per 8x8 MAC with 32-bit accumulate */
    double requant_pj;              /* per requantisation (32-bit multiply) */
    /* external memories */
    sb_sim_extmem flash;            /* weights, biases, requant, tables   */
    sb_sim_extmem psram;            /* activations                        */
    /* scheduler */
    int objective;                  /* SB_SIM_OBJ_*                       */
    int double_buffer;              /* allow double-buffered tiles        */
    int only_order;                 /* 0: any loop order; 1 + SB_SIM_ORDER_*:
                                     * that order alone for window ops
                                     * (option scheduler.loop_order; tests) */
    int fusion;                     /* SB_SIM_FUSION_* (scheduler.fusion)  */
} sb_sim_hw;

/* Fill hw from the plugin options (keys in docs/sram-model.md); checks
 * ranges and names the option (file:line) at fault. */
int sb_sim_hw_from_options(const sb_options *opts, sb_sim_hw *hw, sb_error *err);

/* 0 when `v` is a value the numeric option `key` takes (the rules of
 * sb_sim_hw_from_options: range, integer, allowed set); else SB_EINVAL.
 * Either way `*expected` says what the key takes ("8, 16, 32 or 64"), for
 * the caller's message. A sweep checks its axes with it. */
int sb_sim_check_value(const char *key, double v, const char **expected);

/* The same rules for a description filled in code (a sweep's design point),
 * and the capacity a whole number of words: SB_EINVAL naming the key. */
int sb_sim_hw_check(const sb_sim_hw *hw, sb_error *err);

/* 1 when a clock of period_ns is faster than the macro's sourced minimum
 * period (when given); the relative slack absorbs 1000 / MHz rounding. */
static inline int sb_sim_clock_too_fast(const sb_sim_hw *hw, double period_ns) {
    return hw->min_period_ns > 0 && period_ns < hw->min_period_ns * (1 - 1e-9);
}
/* The option spec shared by every backend built on this library. */
extern const sb_option_spec sb_sim_option_spec[];

/* ------------------------------------------------------------- counts */

/* Tensor classes: weights (incl. biases, requant parameters, LUT tables),
 * input activations, output activations, int32 partial sums. */
enum { SB_SIM_W = 0, SB_SIM_IN = 1, SB_SIM_OUT = 2, SB_SIM_PSUM = 3, SB_SIM_NCLASS = 4 };

typedef struct sb_sim_counts {
    int64_t ext_rd_bytes[SB_SIM_NCLASS];
    int64_t ext_wr_bytes[SB_SIM_NCLASS];
    int64_t ext_bursts[SB_SIM_NCLASS];
    int64_t dma_xfers[SB_SIM_NCLASS];   /* contiguous runs moved by DMA   */
    int64_t sram_rd_words[SB_SIM_NCLASS];
    int64_t sram_wr_words[SB_SIM_NCLASS];
    int64_t dma_sram_rd_words;          /* part of sram_rd by the DMA     */
    int64_t dma_sram_wr_words;          /* part of sram_wr by the DMA     */
    int64_t reg_reads;
    int64_t macs;                       /* executed (valid-tap) MACs      */
    int64_t ops;                        /* non-MAC element ops            */
    int64_t requants;                   /* fixed-point rescalings: 32-bit
                                           multiply + rounding shift      */
    int64_t steps;                      /* tile steps                     */
} sb_sim_counts;

/* ----------------------------------------------------------- schedule */

enum { SB_SIM_K_CONV = 1, SB_SIM_K_DW, SB_SIM_K_POOL, SB_SIM_K_BIN, SB_SIM_K_BCAST,
       SB_SIM_K_LUT, SB_SIM_K_GAVG };
/* Window-op loop orders. PSUM_SPILL (conv/fc): for channel tile, for
 * reduction chunk, for spatial tile; each weight tile loads once and the
 * int32 partial sums of a spatial tile go to PSRAM between chunks. For
 * dwconv/maxpool (no reduction chunks) it is the channel-outer nest. */
enum { SB_SIM_ORDER_SPATIAL_OUTER = 0, SB_SIM_ORDER_CHANNEL_OUTER = 1, SB_SIM_ORDER_PSUM_SPILL = 2,
       SB_SIM_NORDER = 3 };

typedef struct sb_sim_sched {
    int kind;          /* SB_SIM_K_*                                         */
    int order;         /* SB_SIM_ORDER_* (window ops; elementwise: channel outer) */
    int th, tw;        /* output rows and columns per tile (window ops)      */
    int tp;            /* pixels per tile (elementwise ops)                  */
    int tc;            /* channels per tile                                  */
    int tk;            /* reduction channels per tile (conv, fc)             */
    int r;             /* output channels per register-file group            */
    int tt;            /* LUT table entries per chunk                        */
    int db;            /* double-buffered                                    */
    int nfuse;         /* conv, dw, fc: the elementwise consumers computed in
                        * its output stage (0..SB_SIM_FUSE_MAX, sb_fuse_chain) */
    int pro;           /* 1x1 conv: the broadcast mul that produces its input
                        * applied to each input tile as it is loaded (sb_fuse_input) */
    int64_t sram_bytes;/* SRAM occupied by the tile's regions                */
} sb_sim_sched;

/* -------------------------------------------------------------- report */

typedef struct sb_sim_layer {
    const char *name;
    int op_index;
    int fused;                   /* 1: computed in the output stage of op
                                  * fused_into (no schedule, no counts of its own) */
    int fused_into;
    sb_sim_sched s;
    sb_sim_counts c;
    int64_t params;              /* constant bytes of the op              */
    double compute_cycles, port_cycles, ext_ns;
    double latency_ns, compute_ns, memory_ns, dma_ns, stall_ns;
    double e_sram_pj, e_ext_pj, e_mac_pj, e_rq_pj, e_reg_pj, e_leak_pj, e_idle_pj, energy_pj;
    double flash_ns, psram_ns;   /* the DMA engine's time per memory (sum = ext_ns) */
    double serial_ns;            /* the same counts with nothing overlapped:
                                  * the single-buffered latency (>= latency_ns) */
    int critical;                /* SB_SIM_RES_*: the resource with the most
                                  * busy time, which sets an overlapped step */
} sb_sim_layer;

/* The resources a layer's time is made of (docs/sram-model.md section 6). */
enum { SB_SIM_RES_COMPUTE = 0, SB_SIM_RES_PORT = 1, SB_SIM_RES_FLASH = 2, SB_SIM_RES_PSRAM = 3 };

/* "compute", "sram_port", "flash" or "psram" (the report's critical_resource). */
const char *sb_sim_resource_name(int res);

typedef struct sb_sim_bounds {
    /* (a) compulsory traffic */
    double comp_flash_bytes, comp_psram_bytes, comp_port_rd_words, comp_port_wr_words;
    double comp_port_ns, comp_ext_ns, comp_latency_ns, comp_energy_pj;
    /* (b) Hong-Kung style, convolutions and fc */
    double hk_ext_bytes, hk_port_ns, hk_ext_ns, hk_latency_ns, hk_energy_pj;
    /* (c) compute */
    double compute_ns, compute_energy_pj;
    /* the largest of each */
    double latency_ns, energy_pj;
} sb_sim_bounds;

typedef struct sb_sim_report {
    sb_sim_hw hw;
    int n_layers;
    sb_sim_layer *layers;        /* one per op, graph order               */
    sb_sim_counts total;
    double latency_ns, compute_ns, memory_ns, dma_ns, stall_ns;
    double e_sram_pj, e_ext_pj, e_mac_pj, e_rq_pj, e_reg_pj, e_leak_pj, e_idle_pj, energy_pj;
    double avg_power_mw, peak_power_mw;
    sb_sim_bounds bounds;
    int64_t sram_peak_bytes;
    int64_t arena_bytes;         /* PSRAM bytes holding activations       */
} sb_sim_report;

/* Schedule every op and compute counts, timing, energy and bounds from
 * closed forms. Fails with SB_ECAPACITY naming the layer and the smallest
 * capacity that would work. */
int sb_sim_analyze(const sb_sim_hw *hw, const sb_graph *g, sb_sim_report *rep, sb_error *err);

/* The scheduler's buffers (a few MB at most), reusable by one thread at a
 * time across analyses: a sweep keeps one per worker. NULL: out of memory. */
typedef struct sb_sim_scratch sb_sim_scratch;
sb_sim_scratch *sb_sim_scratch_new(void);
void sb_sim_scratch_free(sb_sim_scratch *scratch);

/* sb_sim_analyze for n (>= 1) descriptions of one memory configuration
 * (capacity, word width, register file, external burst sizes, buffering
 * and loop-order options alike; MACs per cycle, clock, ports, per-event
 * costs and objective free): rep[k], rc[k] and err[k] are exactly what
 * sb_sim_analyze(&hw[k], ...) gives, value for value, but the search
 * counts each tried tile schedule of an op once for all n (a sweep's MAC
 * and clock axes). A description of another memory configuration than
 * hw[0] gets SB_EINVAL. scratch may be NULL (the call allocates its own).
 * Returns 0. */
int sb_sim_analyze_group(const sb_sim_hw *hw, int n, const sb_graph *g, sb_sim_scratch *scratch, sb_sim_report *rep,
                         int *rc, sb_error *err);
void sb_sim_report_free(sb_sim_report *rep);

/* Execute one image with the schedule of `rep`: input -> logits, through an
 * SRAM byte array of hw.capacity_bytes. `counts` (n_layers entries, may be
 * NULL) receives the executed counts. `cancelled` (may be NULL) is polled
 * between layers: non-zero -> SB_ECANCELED. Thread-safe (own buffers per call). */
int sb_sim_execute(const sb_sim_report *rep, const sb_graph *g, const int8_t *input,
                   int8_t *logits, sb_sim_counts *counts, int (*cancelled)(void), sb_error *err);

/* The lower bounds of `hw` for the graph analysed in `rep` (they use the
 * ops' MACs and constant bytes, which no schedule changes: a report
 * re-costed for other MACs per cycle or clock gets its bounds from here). */
void sb_sim_bounds_of(const sb_sim_hw *hw, const sb_graph *g, const sb_sim_report *rep, sb_sim_bounds *B);

/* Timing and energy of one layer from its counts (fills the layer's figures). */
void sb_sim_layer_cost(const sb_sim_hw *hw, sb_sim_layer *L);

/* 1 when two count records are equal. */
int sb_sim_counts_equal(const sb_sim_counts *a, const sb_sim_counts *b);

/* The report as JSON (malloc'd). `sources` (may be NULL) are the options,
 * whose *_source keys are copied into the hardware description. */
char *sb_sim_report_json(const sb_sim_report *rep, const sb_graph *g, const sb_options *sources);

#endif /* SB_SIM_H */
