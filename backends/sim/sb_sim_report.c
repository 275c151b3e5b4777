/* sb_sim_report.c - the data-independent report of a schedule as JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "sb_sim_int.h"

static const char *cls_name[SB_SIM_NCLASS] = {"weights", "input", "output", "psum"};
static const char *kind_name(int k) {
    switch (k) {
    case SB_SIM_K_CONV: return "conv";
    case SB_SIM_K_DW: return "dwconv";
    case SB_SIM_K_POOL: return "maxpool";
    case SB_SIM_K_BIN: return "elementwise";
    case SB_SIM_K_BCAST: return "broadcast-mul";
    case SB_SIM_K_LUT: return "lut";
    case SB_SIM_K_GAVG: return "gavgpool";
    default: return "?";
    }
}

static cJSON *counts_json(const sb_sim_counts *c) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < SB_SIM_NCLASS; k++) {
        cJSON *t = cJSON_AddObjectToObject(o, cls_name[k]);
        cJSON_AddNumberToObject(t, "ext_read_bytes", (double)c->ext_rd_bytes[k]);
        cJSON_AddNumberToObject(t, "ext_write_bytes", (double)c->ext_wr_bytes[k]);
        cJSON_AddNumberToObject(t, "ext_bursts", (double)c->ext_bursts[k]);
        cJSON_AddNumberToObject(t, "dma_transfers", (double)c->dma_xfers[k]);
        cJSON_AddNumberToObject(t, "sram_read_words", (double)c->sram_rd_words[k]);
        cJSON_AddNumberToObject(t, "sram_write_words", (double)c->sram_wr_words[k]);
    }
    /* the DMA's share of the SRAM words above: the single-buffered latency
     * needs it (docs/sram-model.md section 6) */
    cJSON_AddNumberToObject(o, "dma_sram_read_words", (double)c->dma_sram_rd_words);
    cJSON_AddNumberToObject(o, "dma_sram_write_words", (double)c->dma_sram_wr_words);
    cJSON_AddNumberToObject(o, "register_reads", (double)c->reg_reads);
    cJSON_AddNumberToObject(o, "macs", (double)c->macs);
    cJSON_AddNumberToObject(o, "element_ops", (double)c->ops);
    cJSON_AddNumberToObject(o, "requantisations", (double)c->requants);
    cJSON_AddNumberToObject(o, "tile_steps", (double)c->steps);
    return o;
}

static void shape_json(cJSON *o, const char *key, const sb_tensor *t) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < t->rank; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(t->shape[i]));
}

