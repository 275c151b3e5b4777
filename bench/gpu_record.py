#!/usr/bin/env python3
"""Merge one GPU check into a recorded result (results/reference/README.md).

    gpu_record.py --int8 J [--fp32 J] [--torch J] --packed PACKED --command CMD --out DIR

--int8 / --fp32 are gpu-run's --json outputs for the backend's two paths;
--torch is bench/gpu_torch.py's. A missing --fp32 or --torch file is recorded
as null. PACKED is the pack's provenance file (commit, date, model). Writes
DIR/<date>-<gpu>.json and prints the side-by-side ratios (srambench over
PyTorch, per batch and precision).
"""
import argparse
import json
import os
import re
import socket
import sys

FORMAT, FORMAT_VERSION = "srambench-recorded-gpu", 1


def ratios(ours, torch, precision):
    """srambench's `precision` path over PyTorch: INT8 against every PyTorch
    precision, fp32 against PyTorch fp32."""
    out = []
    for r in (ours or {}).get("runs", []):
        for t in (torch or {}).get("runs", []):
            if t["batch"] != r["batch"] or (precision == "fp32" and t["precision"] != "fp32"):
                continue
            q = {"batch": r["batch"], "srambench_precision": precision, "pytorch_precision": t["precision"],
                 "latency_per_image_srambench_over_pytorch": r["latency_per_image_ns"] / t["latency_per_image_ns"],
                 "throughput_srambench_over_pytorch": r["throughput_img_per_s"] / t["throughput_img_per_s"]}
            if r.get("energy_source") != "unavailable" and t.get("energy_per_image_mj"):
                q["energy_per_image_srambench_over_pytorch"] = r["energy_per_image_mj"] / t["energy_per_image_mj"]
            out.append(q)
    return out


def record(ours, ours_fp32, torch, packed, command):
    rep = ours["runs"][0].get("backend_report") or {}
    gpu = rep.get("gpu") or "unknown GPU"
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "date": ours["date"], "gpu": gpu, "driver": rep.get("driver"),
        "compute_capability": rep.get("compute_capability"),
        "command": command, "host": socket.gethostname(),
        "srambench_commit": packed.get("commit"), "packed": packed.get("packed"),
        "model_name": ours["model_name"], "model_source": packed.get("model"),
        "bit_exact": {"images": sum(r["images_checked"] for r in ours["runs"]),
                      "images_differ": sum(r["images_differ"] for r in ours["runs"]),
                      "batches": [r["batch"] for r in ours["runs"]],
                      "reference": "sb_graph_run_int8 (CPU kernels), same deterministic random images"},
        "cpu_reference_ms_per_image": ours.get("cpu_reference_ms_per_image"),
        "srambench_gpu_int8": ours["runs"],
        "srambench_gpu_fp32": ours_fp32["runs"] if ours_fp32 else None,
        "fp32_logits_within_one_int8_step": {
            "images": sum(r["images_checked"] for r in ours_fp32["runs"]),
            "images_differ": sum(r["images_differ"] for r in ours_fp32["runs"]),
            "reference": "sb_graph_run_f32 (CPU), logits quantised to int8"} if ours_fp32 else None,
        "pytorch": torch,
        "ratios": ratios(ours, torch, "int8") + ratios(ours_fp32, torch, "fp32"),
    }


def load(path):
    return json.load(open(path)) if path and os.path.exists(path) else None


def main(argv):
    ap = argparse.ArgumentParser(description="merge one GPU check into a recorded result")
    ap.add_argument("--int8", required=True)
    ap.add_argument("--fp32")
    ap.add_argument("--torch")
    ap.add_argument("--packed", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv[1:])
    packed = dict(l.strip().split("=", 1) for l in open(a.packed) if "=" in l)
    rec = record(load(a.int8), load(a.fp32), load(a.torch), packed, a.command)
    for q in rec["ratios"]:
        print("batch %4d, srambench %s / PyTorch %s: latency per image x%.2f, throughput x%.2f, "
              "energy per image %s" % (q["batch"], q["srambench_precision"], q["pytorch_precision"],
                                       q["latency_per_image_srambench_over_pytorch"],
                                       q["throughput_srambench_over_pytorch"],
                                       "x%.2f" % q["energy_per_image_srambench_over_pytorch"]
                                       if "energy_per_image_srambench_over_pytorch" in q else "unavailable"))
    slug = re.sub(r"[^a-z0-9]+", "-", rec["gpu"].lower()).strip("-")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "%s-%s.json" % (rec["date"][:10], slug))
    with open(path, "w") as f:
        json.dump(rec, f, indent=1)
        f.write("\n")
    print("gpu_check: recorded", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
