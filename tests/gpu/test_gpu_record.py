#!/usr/bin/env python3
"""bench/gpu_record.py: the recorded-result file a GPU check writes.

Fixture inputs shaped like gpu-run's and gpu_torch.py's JSON; checks the file
name, the provenance fields, the bit-exactness totals and the ratios, and
that a missing PyTorch side is recorded as null rather than dropped.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "bench", "gpu_record.py")


def ours(differ=0):
    run = lambda b, lat, thr, e: {"batch": b, "iterations": 50, "images_checked": 8, "images_differ": differ,
                                  "latency_batch_ns": {"min": lat * b, "median": lat * b, "mean": lat * b},
                                  "latency_per_image_ns": lat, "throughput_img_per_s": thr,
                                  "energy_source": "nvml energy counter", "energy_per_image_mj": e,
                                  "energy_above_idle_per_image_mj": e / 2, "idle_power_mw": 70000.0,
                                  "backend_report": {"gpu": "NVIDIA H200", "driver": "580.1 (CUDA 13.0)",
                                                     "compute_capability": "9.0"}}
    return {"tool": "gpu-run", "date": "2026-11-29T10:02:11Z", "model_name": "effnet-b0-224",
            "cpu_reference_ms_per_image": 120.0, "runs": [run(1, 4.0e6, 250.0, 100.0), run(256, 1.0e5, 10000.0, 5.0)]}


def torch():
    return {"tool": "bench/gpu_torch.py", "torch": "2.11.0", "runs": [
        {"batch": 1, "precision": "fp16", "latency_per_image_ns": 2.0e6, "throughput_img_per_s": 500.0,
         "energy_per_image_mj": 50.0, "energy_source": "nvml energy counter"},
        {"batch": 256, "precision": "fp16", "latency_per_image_ns": 2.0e4, "throughput_img_per_s": 50000.0,
         "energy_source": "unavailable"}]}


class GpuRecord(unittest.TestCase):
    def run_tool(self, ours_doc, torch_doc, fp32_doc=None):
        d = tempfile.mkdtemp()
        paths = {k: os.path.join(d, k + ".json") for k in ("ours", "torch", "fp32")}
        json.dump(ours_doc, open(paths["ours"], "w"))
        if torch_doc is not None:
            json.dump(torch_doc, open(paths["torch"], "w"))
        if fp32_doc is not None:
            json.dump(fp32_doc, open(paths["fp32"], "w"))
        packed = os.path.join(d, "PACKED")
        open(packed, "w").write("commit=abc123\npacked=2026-11-29T09:00:00Z\nmodel=m.sbm\n")
        out = os.path.join(d, "out")
        p = subprocess.run([sys.executable, TOOL, "--int8", paths["ours"], "--fp32", paths["fp32"],
                            "--torch", paths["torch"], "--packed", packed, "--command", "cmd", "--out", out],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = os.listdir(out)
        self.assertEqual(files, ["2026-11-29-nvidia-h200.json"])
        return json.load(open(os.path.join(out, files[0]))), p.stdout

    def test_record_fields_and_ratios(self):
        rec, stdout = self.run_tool(ours(), torch())
        self.assertEqual((rec["format"], rec["format_version"]), ("srambench-recorded-gpu", 1))
        self.assertEqual((rec["gpu"], rec["driver"], rec["date"]), ("NVIDIA H200", "580.1 (CUDA 13.0)",
                                                                     "2026-11-29T10:02:11Z"))
        self.assertEqual((rec["command"], rec["srambench_commit"]), ("cmd", "abc123"))
        self.assertEqual(rec["bit_exact"]["images"], 16)
        self.assertEqual(rec["bit_exact"]["images_differ"], 0)
        self.assertIsNone(rec["srambench_gpu_fp32"])
        r1, r256 = rec["ratios"]
        self.assertAlmostEqual(r1["latency_per_image_srambench_over_pytorch"], 2.0)
        self.assertAlmostEqual(r1["throughput_srambench_over_pytorch"], 0.5)
        self.assertAlmostEqual(r1["energy_per_image_srambench_over_pytorch"], 2.0)
        self.assertAlmostEqual(r256["latency_per_image_srambench_over_pytorch"], 5.0)
        self.assertNotIn("energy_per_image_srambench_over_pytorch", r256)  # PyTorch energy unavailable
        self.assertIn("energy per image unavailable", stdout)

    def test_fp32_against_pytorch_fp32_only(self):
        torch_doc = torch()
        torch_doc["runs"].append(dict(torch_doc["runs"][0], precision="fp32", latency_per_image_ns=8.0e6))
        rec, _ = self.run_tool(ours(), torch_doc, fp32_doc=ours())
        fp = [q for q in rec["ratios"] if q["srambench_precision"] == "fp32"]
        self.assertEqual(len(fp), 1)   # fp32 vs PyTorch fp32 at batch 1 only
        self.assertEqual(fp[0]["pytorch_precision"], "fp32")
        self.assertAlmostEqual(fp[0]["latency_per_image_srambench_over_pytorch"], 0.5)
        self.assertEqual(rec["fp32_logits_within_one_int8_step"]["images"], 16)

    def test_without_pytorch(self):
        rec, _ = self.run_tool(ours(differ=1), None)
        self.assertIsNone(rec["pytorch"])
        self.assertEqual(rec["ratios"], [])
        self.assertEqual(rec["bit_exact"]["images_differ"], 2)


if __name__ == "__main__":
    unittest.main()
