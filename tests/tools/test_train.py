"""Tests of the training side: sbtools.data (cache + manifest reader), sbtools.models
(architectures and cost counting) and a one-epoch smoke run of tools/train on a tiny synthetic
cache that the test writes itself (never HAM10000: no training in CI)."""

import json
import re
import math
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import torch
except ImportError as e:  # meson: exit code 77 = skipped
    print("skip: Debian's python3-torch / python3-numpy are needed (%s)" % e)
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from sbtools import data, models  # noqa: E402
from train import smoke  # noqa: E402

torch.set_num_threads(1)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, blob):
    with open(path, "wb") as f:
        f.write(blob)


def read_text(path):
    with open(path) as f:
        return f.read()


def synthetic(tmp, n=42, size_px=32, seed=1, by_lesion=False):
    """tools/train/smoke.py's synthetic cache (classes differ in mean colour), named syn.*"""
    return smoke.synthetic(tmp, n, size_px, seed, by_lesion, name="syn")


class DataTest(unittest.TestCase):
    def test_round_trip_and_splits(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, pixels = synthetic(tmp)
            px, splits = data.load_splits(cache, manifest)
            self.assertTrue(np.array_equal(np.asarray(px), pixels))
            self.assertEqual([len(splits[s][0]) for s in data.SPLITS], [28, 7, 7])
            self.assertTrue(np.array_equal(splits["val"][1], splits["val"][0] % 7))

    def test_manifest_with_byte_order_mark(self):
        # once "header ['\\ufeffindex', ...], expected columns ..." for a spreadsheet-saved manifest
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp)
            write_bytes(manifest, b"\xef\xbb\xbf" + read_bytes(manifest))
            _, splits = data.load_splits(cache, manifest)
            self.assertEqual([len(splits[s][0]) for s in data.SPLITS], [28, 7, 7])

    def test_corrupt_pixel_is_caught_by_crc(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp)
            with open(cache, "r+b") as f:
                f.seek(-1, 2)
                last = f.read(1)
                f.seek(-1, 2)
                f.write(bytes([last[0] ^ 1]))
            with self.assertRaisesRegex(data.CacheError, "crc32"):
                data.read_cache(cache)

    def test_truncated_and_wrong_magic(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, _, _ = synthetic(tmp)
            blob = read_bytes(cache)
            write_bytes(cache, blob[:-10])
            with self.assertRaisesRegex(data.CacheError, "expected at least"):
                data.read_cache(cache)
            write_bytes(cache, b"X" + blob[1:])
            with self.assertRaisesRegex(data.CacheError, "magic"):
                data.read_cache(cache)

    def test_manifest_disagreeing_with_cache(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp)
            text = read_text(manifest).replace("3,ISIC_0000003,HAM_0000001,3,",
                                                 "3,ISIC_0000003,HAM_0000001,4,")
            write_bytes(manifest, text.encode())
            with self.assertRaisesRegex(data.CacheError, "ISIC_0000003 has label 4"):
                data.load_splits(cache, manifest)

    def test_lesion_split_must_be_lesion_disjoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp, by_lesion=True)
            _, splits = data.load_splits(cache, manifest, split="lesion")
            self.assertEqual(sum(len(splits[s][0]) for s in data.SPLITS), 42)
            # Move image 9 away from its lesion-mate 8 (HAM_0000004, val).
            text = read_text(manifest).replace("9,ISIC_0000009,HAM_0000004,2,val",
                                               "9,ISIC_0000009,HAM_0000004,2,test")
            write_bytes(manifest, text.encode())
            with self.assertRaisesRegex(data.CacheError, "HAM_0000004 is in val"):
                data.load_splits(cache, manifest, split="lesion")
            data.load_splits(cache, manifest, split="dermamnist")