static cJSON *layer_json(const sb_sim_report *rep, const sb_graph *g, const sb_sim_layer *L) {
    const sb_op *op = &g->ops[L->op_index];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", op->name ? op->name : "");
    cJSON_AddStringToObject(o, "kind", kind_name(L->s.kind));
    shape_json(o, "input_shape", &g->tensors[op->inputs[0]]);
    shape_json(o, "output_shape", &g->tensors[op->output]);
    cJSON_AddNumberToObject(o, "param_bytes", (double)L->params);
    if (L->fused) { /* no schedule, no counts of its own */
        const sb_op *p = &g->ops[L->fused_into];
        cJSON_AddStringToObject(o, "fused_into", p->name ? p->name : "");
        return o;
    }
    if (L->s.nfuse) cJSON_AddNumberToObject(o, "fused_consumers", L->s.nfuse);
    if (L->s.pro) cJSON_AddBoolToObject(o, "fused_input_mul", 1);
    cJSON *s = cJSON_AddObjectToObject(o, "tile");
    if (L->s.kind <= SB_SIM_K_POOL) {
        int spill = L->s.kind == SB_SIM_K_CONV && L->s.order == SB_SIM_ORDER_PSUM_SPILL;
        cJSON_AddStringToObject(s, "loop_order", L->s.order == SB_SIM_ORDER_SPATIAL_OUTER
                                                     ? "spatial-tiles outer, channel tiles, reduction inner"
                                                 : spill ? "channel tiles outer, reduction chunks, spatial tiles inner; "
                                                           "partial sums spilled to PSRAM between chunks"
                                                         : "channel tiles outer, spatial tiles, reduction inner");
        cJSON_AddNumberToObject(s, "rows", L->s.th);
        cJSON_AddNumberToObject(s, "cols", L->s.tw);
        if (L->s.kind == SB_SIM_K_CONV) cJSON_AddNumberToObject(s, "reduction_channels", L->s.tk);
    } else {
        cJSON_AddStringToObject(s, "loop_order", "channel tiles outer, pixel tiles inner");
        cJSON_AddNumberToObject(s, "pixels", L->s.tp);
        if (L->s.kind == SB_SIM_K_LUT) cJSON_AddNumberToObject(s, "table_entries", L->s.tt);
    }
    cJSON_AddNumberToObject(s, "channels", L->s.tc);
    cJSON_AddNumberToObject(s, "register_group", L->s.r);
    cJSON_AddBoolToObject(s, "double_buffered", L->s.db);
    cJSON_AddNumberToObject(o, "sram_bytes", (double)L->s.sram_bytes);
    cJSON_AddNumberToObject(o, "sram_occupancy_pct", 100.0 * (double)L->s.sram_bytes / (double)rep->hw.capacity_bytes);
    cJSON_AddItemToObject(o, "counts", counts_json(&L->c));
    cJSON_AddNumberToObject(o, "compute_cycles", L->compute_cycles);
    cJSON_AddNumberToObject(o, "sram_port_cycles", L->port_cycles);
    cJSON_AddNumberToObject(o, "external_ns", L->ext_ns);
    cJSON_AddNumberToObject(o, "flash_ns", L->flash_ns);
    cJSON_AddNumberToObject(o, "psram_ns", L->psram_ns);
    cJSON_AddNumberToObject(o, "latency_ns", L->latency_ns);
    /* what overlap saved: the same counts single-buffered (section 6) */
    cJSON_AddNumberToObject(o, "serial_latency_ns", L->serial_ns);
    cJSON_AddStringToObject(o, "critical_resource", sb_sim_resource_name(L->critical));
    cJSON_AddNumberToObject(o, "stall_ns", L->stall_ns);
    cJSON_AddNumberToObject(o, "energy_pj", L->energy_pj);
    cJSON_AddNumberToObject(o, "energy_sram_pj", L->e_sram_pj);
    cJSON_AddNumberToObject(o, "energy_external_pj", L->e_ext_pj);
    cJSON_AddNumberToObject(o, "energy_mac_pj", L->e_mac_pj);
    cJSON_AddNumberToObject(o, "energy_requant_pj", L->e_rq_pj);
    cJSON_AddNumberToObject(o, "energy_regfile_pj", L->e_reg_pj);
    cJSON_AddNumberToObject(o, "energy_leakage_pj", L->e_leak_pj);
    cJSON_AddNumberToObject(o, "energy_idle_clock_pj", L->e_idle_pj);
    return o;
}

static cJSON *hw_json(const sb_sim_hw *hw, const sb_options *src) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sram.capacity_bytes", (double)hw->capacity_bytes);
    cJSON_AddNumberToObject(o, "sram.word_bits", hw->word_bits);
    cJSON_AddNumberToObject(o, "sram.ports", hw->ports);
    cJSON_AddNumberToObject(o, "sram.period_ns", hw->period_ns);
    cJSON_AddStringToObject(o, "scheduler.objective", hw->objective == SB_SIM_OBJ_ENERGY ? "energy"
                                                      : hw->objective == SB_SIM_OBJ_LATENCY ? "latency" : "edp");
    cJSON_AddBoolToObject(o, "scheduler.double_buffer", hw->double_buffer);
    cJSON_AddStringToObject(o, "scheduler.fusion", hw->fusion == SB_SIM_FUSION_ELEMENTWISE ? "elementwise" : "none");
    if (!src) return o;
    /* every option as given, with its source beside it */
    cJSON *opts = cJSON_AddObjectToObject(o, "options");
    for (size_t i = 0; i < src->n; i++) {
        const sb_option *v = &src->items[i];
        switch (v->type) {
        case SB_OPT_STRING: cJSON_AddStringToObject(opts, v->key, v->s ? v->s : ""); break;
        case SB_OPT_INT: cJSON_AddNumberToObject(opts, v->key, (double)v->i); break;
        case SB_OPT_FLOAT: cJSON_AddNumberToObject(opts, v->key, v->f); break;
        case SB_OPT_BOOL: cJSON_AddBoolToObject(opts, v->key, v->b); break;
        default: break;
        }
    }
    return o;
}

