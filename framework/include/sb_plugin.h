/*
 * sb_plugin.h - the srambench plugin ABI.
 *
 * This is the only header a plugin includes. A plugin is a shared object that
 * exports ONE symbol, `sb_plugin_entry`, pointing at a descriptor whose first
 * member is an sb_plugin_header. The header says which kind the descriptor is
 * (dataset, model, backend) and which ABI it was built against; the loader
 * refuses a different ABI major version.
 *
 * Conventions (libuv style):
 *   - every public name starts with sb_ / SB_;
 *   - functions return 0 on success and a negative SB_E* code on failure,
 *     and fill the caller's sb_error with a message that names the file,
 *     line, field or layer at fault and what was expected;
 *   - physical quantities carry their unit in their name (_ns, _pj, _bytes).
 *
 * Bump SB_ABI_MAJOR on any change that breaks a built plugin (a struct member
 * moved or removed); bump SB_ABI_MINOR for additions at the end of a struct.
 *
 * Minor versions (as SQLite's iVersion): the host loads a plugin of its own
 * major and any minor. What came with a minor is used only when both sides
 * have it: the host reads a descriptor member added in minor N only when the
 * plugin's hdr.abi_minor >= N (such a member is optional: NULL for older
 * plugins), and a plugin reads a host member added in minor N only when
 * sb_host.abi_minor >= N. A plugin of a newer minor than the host is loaded
 * and used through the members the host knows. History:
 *   1.0  everything in this file not listed below.
 *   1.1  sb_metrics_add marks an overflow of the SB_MAX_METRICS slots in the
 *        last slot (SB_M_DROPPED) instead of dropping silently; the host
 *        trusts that mark from plugins of 1.1 on, and for 1.0 plugins warns
 *        that a full table may have lost metrics.
 *        sb_op.avg_count and sb_op.single_round (TFLite's arithmetic, the
 *        tflite model plugin; 0 for every .sbm graph) and sb_graph.temperature
 *        (0 meaning 1), at the ends of their structs. sb_op is an array
 *        element and sb_graph is allocated by model plugins, so these change
 *        layouts that plugins share: a backend that walks g->ops or a model
 *        plugin built before 1.1 must be rebuilt. No such plugin exists
 *        outside this tree; the graph structure in a header of its own,
 *        versioned apart from the plugin descriptors, is the fix (issue 20).
 */
#ifndef SB_PLUGIN_H
#define SB_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 1

/* The symbol every plugin exports (a pointer to its descriptor). */
#define SB_PLUGIN_ENTRY_SYMBOL "sb_plugin_entry"

#if defined(__GNUC__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

/* ------------------------------------------------------------------ errors */

enum {
    SB_OK = 0,
    SB_EINVAL = -1,        /* bad argument or value                       */
    SB_ENOMEM = -2,        /* allocation failed                           */
    SB_EIO = -3,           /* read/write failed                           */
    SB_ENOENT = -4,        /* file, key or plugin not found               */
    SB_EFORMAT = -5,       /* malformed input (file, header, row)         */
    SB_EUNSUPPORTED = -6,  /* valid but not handled (op, dtype, option)   */
    SB_EUNAVAILABLE = -7,  /* backend cannot run here (no GPU, no driver) */
    SB_ECAPACITY = -8,     /* does not fit (SRAM smaller than any tile)   */
    SB_ECANCELED = -9,     /* the run was interrupted                     */
    SB_EABI = -10,         /* plugin built for another ABI or kind        */
    SB_ECHECKSUM = -11,    /* stored checksum does not match              */
    SB_ECRASH = -12        /* a plugin failed unexpectedly                */
};

typedef struct sb_error {
    int code;        /* one of SB_E*, 0 when no error */
    char msg[1024];  /* human readable: "<file>:<line>: <what>: expected <what>" */
} sb_error;