class ModelsTest(unittest.TestCase):
    def test_b0_is_torchvision_b0(self):
        import torchvision
        ours = models.build("effnet_b0")
        ref = torchvision.models.efficientnet_b0(num_classes=7)
        self.assertEqual(models.count_params(ours), models.count_params(ref))
        shapes = sorted(tuple(p.shape) for p in ours.parameters())
        self.assertEqual(shapes, sorted(tuple(p.shape) for p in ref.parameters()))

    def test_b0_macs_match_the_published_figure(self):
        # Tan & Le 2019 give 0.39 B FLOPs (multiply-adds) for B0 at 224 with 1000 classes;
        # with 7 classes the classifier holds 1280 * 993 fewer.
        cost = models.count_cost(models.build("effnet_b0"), 224)
        self.assertTrue(380e6 < cost["macs"] + 1280 * 993 < 392e6, cost)
        self.assertEqual(cost["params"], 4016515)

    def test_macs_scale_with_resolution_and_width(self):
        small = models.build("effnet", width=0.5, depth=0.5, head_channels=256, max_stages=5)
        c32, c64 = models.count_cost(small, 32), models.count_cost(small, 64)
        self.assertGreater(c64["macs"], 3.5 * c32["macs"])
        self.assertLess(c64["int8_weight_bytes"], 200000)
        self.assertEqual(c32["int8_weight_bytes"], c64["int8_weight_bytes"])

    def test_unknown_arch(self):
        with self.assertRaisesRegex(ValueError, "unknown architecture"):
            models.build("resnet")


def pickle_globals(path):
    """The classes and functions a torch.save file's pickle names ("module.name"), read from
    its opcodes without unpickling anything (PyTorch 1.13's weights_only unpickler cannot even
    read a float, so it cannot stand in for PyTorch 2.6+'s)."""
    import pickletools
    import zipfile
    with zipfile.ZipFile(path) as z:
        blob = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(blob):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.add("%s.%s" % tuple(strings[-2:]))
        elif isinstance(arg, str):
            strings.append(arg)
    return names


# What torch.load(weights_only=True), PyTorch 2.6+'s default, accepts in a checkpoint of ours
# without add_safe_globals: containers, str/int/float/bool/None, and tensors. A numpy array or
# scalar, an argparse.Namespace or torch.__version__ (a TorchVersion) in it would be refused.
WEIGHTS_ONLY_GLOBALS = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2"}


def assert_weights_only_loadable(test, path):
    extra = {n for n in pickle_globals(path) - WEIGHTS_ONLY_GLOBALS
             if not (n.startswith("torch.") and n.endswith("Storage") and n.count(".") == 1)}
    test.assertEqual(extra, set(), "%s names classes that torch.load(weights_only=True) "
                     "refuses: %s" % (path, sorted(extra)))


def train_one_epoch(cache, manifest, run, *options):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train"), "--cache", cache,
           "--manifest", manifest, "--epochs", "1", "--batch", "8", "--limit", "24",
           "--threads", "1", "--out-dir", run, "--arch-kwargs",
           json.dumps({"width": 0.25, "depth": 0.25, "head_channels": 32, "max_stages": 3})]
    return subprocess.run(cmd + list(options), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)


