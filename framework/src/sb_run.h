/*
 * sb_run.h - one benchmark run: the jobs (dataset x model x backend), their
 * per-sample records and their status. The runner (sb_runner.c) fills it on
 * the loop thread and the worker threads; the results writer
 * (sb_results.c) reads it on the loop thread between jobs.
 */
#ifndef SB_RUN_H
#define SB_RUN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sb_config.h"
#include "sb_loader.h"
#include "sb_plugin.h"

typedef enum {
    SB_JOB_PENDING = 0,
    SB_JOB_RUNNING,
    SB_JOB_OK,
    SB_JOB_FAILED,
    SB_JOB_UNAVAILABLE,
    SB_JOB_CANCELLED,
    SB_JOB_KILLED     /* its process was killed from outside (SIGKILL): not
                       * a plugin's fault; a resume runs it again */
} sb_job_status;

const char *sb_job_status_name(sb_job_status s);

struct sb_run;
/* The first job before `i` that ended with exactly job i's error message
 * (a missing dataset folder fails every job alike), or -1: the terminal
 * says such an error once and then refers to that job. results.json keeps
 * the whole message in every job. */
long sb_job_same_error_as(const struct sb_run *run, size_t i);

#define SB_SAMPLE_MAX_CLASSES 32

/* One image through one (model, backend). Written by exactly one worker. */
typedef struct sb_sample {
    int done;             /* 1 once the record is complete       */
    int skipped;          /* the dataset marks it unreadable     */
    int pred;             /* predicted class                     */
    double confidence;    /* softmax probability of pred         */
    int top_cls[3];
    double top_p[3];
    /* The whole output: raw int8 logits (for bit-exactness checks across
     * backends) and their softmax (for AUC). Kept for up to
     * SB_SAMPLE_MAX_CLASSES classes; n_out is 0 beyond that. */
    int n_out;
    int8_t logits[SB_SAMPLE_MAX_CLASSES];
    float probs[SB_SAMPLE_MAX_CLASSES];
    sb_metrics metrics;   /* what the backend reported           */
} sb_sample;

typedef struct sb_run_dataset {
    const sb_cfg_dataset *cfg;
    sb_plugin plugin;
    sb_opts_owned opts;
    const sb_dataset_plugin *api;
    void *h;              /* open handle, NULL until opened      */
    int open_rc;          /* < 0: opening failed (err says why)  */
    sb_error err;
    size_t *sel;          /* selected dataset indices            */
    size_t n_sel;
    int n_classes;
    size_t *class_counts; /* of the selection, per class         */
    int prepared_size_px; /* last size prepare() ran for         */
    int unlabelled;       /* no sample has a label: cost only    */
    struct cJSON *restored; /* resume: its entry in results.json */
} sb_run_dataset;

typedef struct sb_run_model {
    const sb_cfg_inst *cfg;
    sb_plugin plugin;
    sb_opts_owned opts;
    const sb_model_plugin *api;
    const sb_graph *graph;  /* NULL until loaded                 */
    int load_rc;
    sb_error err;
} sb_run_model;

typedef struct sb_run_backend {
    const sb_cfg_inst *cfg;
    sb_plugin plugin;
    sb_opts_owned opts;
    const sb_backend_plugin *api;
} sb_run_backend;

/* One reported figure: a value or null with a reason, and its provenance. */
typedef struct sb_fig {
    int has;              /* 0: value is null, note says why     */
    double value;
    const char *prov;     /* "measured", "simulated", "recorded" */
    const char *unit;
    char *note;           /* malloc'd                             */
} sb_fig;

enum {
    SB_FIG_ACCURACY,
    SB_FIG_BALANCED_ACCURACY,
    SB_FIG_LATENCY_MS_MEDIAN,
    SB_FIG_LATENCY_MS_P95,
    SB_FIG_THROUGHPUT_IPS,
    SB_FIG_ENERGY_MJ_PER_IMAGE,
    SB_FIG_POWER_MW_AVG,
    SB_FIG_COUNT
};
extern const char *const sb_fig_names[SB_FIG_COUNT];
extern const char *const sb_fig_units[SB_FIG_COUNT];

typedef struct sb_job {
    size_t ds, model, be;           /* indices into the run's arrays  */
    sb_job_status status;
    sb_error err;                   /* why it failed / is unavailable */
    char *report_json;              /* the backend's report, malloc'd */
    sb_sample *samples;             /* one per selected image         */
    size_t n;
    atomic_size_t n_done;
    atomic_size_t n_skipped;        /* unreadable images, not scored  */
    atomic_int img_failed;          /* first image error claims err   */
    uint64_t t0_ns, t1_ns;          /* wall time of the image phase   */
    sb_fig figs[SB_FIG_COUNT];      /* computed when the job ends     */
    /* images whose metrics did not fit the SB_MAX_METRICS slots, and the
     * most dropped for one (0: unknown, an ABI 1.0 plugin filled them) */
    atomic_size_t n_metrics_overflow;
    atomic_int metrics_dropped_max;
    char *warning;                  /* for results.json, or NULL      */
    /* every metric the backend reported, averaged over the images */
    const char **bm_names;
    sb_fig *bm;
    size_t n_bm;
    /* resume: the job's entry in the results.json being completed,
     * written back verbatim; such a job is not run again */
    struct cJSON *restored;
    /* measured latency (sb_timed.h): warm-up runs of the first image,
     * counted runs per image, and every counted latency, [image * repeats
     * + k], NaN where none was measured (one writer per image) */
    int warmup, repeats, n_warmed;
    double *timed_ns;
    /* live only while the job runs */
    void *be_handle, *prog;
    int size_px;
} sb_job;

typedef struct sb_run {
    const sb_config *cfg;
    char *out_dir;
    char started_utc[32];           /* ISO 8601                       */
    sb_run_dataset *datasets;
    sb_run_model *models;
    sb_run_backend *backends;
    sb_job *jobs;
    size_t n_jobs;
    int interrupted;
    struct cJSON *resumed_utc;      /* resume: when each resume began  */
    struct cJSON *inputs;           /* model/dataset file fingerprints */
} sb_run;

/* Fill job->figs and job->bm from the samples (loop thread, at job end,
 * while the backend's program still lives: notes are copied). */
void sb_job_compute(const sb_run *run, sb_job *job);
void sb_job_clear_figs(sb_job *job);
/* Resume: a job's figures back from its results.json "metrics" object. */
void sb_job_figs_from_json(sb_job *job, const struct cJSON *metrics);
/* The provenance word of a metric. */
const char *sb_prov_name(sb_provenance p);

#endif /* SB_RUN_H */
