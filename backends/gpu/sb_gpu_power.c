/*
 * sb_gpu_power.c - GPU board power and energy from NVML.
 *
 * Two readings: nvmlDeviceGetTotalEnergyConsumption (a millijoule counter
 * since the driver loaded; Volta and later) when the board supports it, and
 * nvmlDeviceGetPowerUsage samples (mW) taken by a thread and integrated over
 * time. Both are reported; the counter is preferred because it does not
 * depend on the sampling period.
 */
#include <errno.h>
#include <time.h>

#include "sb_gpu_internal.h"

double sb_gpu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int sb_gpu_power_mw(sb_gpu_backend *be, double *mw) {
    unsigned v = 0;
    if (!be->have_nvml || be->nv.DeviceGetPowerUsage(be->nvdev, &v) != 0) return SB_EUNAVAILABLE;
    *mw = (double)v;
    return 0;
}

static int sb_gpu_counter_mj(sb_gpu_backend *be, unsigned long long *mj) {
    if (!be->have_nvml || !be->energy_counter_ok) return SB_EUNAVAILABLE;
    return be->nv.DeviceGetTotalEnergyConsumption(be->nvdev, mj) == 0 ? 0 : SB_EUNAVAILABLE;
}

static void sb_gpu_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* A measurement window, not synchronisation: the GPU is left idle for it. */
int sb_gpu_idle_power_mw(sb_gpu_backend *be, int idle_ms, double *mw) {
    unsigned long long c0, c1;
    double t0 = sb_gpu_now_ns(), sum = 0, p;
    int n = 0;
    if (!be->have_nvml) return SB_EUNAVAILABLE;
    int counter = sb_gpu_counter_mj(be, &c0) == 0;
    for (int waited = 0; waited < idle_ms; waited += 20) {
        sb_gpu_sleep_ms(20);
        if (sb_gpu_power_mw(be, &p) == 0) { sum += p; n++; }
    }
    double dt_s = (sb_gpu_now_ns() - t0) * 1e-9;
    if (counter && sb_gpu_counter_mj(be, &c1) == 0 && c1 > c0 && dt_s > 0) {
        *mw = (double)(c1 - c0) / dt_s;   /* mJ / s = mW */
        return 0;
    }
    if (n == 0) return SB_EUNAVAILABLE;
    *mw = sum / n;
    return 0;
}

static void sb_gpu_sample(sb_gpu_sampler *s) {
    double p, t = sb_gpu_now_ns();
    if (sb_gpu_power_mw(s->be, &p)) return;
    if (s->n_samples > 0) s->energy_mj += 0.5 * (p + s->last_mw) * (t - s->last_ns) * 1e-9; /* mW * ns = 1e-9 mJ */
    s->last_mw = p;
    s->last_ns = t;
    s->n_samples++;
}

/* The first and last samples are taken by start() and stop() themselves,
 * next to the counter reads, so the integral covers the counter's window
 * however late the thread is scheduled. */
static void *sb_gpu_sampler_main(void *arg) {
    sb_gpu_sampler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)s->period_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->cond, &s->lock, &until);
        if (!s->stop) sb_gpu_sample(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int sb_gpu_sampler_start(sb_gpu_sampler *s, sb_gpu_backend *be, int period_ms) {
    *s = (sb_gpu_sampler){0};
    s->be = be;
    s->period_ms = period_ms;
    s->counter_ok = sb_gpu_counter_mj(be, &s->counter0_mj) == 0;
    s->t0_ns = sb_gpu_now_ns();
    sb_gpu_sample(s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, sb_gpu_sampler_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        return SB_ENOMEM;
    }
    return 0;
}

void sb_gpu_sampler_stop(sb_gpu_sampler *s) {
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    sb_gpu_sample(s);
    if (s->counter_ok) s->counter_ok = sb_gpu_counter_mj(s->be, &s->counter1_mj) == 0;
    s->t1_ns = sb_gpu_now_ns();
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}
