#!/usr/bin/env python3
"""PyTorch side of bench/gpu_check.sh: EfficientNet-B0 at 224 on the same GPU.

torchvision's efficientnet_b0 (random weights, 7 classes: the architecture the
.sbm models are exported from), eval mode, channels_last, cuDNN autotuned, in
fp32 and fp16 (PyTorch has no INT8 convolution on CUDA). Per batch size:
latency of one batch by CUDA events (median of --iters after warm-up), then
batches back to back for --seconds with the NVML energy counter (or power
samples) read around them; idle power measured first, with nothing running.

Writes JSON (--json) with the same field names as gpu-run's runs.
"""
import argparse
import json
import statistics
import sys
import threading
import time


def nvml_open():
    """(handle, module) of GPU 0 via pynvml, or (None, reason)."""
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetHandleByIndex(0), pynvml
    except Exception as e:  # no pynvml, no NVML: energy unavailable
        return None, "NVML unavailable: %s" % e


class Energy:
    """Energy over a window: NVML counter if supported, and power samples."""

    def __init__(self, handle, nv, period_s=0.01):
        self.h, self.nv, self.period = handle, nv, period_s
        self.samples = []
        self.stop = threading.Event()

    def counter_mj(self):
        try:
            return float(self.nv.nvmlDeviceGetTotalEnergyConsumption(self.h))
        except Exception:
            return None

    def _loop(self):
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), self.nv.nvmlDeviceGetPowerUsage(self.h)))
            self.stop.wait(self.period)
        self.samples.append((time.monotonic(), self.nv.nvmlDeviceGetPowerUsage(self.h)))

    def __enter__(self):
        self.c0 = self.counter_mj()
        self.t = threading.Thread(target=self._loop)
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()
        self.c1 = self.counter_mj()
        s = self.samples
        self.power_mj = sum(0.5 * (a[1] + b[1]) * (b[0] - a[0]) for a, b in zip(s, s[1:]))  # mW*s = mJ
        self.counter_ok = self.c0 is not None and self.c1 is not None
        self.energy_mj = self.c1 - self.c0 if self.counter_ok else self.power_mj
        self.source = "nvml energy counter" if self.counter_ok else "nvml power samples"


def idle_power_mw(handle, nv, seconds):
    with Energy(handle, nv) as e:
        time.sleep(seconds)  # a measurement window with the GPU left idle
    dt = e.samples[-1][0] - e.samples[0][0]
    return e.energy_mj / dt if dt > 0 else None


def bench(model, torch, batch, dtype, iters, seconds, handle, nv, idle_mw):
    x = torch.randint(0, 256, (batch, 3, 224, 224), device="cuda").to(dtype).div_(255)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(10):
            model(x)
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            model(x)
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) * 1e6)  # ms -> ns
        n = 0
        ctx = Energy(handle, nv) if handle is not None else None
        if ctx:
            ctx.__enter__()
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            for _ in range(8):
                model(x)
            n += 8
            torch.cuda.synchronize()
        wall = time.monotonic() - t0
        if ctx:
            ctx.__exit__(None, None, None)
    images = n * batch
    r = {"batch": batch, "precision": "fp16" if dtype == torch.float16 else "fp32", "iterations": iters,
         "latency_batch_ns": {"min": min(times), "median": statistics.median(times),
                              "mean": statistics.fmean(times)},
         "latency_per_image_ns": statistics.median(times) / batch,
         "throughput_img_per_s": images / wall, "energy_wall_ns": wall * 1e9,
         "idle_power_mw": idle_mw}
    if ctx:
        r.update({"energy_source": ctx.source, "energy_per_image_mj": ctx.energy_mj / images,
                  "energy_above_idle_per_image_mj":
                      (ctx.energy_mj - idle_mw * wall) / images if idle_mw is not None else None,
                  "mean_power_mw": ctx.energy_mj / wall, "power_samples": len(ctx.samples)})
    else:
        r.update({"energy_source": "unavailable", "energy_note": nv})
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", default="1,256")
    ap.add_argument("--precision", default="fp32,fp16")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--idle-s", type=float, default=1.0)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    import torch
    import torchvision
    if not torch.cuda.is_available():
        print("gpu_torch: no CUDA device visible to PyTorch", file=sys.stderr)
        return 3
    handle, nv = nvml_open()
    idle = idle_power_mw(handle, nv, a.idle_s) if handle is not None else None
    torch.backends.cudnn.benchmark = True
    runs = []
    for prec in a.precision.split(","):
        dtype = {"fp32": torch.float32, "fp16": torch.float16}[prec]
        model = torchvision.models.efficientnet_b0(weights=None, num_classes=7).eval().cuda()
        model = model.to(dtype=dtype, memory_format=torch.channels_last)
        for b in (int(s) for s in a.batch.split(",")):
            r = bench(model, torch, b, dtype, a.iters, a.seconds, handle, nv, idle)
            runs.append(r)
            print("pytorch %s batch %4d: latency/batch median %.3f ms, per image %.1f us, %.0f img/s, "
                  "energy/image %s mJ" % (prec, b, r["latency_batch_ns"]["median"] * 1e-6,
                                          r["latency_per_image_ns"] * 1e-3, r["throughput_img_per_s"],
                                          "%.3f" % r["energy_per_image_mj"] if "energy_per_image_mj" in r
                                          else "unavailable"), flush=True)
    out = {"tool": "bench/gpu_torch.py", "torch": torch.__version__, "torchvision": torchvision.__version__,
           "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "gpu": torch.cuda.get_device_name(0),
           "model": "torchvision efficientnet_b0(weights=None, num_classes=7), 224x224, channels_last, "
                    "cudnn.benchmark",
           "idle_power_mw": idle, "runs": runs}
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
