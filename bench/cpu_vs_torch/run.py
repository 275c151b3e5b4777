#!/usr/bin/python3
"""bench/cpu_vs_torch: the same EfficientNet-B0 (torchvision's, random weights
from tools/export's seeded random_model, so the very network in the .sbm) at 224
and 64 pixels, side by side, through

  - our CPU backend (srambench-backend-cpu.so via cpu-bench), INT8 and fp32;
  - PyTorch 1.13 fp32 (eager, torch.no_grad);
  - PyTorch 1.13 int8: FX post-training quantization with the qnnpack and
    onednn engines, where it runs (SiLU/sigmoid stay float between quantized
    convs, as PyTorch 1.13 has no quantized SiLU);

with 1 and 2 threads, and prints times and ratios. This is a benchmark, not a
test: the machine is shared and noisy, so every configuration runs in each of
--rounds interleaved rounds and the best round's median is reported.

Thread semantics: our backend with T threads runs T images at once (one per
thread, as the srambench runner does); "ours int8 split" runs one image at a
time split over T threads (threads_per_image), like PyTorch, which splits
each image over T intra-op threads. Both are reported as per-image wall time
(latency median for 1 thread, 1/throughput for T threads).

Usage: ninja -C BUILD bench-cpu-vs-torch, or
       /usr/bin/python3 bench/cpu_vs_torch/run.py --build BUILD [--sizes 224,64]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="meson build folder (has cpu-bench and the plugin)")
    p.add_argument("--sizes", default="224,64")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--images", type=int, default=0, help="timed images per run (default: 20 at 224, 60 at 64)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--models", help="folder for the exported .sbm files (default BUILD/bench-models)")
    p.add_argument("--no-torch-int8", action="store_true")
    return p.parse_args(argv)


def export(size, folder):
    path = os.path.join(folder, "effnet_b0-%d.sbm" % size)
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        cmd = ["/usr/bin/python3", os.path.join(REPO, "tools", "export"), "--random-arch", "effnet_b0",
               "--size", str(size), "--seed", "0", "--calib", "8", "--calib-random", "-o", path]
        print("exporting:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return path


def ours(build, model, precision, threads, images, per_image=1):
    """threads: runner-style threads, one image each; per_image: threads
    splitting one image (the backend's threads_per_image)."""
    exe = os.path.join(build, "bench", "cpu_vs_torch", "cpu-bench")
    plugin = os.path.join(build, "backends", "cpu", "srambench-backend-cpu.so")
    out = subprocess.run([exe, plugin, model, "--precision", precision, "--threads", str(threads),
                          "--threads-per-image", str(per_image), "--images", str(images), "--warmup", "2"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    per_image_ms = r["median_ms"] if threads == 1 else 1e3 / r["images_per_s"]
    return per_image_ms, r["median_ms"], r["cpu_ms_per_image"]


def torch_model(size):
    """The very network tools/export quantised (same seed, same weights)."""
    sys.path.insert(0, os.path.join(REPO, "tools"))
    from sbtools import exporter
    return exporter.random_model("effnet_b0", seed=0, size=size).eval()


def torch_time(model, size, threads, images):
    import torch
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, size, size)
    times = []
    with torch.no_grad():
        for _ in range(2):
            model(x)
        t_all, c_all = time.perf_counter(), time.process_time()
        for _ in range(images):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
        t_all, c_all = time.perf_counter() - t_all, time.process_time() - c_all
    med = statistics.median(times) * 1e3
    return (med if threads == 1 else t_all / images * 1e3), med, c_all / images * 1e3


def torch_q_time(qm, engine, size, threads, images):
    import torch
    torch.backends.quantized.engine = engine
    return torch_time(qm, size, threads, images)


def torch_int8(size, engine):
    """FX post-training quantization of the same architecture, or the reason it
    does not run."""
    import copy
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    if engine not in torch.backends.quantized.supported_engines:
        return None, "engine %s not in this torch build" % engine
    torch.backends.quantized.engine = engine
    try:
        m = copy.deepcopy(torch_model(size))
        x = torch.rand(1, 3, size, size)
        prepared = prepare_fx(m, get_default_qconfig_mapping(engine), example_inputs=(x,))
        with torch.no_grad():
            for _ in range(4):
                prepared(torch.rand(1, 3, size, size))
        q = convert_fx(prepared)
        with torch.no_grad():
            q(x)
        return q, None
    except Exception as e:  # report, do not hide: the table says why
        return None, "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120])


def main(argv=None):
    a = parse_args(argv)
    build = os.path.abspath(a.build)
    folder = a.models or os.path.join(build, "bench-models")
    sizes = [int(s) for s in a.sizes.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    import torch
    print("PyTorch %s, engines %s; host: %d CPUs (%s)" % (
        torch.__version__, torch.backends.quantized.supported_engines, os.cpu_count(),
        open("/proc/loadavg").read().split()[0] + " load"))
    rows = []
    cpu_ms = {}
    for size in sizes:
        images = a.images or (20 if size >= 160 else 60)
        model_path = export(size, folder)
        tm = torch_model(size)
        tq = {}
        if not a.no_torch_int8:
            for engine in ("qnnpack", "onednn"):
                tq[engine] = torch_int8(size, engine)
        best = {}
        for rnd in range(a.rounds):
            for t in threads:
                configs = [("ours int8", lambda: ours(build, model_path, "int8", t, images)),
                           ("ours fp32", lambda: ours(build, model_path, "fp32", t, images)),
                           ("torch fp32", lambda: torch_time(tm, size, t, images))]
                if t > 1:  # like PyTorch's intra-op threads: one image split over t threads
                    configs.append(("ours int8 split", lambda: ours(build, model_path, "int8", 1, images, t)))
                for engine, (qm, why) in tq.items():
                    if qm is not None:
                        torch.backends.quantized.engine = engine
                        configs.append(("torch int8 " + engine,
                                        lambda qm=qm, engine=engine: torch_q_time(qm, engine, size, t, images)))
                for name, fn in configs:
                    per_image, med, cpu = fn()
                    key = (size, t, name)
                    if key not in best or per_image < best[key][0]:
                        best[key] = (per_image, med, cpu)
        for engine, (qm, why) in tq.items():
            if qm is None:
                rows.append((size, 0, "torch int8 " + engine, None, why))
        for (s, t, name), (per_image, med, cpu) in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            rows.append((s, t, name, per_image, "median latency %.1f ms, CPU time %.1f ms/image" % (med, cpu)))
            cpu_ms[(s, t, name)] = cpu
    print()
    print("%-5s %-3s %-20s %12s  %s" % ("size", "thr", "engine", "ms/image", "note"))
    for s, t, name, per_image, note in rows:
        print("%-5d %-3s %-20s %12s  %s" % (s, t or "-", name, "%.2f" % per_image if per_image else "n/a", note))
    print()
    print("ratios (per-image time of the other / ours int8; > 1 means ours int8 is faster):")
    table = {(s, t, n): v for s, t, n, v, _ in rows if v}
    for s in sizes:
        for t in threads:
            base = table.get((s, t, "ours int8"))
            if not base:
                continue
            parts = ["%s %.2f" % (n, table[(s, t, n)] / base) for (ss, tt, n) in sorted(table)
                     if ss == s and tt == t and n != "ours int8"]
            print("  %d px, %d thread(s): %s" % (s, t, ", ".join(parts)))
    print()
    print("ratios of CPU time per image (process CPU time; less sensitive to other load):")
    for s in sizes:
        for t in threads:
            base = cpu_ms.get((s, t, "ours int8"))
            if not base:
                continue
            parts = ["%s %.2f" % (n, cpu_ms[(s, t, n)] / base) for (ss, tt, n) in sorted(cpu_ms)
                     if ss == s and tt == t and n != "ours int8"]
            print("  %d px, %d thread(s): %s" % (s, t, ", ".join(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