char *sb_sim_report_json(const sb_sim_report *rep, const sb_graph *g, const sb_options *sources) {
    cJSON *root = cJSON_CreateObject();
    const sb_sim_bounds *B = &rep->bounds;
    cJSON_AddStringToObject(root, "model", g->name ? g->name : "");
    cJSON_AddStringToObject(root, "provenance", "simulated: counted events x per-event costs of the hardware description");
    cJSON_AddItemToObject(root, "hardware", hw_json(&rep->hw, sources));
    cJSON *t = cJSON_AddObjectToObject(root, "total");
    cJSON_AddNumberToObject(t, "latency_ns", rep->latency_ns);
    cJSON_AddNumberToObject(t, "latency_compute_ns", rep->compute_ns);
    cJSON_AddNumberToObject(t, "latency_memory_ns", rep->memory_ns);
    cJSON_AddNumberToObject(t, "latency_dma_ns", rep->dma_ns);
    cJSON_AddNumberToObject(t, "stall_ns", rep->stall_ns);
    cJSON_AddNumberToObject(t, "energy_pj", rep->energy_pj);
    cJSON_AddNumberToObject(t, "energy_sram_pj", rep->e_sram_pj);
    cJSON_AddNumberToObject(t, "energy_external_pj", rep->e_ext_pj);
    cJSON_AddNumberToObject(t, "energy_mac_pj", rep->e_mac_pj);
    cJSON_AddNumberToObject(t, "energy_requant_pj", rep->e_rq_pj);
    cJSON_AddNumberToObject(t, "energy_regfile_pj", rep->e_reg_pj);
    cJSON_AddNumberToObject(t, "energy_leakage_pj", rep->e_leak_pj);
    cJSON_AddNumberToObject(t, "energy_idle_clock_pj", rep->e_idle_pj);
    cJSON_AddNumberToObject(t, "avg_power_mw", rep->avg_power_mw);
    cJSON_AddNumberToObject(t, "peak_layer_power_mw", rep->peak_power_mw);
    cJSON_AddNumberToObject(t, "sram_peak_bytes", (double)rep->sram_peak_bytes);
    cJSON_AddItemToObject(t, "counts", counts_json(&rep->total));
    cJSON *b = cJSON_AddObjectToObject(root, "bounds");
    cJSON *a = cJSON_AddObjectToObject(b, "compulsory");
    cJSON_AddNumberToObject(a, "flash_bytes", B->comp_flash_bytes);
    cJSON_AddNumberToObject(a, "psram_bytes", B->comp_psram_bytes);
    cJSON_AddNumberToObject(a, "port_read_words", B->comp_port_rd_words);
    cJSON_AddNumberToObject(a, "port_write_words", B->comp_port_wr_words);
    cJSON_AddNumberToObject(a, "port_ns", B->comp_port_ns);
    cJSON_AddNumberToObject(a, "external_ns", B->comp_ext_ns);
    cJSON_AddNumberToObject(a, "latency_ns", B->comp_latency_ns);
    cJSON_AddNumberToObject(a, "energy_pj", B->comp_energy_pj);
    cJSON_AddNumberToObject(a, "latency_ratio", rep->latency_ns / B->comp_latency_ns);
    cJSON_AddNumberToObject(a, "energy_ratio", rep->energy_pj / B->comp_energy_pj);
    cJSON *h = cJSON_AddObjectToObject(b, "hong_kung");
    cJSON_AddNumberToObject(h, "external_bytes", B->hk_ext_bytes);
    cJSON_AddNumberToObject(h, "port_ns", B->hk_port_ns);
    cJSON_AddNumberToObject(h, "external_ns", B->hk_ext_ns);
    cJSON_AddNumberToObject(h, "latency_ns", B->hk_latency_ns);
    cJSON_AddNumberToObject(h, "energy_pj", B->hk_energy_pj);
    cJSON_AddNumberToObject(h, "latency_ratio", B->hk_latency_ns > 0 ? rep->latency_ns / B->hk_latency_ns : 0);
    cJSON_AddNumberToObject(h, "traffic_ratio",
                            B->hk_ext_bytes > 0 ? (double)(rep->total.ext_rd_bytes[0] + rep->total.ext_rd_bytes[1] +
                                                           rep->total.ext_wr_bytes[2]) / B->hk_ext_bytes : 0);
    cJSON *c = cJSON_AddObjectToObject(b, "compute");
    cJSON_AddNumberToObject(c, "latency_ns", B->compute_ns);
    cJSON_AddNumberToObject(c, "energy_pj", B->compute_energy_pj);
    cJSON_AddNumberToObject(c, "latency_ratio", B->compute_ns > 0 ? rep->latency_ns / B->compute_ns : 0);
    cJSON_AddNumberToObject(b, "latency_ns", B->latency_ns);
    cJSON_AddNumberToObject(b, "energy_pj", B->energy_pj);
    cJSON *ls = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; i < rep->n_layers; i++) cJSON_AddItemToArray(ls, layer_json(rep, g, &rep->layers[i]));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}