class TrainSmokeTest(unittest.TestCase):
    def test_one_epoch(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp)
            run = os.path.join(tmp, "run")
            res = train_one_epoch(cache, manifest, run)
            self.assertEqual(res.returncode, 0, res.stdout)
            ckpt = models.load_checkpoint(os.path.join(run, "checkpoint.pt"))
            self.assertEqual(ckpt["recipe"]["precision"], "fp32")  # auto, on the CPU
            assert_weights_only_loadable(self, os.path.join(run, "checkpoint.pt"))
            for key in ("arch", "arch_kwargs", "state_dict", "input_size", "classes",
                        "normalize", "recipe", "metrics"):
                self.assertIn(key, ckpt)
            self.assertEqual(ckpt["input_size"], 32)
            self.assertEqual(ckpt["classes"], data.CLASSES)
            net = models.build(ckpt["arch"], **ckpt["arch_kwargs"])
            net.load_state_dict(ckpt["state_dict"])
            net.eval()
            out = net(torch.zeros(2, 3, 32, 32))
            self.assertEqual(tuple(out.shape), (2, 7))
            metrics = json.loads(read_text(os.path.join(run, "metrics.json")))
            self.assertEqual(len(metrics["history"]), 1)
            self.assertTrue(math.isfinite(metrics["history"][0]["loss"]))
            # test is scored only when asked (docs/training.md, the selection rule)
            self.assertNotIn("test", metrics)
            self.assertNotIn("test acc", read_text(os.path.join(run, "log.txt")))
            self.check_adjust(run, cache, manifest, ckpt)

    def test_bf16_steps(self):
        """The bf16 autocast path that --device cuda takes by default, run on the CPU: the
        steps run, the loss stays finite, the weights saved are float32, the recipe says bf16."""
        with tempfile.TemporaryDirectory() as tmp:
            cache, manifest, _ = synthetic(tmp)
            run = os.path.join(tmp, "run")
            res = train_one_epoch(cache, manifest, run, "--precision", "bf16", "--test")
            self.assertEqual(res.returncode, 0, res.stdout)
            self.assertEqual(json.loads(read_text(os.path.join(run, "metrics.json")))["test"]["n"], 7)
            ckpt = models.load_checkpoint(os.path.join(run, "checkpoint.pt"))
            self.assertEqual(ckpt["recipe"]["precision"], "bf16")
            self.assertTrue(all(v.dtype in (torch.float32, torch.int64)
                                for v in ckpt["state_dict"].values()))
            loss = json.loads(read_text(os.path.join(run, "metrics.json")))["history"][0]["loss"]
            self.assertTrue(math.isfinite(loss))

    def check_adjust(self, run, cache, manifest, ckpt):
        """adjust.py: only the classifier bias moves, by tau x log(prior); --min-bal
        that no tau reaches keeps the best overall and says so."""
        for floor, said in (("0", "taus with val balanced accuracy >= 0.0000 only"),
                            ("1.01", "no tau reaches val balanced accuracy 1.0100: the tau with the "
                                     "best val balanced accuracy is kept")):
            out = os.path.join(run, "adjusted-%s.pt" % floor)
            res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train", "adjust.py"),
                                  "--checkpoint", os.path.join(run, "checkpoint.pt"), "--cache", cache,
                                  "--manifest", manifest, "--out", out, "--min-bal", floor],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout)
            self.assertIn(said, res.stdout)
            if floor == "1.01":  # the closest to the floor: the best balanced accuracy scanned
                bals = [float(x) for x in re.findall(r"^tau +\S+ val acc \S+ bal (\S+)", res.stdout, re.M)]
                chosen = float(re.search(r"chosen tau .*val acc \S+ bal (\S+)", res.stdout).group(1))
                self.assertEqual(chosen, max(bals), res.stdout)
            adj = models.load_checkpoint(out)
            assert_weights_only_loadable(self, out)
            la = adj["recipe"]["logit_adjust"]
            self.assertEqual(la["min_bal"], float(floor))
            for k, v in ckpt["state_dict"].items():
                if k != "classifier.bias":
                    self.assertTrue(torch.equal(v, adj["state_dict"][k]), k)
            delta = adj["state_dict"]["classifier.bias"] - ckpt["state_dict"]["classifier.bias"]
            want = torch.tensor([la["tau"] * x for x in la["log_prior"]], dtype=torch.float32)
            self.assertTrue(torch.allclose(delta, want, atol=1e-5), (delta, want))

    def test_smoke_script(self):
        """tools/train/smoke.py, which bench/gpu_train.sh runs first on the GPU, passes here."""
        res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train", "smoke.py")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=300)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertIn("smoke: ok on cpu", res.stdout)

    def test_bad_cache_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.sbc")
            write_bytes(bad, b"nonsense")
            res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train"),
                                  "--cache", bad, "--manifest", bad, "--out-dir", tmp],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True, timeout=120)
            self.assertEqual(res.returncode, 2)
            self.assertIn("bad.sbc", res.stdout)


if __name__ == "__main__":
    unittest.main()