/* Fill an error; returns `code` so that `return sb_error_set(...)` reads well. */
static inline int sb_error_set(sb_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int sb_error_set(sb_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The length of the longest valid UTF-8 prefix of s[0..n): n when all of it
 * is valid. Text that ends up in results.json (names, notes) must be UTF-8 or
 * the file no longer parses as JSON; refuse it where it is read. Overlong
 * forms, surrogates and code points past U+10FFFF are invalid (RFC 3629). */
static inline size_t sb_utf8_valid_prefix(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i], len, k;
        unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            else if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            else if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
        } else
            return i;
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (k = 2; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

/* --------------------------------------------------------------- options */

/*
 * Options reach a plugin as a flat list of dotted keys ("sram.capacity_bytes")
 * taken from its table in bench.toml (and from a file that the table names
 * with `config = "..."`). The framework has already checked them against the
 * plugin's sb_option_spec list: unknown keys, wrong types and missing
 * required keys never reach the plugin. Each value remembers where it came
 * from so that a plugin's own range checks can name file:line.
 */
typedef enum {
    SB_OPT_STRING = 1,
    SB_OPT_INT = 2,
    SB_OPT_FLOAT = 3,   /* an integer literal is accepted for a float */
    SB_OPT_BOOL = 4,
    SB_OPT_STRINGS = 5  /* array of strings */
} sb_opt_type;

/* Spec flags. */
#define SB_OPT_REQUIRED 0x1u
/* A sourced value: the table must also hold `<name>_source`, a string that
 * says where the figure comes from, or "assumption: <why>". */
#define SB_OPT_SOURCED 0x2u
/* A key prefix: "hw." accepts "hw.anything" of the given type. */
#define SB_OPT_PREFIX 0x4u

typedef struct sb_option_spec {
    const char *name;     /* dotted key; NULL name ends the list     */
    sb_opt_type type;
    unsigned flags;       /* SB_OPT_REQUIRED | SB_OPT_SOURCED ...     */
    const char *help;     /* one line, with the unit                  */
} sb_option_spec;

typedef struct sb_option {
    const char *key;      /* dotted                                   */
    sb_opt_type type;
    const char *s;        /* SB_OPT_STRING                            */
    int64_t i;            /* SB_OPT_INT (also copied into f)          */
    double f;             /* SB_OPT_FLOAT                             */
    int b;                /* SB_OPT_BOOL                              */
    const char *const *strings; /* SB_OPT_STRINGS                     */
    size_t n_strings;
    const char *file;     /* where it was written                     */
    int line, col;
} sb_option;

typedef struct sb_options {
    const sb_option *items;
    size_t n;
    const char *name;     /* the instance name given in bench.toml    */
} sb_options;

static inline const sb_option *sb_opt_find(const sb_options *o, const char *key) {
    size_t i, k;
    if (!o) return NULL;
    for (i = 0; i < o->n; i++) {
        const char *a = o->items[i].key;
        for (k = 0; a[k] && a[k] == key[k]; k++) {}
        if (a[k] == 0 && key[k] == 0) return &o->items[i];
    }
    return NULL;
}
static inline const char *sb_opt_str(const sb_options *o, const char *key, const char *dflt) {
    const sb_option *v = sb_opt_find(o, key);
    return v && v->type == SB_OPT_STRING ? v->s : dflt;
}
static inline int64_t sb_opt_int(const sb_options *o, const char *key, int64_t dflt) {
    const sb_option *v = sb_opt_find(o, key);
    return v && v->type == SB_OPT_INT ? v->i : dflt;
}
static inline double sb_opt_float(const sb_options *o, const char *key, double dflt) {
    const sb_option *v = sb_opt_find(o, key);
    return v && (v->type == SB_OPT_FLOAT || v->type == SB_OPT_INT) ? v->f : dflt;
}
static inline int sb_opt_bool(const sb_options *o, const char *key, int dflt) {
    const sb_option *v = sb_opt_find(o, key);
    return v && v->type == SB_OPT_BOOL ? v->b : dflt;
}

/* ------------------------------------------------------------ host services */

enum { SB_LOG_ERROR = 0, SB_LOG_WARN = 1, SB_LOG_INFO = 2, SB_LOG_DEBUG = 3 };

/* What the framework offers a plugin. Valid for the plugin's whole life. */
typedef struct sb_host {
    int abi_major, abi_minor;
    void (*log)(int level, const char *fmt, ...);
    /* Non-zero once the user asked the run to stop (SIGINT/SIGTERM): long
     * plugin calls should return SB_ECANCELED soon after. */
    int (*cancelled)(void);
    const char *cache_dir;   /* writable folder for caches (datasets)  */
    const char *repo_root;   /* folder of bench.toml, for relative paths */
} sb_host;

/* ------------------------------------------------------------- the header */

typedef enum {
    SB_KIND_DATASET = 1,
    SB_KIND_MODEL = 2,
    SB_KIND_BACKEND = 3
} sb_kind;

typedef struct sb_plugin_header {
    uint32_t abi_major;    /* SB_ABI_MAJOR at build time */
    uint32_t abi_minor;
    sb_kind kind;
    const char *name;      /* unique per kind: "ham10000", "cpu", "sram" */
    const char *version;   /* the plugin's own version, "1.0.0"         */
    const char *description;
    const sb_option_spec *options; /* accepted options, NULL-name terminated */
} sb_plugin_header;

#define SB_PLUGIN_HEADER_INIT(kind_, name_, version_, desc_, opts_) \
    { SB_ABI_MAJOR, SB_ABI_MINOR, (kind_), (name_), (version_), (desc_), (opts_) }

/* ------------------------------------------------------------- datasets */

/* Required: open, close, count, n_classes, label, get. Optional (NULL):
 * class_name, sample_id, sample_meta, prepare. The loader refuses a plugin
 * that leaves a required function NULL. */
typedef struct sb_dataset_plugin {
    sb_plugin_header hdr;
    /* Open with the plugin's options. *ds is the plugin's handle. */
    int (*open)(const sb_host *host, const sb_options *opts, void **ds, sb_error *err);
    void (*close)(void *ds);
    size_t (*count)(void *ds);                /* samples in the opened split */
    int (*n_classes)(void *ds);
    /* NULL, or NULL for a class: no names; then only the number of classes
     * is checked against a model's (docs/datasets.md, "Class names") */
    const char *(*class_name)(void *ds, int cls);
    int (*label)(void *ds, size_t index);     /* cheap: no decoding */
    /* "ISIC_0024306"; optional (NULL): samples are known by index */
    const char *(*sample_id)(void *ds, size_t index);
    /* Metadata of a sample as "key=value" pairs, NULL-terminated; NULL if
     * none. Optional (NULL): no metadata. */
    const char *const *(*sample_meta)(void *ds, size_t index);
    /* Make sure the images at size x size are decoded (and cached); may be
     * slow once. Optional (NULL): get() then does all the work. */
    int (*prepare)(void *ds, int size_px, sb_error *err);
    /* The preprocessed image: uint8 RGB, HWC, size x size, squashed to a
     * square and antialiased (docs/dataset-cache.md). Thread-safe. */
    int (*get)(void *ds, size_t index, int size_px, uint8_t *rgb_out, sb_error *err);
} sb_dataset_plugin;

/* --------------------------------------------------------------- graphs */

/*
 * An INT8 network as plain data: tensors and ops in execution order.
 * Semantics, layouts and the exact integer arithmetic are those of
 * docs/model-format.md; the model file is a serialisation of this struct.
 * Activations are NHWC with N = 1.
 */
typedef enum {
    SB_DT_INT8 = 1,
    SB_DT_INT32 = 2,
    SB_DT_FLOAT32 = 3
} sb_dtype;

typedef struct sb_tensor {
    const char *name;
    sb_dtype dtype;
    int rank;               /* 1..4 */
    int32_t shape[4];
    float scale;            /* per-tensor activation scale (0 if none)    */
    int32_t zero_point;
    const float *channel_scales; /* per-output-channel weight scales, or NULL */
    int32_t n_channel_scales;
    const void *data;       /* constant data, NULL for activations        */
    size_t nbytes;
} sb_tensor;

typedef enum {
    SB_OP_CONV2D = 1,      /* inputs: x, w[O,KH,KW,I], bias[O]             */
    SB_OP_DWCONV2D = 2,    /* inputs: x, w[1,KH,KW,C], bias[C]; multiplier 1 */
    SB_OP_FC = 3,          /* inputs: x (flattened), w[O,I], bias[O]       */
    SB_OP_ADD = 4,         /* inputs: a, b (same shape)                    */
    SB_OP_MUL = 5,         /* inputs: a[H,W,C], b[H,W,C] or b[1,1,C]       */
    SB_OP_GAVGPOOL = 6,    /* input x[H,W,C] -> [1,1,C]                    */
    SB_OP_MAXPOOL = 7,     /* input x; kernel, stride, padding             */
    SB_OP_LUT = 8          /* input x; table[256] int8 (sigmoid, SiLU, ...) */
} sb_op_type;

typedef enum {
    SB_REQUANT_FIXED = 1,  /* int32 multiplier + shift, TFLite rounding   */
    SB_REQUANT_FLOAT = 2   /* float32 scale, round half to even           */
} sb_requant_mode;

typedef struct sb_op {
    sb_op_type type;
    const char *name;       /* "features.1.0.block.0" */
    int32_t inputs[3];      /* tensor indices; -1 when unused */
    int32_t n_inputs;
    int32_t output;         /* tensor index */

    /* conv, depthwise, pools */
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left, pad_bottom, pad_right;

    /* output stage: clamp bounds in the int8 output domain (fused ReLU/ReLU6) */
    int32_t act_min, act_max;
    const char *act;        /* "none", "relu", "relu6", or the LUT function
                               "sigmoid", "silu", "hardswish", ... (float path) */

    /* requantisation, per output channel for conv/dw/fc (n = out channels),
     * one entry for add/mul/avgpool (see docs/model-format.md) */
    int32_t n_requant;
    const int32_t *multiplier;   /* SB_REQUANT_FIXED */
    const int32_t *shift;        /* SB_REQUANT_FIXED: >0 left, <0 right */
    const float *scale_f32;      /* SB_REQUANT_FLOAT */
    /* add: second input's and output's fixed-point parameters */
    int32_t left_shift;          /* add: 20, as TFLite */
    int32_t multiplier_b, shift_b;     /* add, input b */
    int32_t multiplier_out, shift_out; /* add, output */
    float scale_b_f32;           /* add, float mode: input b's factor */

    const int8_t *lut;           /* SB_OP_LUT: 256 entries, index q + 128 */

    /* optional float32 weights/bias for the fp32 path (NULL when absent) */
    const float *weights_f32;
    const float *bias_f32;

    /* gavgpool (ABI 1.1): 0, the .sbm arithmetic (requantise the sum); H*W,
     * TFLite's AVERAGE_POOL_2D: the sum of the raw int8 inputs divided by
     * avg_count, rounded half away from zero, then clamped (no zero point:
     * input and output share their quantization). */
    int32_t avg_count;
    /* fixed mode (ABI 1.1): 0, TFLite's MultiplyByQuantizedMultiplier with
     * its two roundings (sb_mbqm); 1, the same product rounded once
     * (TFLITE_SINGLE_ROUNDING, sb_mbqm_sr), as LiteRT's FULLY_CONNECTED
     * computes (docs/tflite.md). */
    int32_t single_round;
} sb_op;

/* The range a graph's temperature must lie in (docs/model-format.md). */
#define SB_TEMPERATURE_MIN 0.05
#define SB_TEMPERATURE_MAX 20.0

typedef struct sb_graph {
    const char *name;            /* "tiny", "effnet-b0-224" */
    sb_requant_mode requant;
    const sb_tensor *tensors;
    int32_t n_tensors;
    const sb_op *ops;
    int32_t n_ops;
    int32_t input;               /* tensor index: int8 [1,H,W,3], q = pixel - 128 */
    int32_t output;              /* tensor index: int8 logits [1,n_classes] */
    int32_t n_classes;
    const char *const *class_names; /* n_classes names, or NULL; compared with the dataset's */
    const char *provenance_json; /* the model file's provenance object, or NULL */
    /* ABI 1.1. Softmax temperature, fitted on val (tools/train/calibrate.py):
     * the framework divides the dequantised logits by it before the softmax,
     * which changes the confidences and never the argmax. 0 means 1 (a graph
     * that does not set it); otherwise finite, in [0.05, 20]. Read only from
     * plugins built with SB_ABI_MINOR >= 1. */
    float temperature;
} sb_graph;

/* --------------------------------------------------------------- models */

/* Required: load, unload. */
typedef struct sb_model_plugin {
    sb_plugin_header hdr;
    /* Build or load the graph described by the options (e.g. path = "x.sbm"). */
    int (*load)(const sb_host *host, const sb_options *opts, const sb_graph **graph, sb_error *err);
    void (*unload)(const sb_graph *graph);
} sb_model_plugin;

/* ------------------------------------------------------------- backends */

typedef enum {
    SB_PROV_UNAVAILABLE = 0,  /* could not be had: `note` says why      */
    SB_PROV_MEASURED = 1,     /* read from a clock or power meter here  */
    SB_PROV_SIMULATED = 2,    /* counted events x sourced per-event cost */
    SB_PROV_RECORDED = 3      /* measured earlier elsewhere: `note` says where/when */
} sb_provenance;

/* Standard metric names; a backend may add its own. */
#define SB_M_LATENCY_NS          "latency_ns"
#define SB_M_ENERGY_PJ           "energy_pj"
#define SB_M_LATENCY_MEMORY_NS   "latency_memory_ns"
#define SB_M_LATENCY_COMPUTE_NS  "latency_compute_ns"
#define SB_M_LATENCY_DMA_NS      "latency_dma_ns"
#define SB_M_ENERGY_SRAM_PJ      "energy_sram_pj"
#define SB_M_ENERGY_EXTERNAL_PJ  "energy_external_pj"
#define SB_M_ENERGY_MAC_PJ       "energy_mac_pj"
#define SB_M_ENERGY_LEAKAGE_PJ   "energy_leakage_pj"

/* Per-image metric slots. A backend that reports more loses the extra ones;
 * since ABI 1.1 the last slot then says how many (SB_M_DROPPED) and the host
 * records a warning for the job in results.json. */
#define SB_MAX_METRICS 32
/* The overflow mark: value = metrics not stored (the last slot's own one
 * included), unit "1". Written by sb_metrics_add only; the host removes it. */
#define SB_M_DROPPED "sb_metrics_dropped"

typedef struct sb_metric {
    const char *name;    /* SB_M_* or the backend's own; static storage */
    const char *unit;    /* "ns", "pJ", "mW", "1" */
    double value;        /* meaningless when prov == SB_PROV_UNAVAILABLE */
    sb_provenance prov;
    const char *note;    /* source, or reason it is unavailable; static or
                            owned by the prepared program */
} sb_metric;

typedef struct sb_metrics {
    sb_metric items[SB_MAX_METRICS];
    int n;
} sb_metrics;

/* 1 if x is the SB_M_DROPPED mark. */
static inline int sb_metric_is_dropped_mark(const sb_metric *x) {
    const char *a = x->name, *b = SB_M_DROPPED;
    if (!a) return 0;
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Appends a metric; when the slots are full, turns the last one into the
 * SB_M_DROPPED mark (or counts one more in it), so that nothing is lost
 * silently. The layout stays that of ABI 1.0: a 1.0 host shows the mark as
 * one more backend metric. */
static inline void sb_metrics_add(sb_metrics *m, const char *name, const char *unit,
                                  double value, sb_provenance prov, const char *note) {
    sb_metric *x;
    if (m->n < SB_MAX_METRICS) {
        x = &m->items[m->n++];
        x->name = name;
        x->unit = unit;
        x->value = value;
        x->prov = prov;
        x->note = note;
        return;
    }
    x = &m->items[SB_MAX_METRICS - 1];
    if (sb_metric_is_dropped_mark(x)) {
        x->value += 1;
        return;
    }
    x->name = SB_M_DROPPED;
    x->unit = "1";
    x->value = 2; /* the metric it replaces and this one */
    x->prov = SB_PROV_MEASURED;
    x->note = "metrics past the SB_MAX_METRICS slots of sb_metrics, not stored";
}

/* Required: open, close, prepare, release, run. Optional (NULL): report_json. */
typedef struct sb_backend_plugin {
    sb_plugin_header hdr;
    /* Open one configured instance. A backend that cannot run on this host
     * returns SB_EUNAVAILABLE with the reason: the run reports it as
     * unavailable and goes on with the others. */
    int (*open)(const sb_host *host, const sb_options *opts, void **be, sb_error *err);
    void (*close)(void *be);
    /* Prepare a graph once per (backend, model): schedule, tile, compute every
     * data-independent figure. A layer that cannot fit returns SB_ECAPACITY
     * naming the layer and the smallest capacity that would work. */
    int (*prepare)(void *be, const sb_graph *graph, void **prog, sb_error *err);
    void (*release)(void *prog);
    /* Run one image: input is the graph's int8 input tensor, logits receives
     * the graph's int8 output tensor. Appends per-image metrics.
     * Must be safe to call from several threads at once on one prog. */
    int (*run)(void *prog, const int8_t *input, int8_t *logits, sb_metrics *metrics, sb_error *err);
    /* Data-independent report of a prepared program as JSON text (per-layer
     * table, bounds, the hardware description with sources), malloc'd; the
     * caller frees it. Returns NULL, or is NULL, if the backend has none. */
    char *(*report_json)(void *prog);
} sb_backend_plugin;

/* The one symbol a plugin defines:
 *     SB_EXPORT const sb_plugin_header *sb_plugin_entry = &my_plugin.hdr;
 */
typedef const sb_plugin_header *sb_plugin_entry_t;

#ifdef __cplusplus
}
#endif
#endif /* SB_PLUGIN_H */
