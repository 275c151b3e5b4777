"""Quantisation-aware fine-tuning (tools/train/qat.py, tools/sbtools/qat.py), on a tiny network
trained for one epoch on a synthetic cache (never HAM10000: no training in CI):
- with no fine-tuning, qat.py writes exactly the file tools/export writes (same calibration);
- each fake-quantised op, fed the independent numpy reference's own int8 inputs, gives its
  output within one step, and the whole fake-quantised network tracks the reference's logits far
  closer than the float graph does;
- every weight and bias gets a gradient through the rounding (straight-through);
- the command runs an epoch, records what it did, keeps the best epoch so far when it is
  interrupted, and refuses a cache of the wrong size."""

import json
import os
import signal
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

from test_train import ROOT, read_text, synthetic, train_one_epoch  # noqa: E402
import sbtest  # noqa: E402
from sbtools import data, exporter, models, qat  # noqa: E402

torch.set_num_threads(1)
QAT = os.path.join(ROOT, "tools", "train", "qat.py")
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")  # calibration's floats depend on it


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, env=ONE_THREAD)


def run_qat(ckpt, cache, manifest, tmp, out, *options):
    return run([sys.executable, QAT, "--checkpoint", ckpt, "--cache", cache, "--manifest",
                manifest, "--out-dir", os.path.join(tmp, "qat"), "-o", out, "--batch", "8",
                "--threads", "1", "--calib", "16"] + list(options))


class QatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory()
        cls.tmp = cls.tmpdir.name
        cls.cache, cls.manifest, _ = synthetic(cls.tmp)
        res = train_one_epoch(cls.cache, cls.manifest, os.path.join(cls.tmp, "run"))
        assert res.returncode == 0, res.stdout
        cls.ckpt = os.path.join(cls.tmp, "run", "checkpoint.pt")

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def qat_graph(self):
        """The checkpoint's QatGraph, calibrated as tools/export calibrates."""
        ck = models.load_checkpoint(self.ckpt)
        model = models.build(ck["arch"], **ck["arch_kwargs"])
        model.load_state_dict(ck["state_dict"])
        g, _ = exporter.prepare_graph(model, ck["normalize"])
        pixels, splits = data.load_splits(self.cache, self.manifest)
        idx = splits["train"][0][:16]
        cal, _ = exporter.calibrate(g, [np.asarray(pixels[idx])], "percentile", 99.99)
        return qat.QatGraph(g, {op.output: cal.range(op.output) for op in g.ops}), ck, pixels

    def test_no_fine_tune_writes_the_exporters_file(self):
        ours, theirs = os.path.join(self.tmp, "qat0.sbm"), os.path.join(self.tmp, "ptq.sbm")
        res = run_qat(self.ckpt, self.cache, self.manifest, self.tmp, ours, "--epochs", "0")
        self.assertEqual(res.returncode, 0, res.stdout)
        res = run([sys.executable, os.path.join(ROOT, "tools", "export"), "--checkpoint", self.ckpt,
                   "-o", theirs, "--calib-data", self.cache, "--calib-manifest", self.manifest,
                   "--calib-method", "percentile", "--calib", "16"])
        self.assertEqual(res.returncode, 0, res.stdout)
        a, b = sbtest.sbm.read(ours), sbtest.sbm.read(theirs)
        self.assertEqual(a.ops, b.ops)
        strip = [[{k: v for k, v in t.items() if k != "offset"} for t in m.tensors] for m in (a, b)]
        self.assertEqual(strip[0], strip[1])
        self.assertEqual(sorted(a.arrays), sorted(b.arrays))
        for k in a.arrays:
            self.assertTrue(np.array_equal(a.arrays[k], b.arrays[k]), k)
        self.assertEqual(a.header["provenance"]["recipe"]["qat"]["epoch"], 0)

    def moved_and_written(self):
        """A QatGraph moved off its calibrated point (as fine-tuning does), and its file."""
        net, ck, pixels = self.qat_graph()
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        x = torch.from_numpy(np.array(pixels[:8])).permute(0, 3, 1, 2).float() / 255
        net(x).logsumexp(1).mean().backward()
        opt.step()
        path = os.path.join(self.tmp, "moved.sbm")
        exporter.write_graph(net.graph(), net.fixed_ranges(), path, 32, ck["classes"],
                             dict(ck["normalize"], applied="test"), {"method": "test"})
        return net, sbtest.sbm.read(path), np.asarray(pixels[:8]), x

    def test_each_op_rounds_as_the_file(self):
        """Fed the numpy reference's own int8 inputs, every fake-quantised op gives the
        reference's int8 output within one step (fixed-point requantisation is not simulated)."""
        net, model, pixels, _ = self.moved_and_written()
        index = {t["name"]: i for i, t in enumerate(model.tensors)}
        ops = differ = 0
        for px in pixels[:2]:
            q_in = px.astype(np.int16) - 128
            _, acts = sbtest.run_model(model, q_in, check=False)
            acts[model.input] = q_in

            def real(t):  # the reference's tensor t, dequantised, NCHW
                ft = model.tensors[model.input if t == 0 else index[net.g.tensor_names[t]]]
                a = acts[model.input if t == 0 else index[net.g.tensor_names[t]]]
                a = (a.reshape(ft["shape"]).astype(np.float64) - ft["zero_point"]) * ft["scale"]
                return torch.from_numpy(a.transpose(0, 3, 1, 2) if a.ndim == 4 else a).float()

            with torch.no_grad():
                for i, op in enumerate(net.g.ops):
                    s, z = net.qp[op.output]
                    y = net.op_output(i, [real(t) for t in op.inputs])
                    q = torch.round(y / s + z).numpy().astype(np.int64)
                    q = q.transpose(0, 2, 3, 1) if q.ndim == 4 else q
                    ref = acts[index[net.g.tensor_names[op.output]]].reshape(q.shape)
                    d = np.abs(q - ref)
                    self.assertLessEqual(d.max(), 1, "%s (%s)" % (op.name, op.type))
                    ops, differ = ops + d.size, differ + int((d > 0).sum())
        # Measured: 0.14% of the outputs one step apart; without the weights' rounding 2.1%
        # (and without the activations' rounding, 2 steps apart somewhere).
        self.assertLess(differ / ops, 0.005, (differ, ops))

    def test_fake_quant_tracks_the_int8_file(self):
        """Whole network: the fake-quantised logits stay close to the reference's (one-step
        differences grow with depth), far closer than the float graph's."""
        net, model, pixels, x = self.moved_and_written()
        out_t = model.tensors[model.output]
        with torch.no_grad():
            fake = net(x).double().numpy()
            plain = net.g.run(x).double().numpy()  # the same weights without any rounding
        ref = np.array([sbtest.run_model(model, p.astype(np.int16) - 128, check=False)[0].reshape(-1)
                        for p in pixels], np.float64)
        deq = out_t["scale"] * (ref - out_t["zero_point"])
        fake_steps = np.abs(fake - deq) / out_t["scale"]
        plain_steps = np.abs(plain - deq) / out_t["scale"]
        # Measured: at most 2 steps, 0.21 on average; the float graph 2.8 on average.
        self.assertLessEqual(fake_steps.max(), 3.0, fake_steps)
        self.assertLess(fake_steps.mean(), 0.25 * plain_steps.mean(), (fake_steps, plain_steps))

    def test_every_parameter_gets_a_gradient(self):
        net, _, pixels = self.qat_graph()
        x = torch.from_numpy(np.array(pixels[:8])).permute(0, 3, 1, 2).float() / 255
        net.train()
        torch.nn.functional.cross_entropy(net(x), torch.arange(8) % 7).backward()
        self.assertGreater(len(net.weights), 5)
        for i, p in enumerate(list(net.weights) + list(net.biases)):
            self.assertIsNotNone(p.grad, i)
            self.assertTrue(torch.isfinite(p.grad).all(), i)
            self.assertGreater(float(p.grad.abs().sum()), 0.0, i)

    def test_one_epoch(self):
        out = os.path.join(self.tmp, "qat1.sbm")
        res = run_qat(self.ckpt, self.cache, self.manifest, self.tmp, out, "--epochs", "1",
                      "--min-bal", "1.01")
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertIn("none reached: best overall", res.stdout)
        metrics = json.loads(read_text(os.path.join(self.tmp, "qat", "metrics.json")))
        self.assertEqual([h["epoch"] for h in metrics["history"]], [0, 1])
        self.assertIn("loss", metrics["history"][1])
        self.assertNotIn("test", metrics)
        model = sbtest.sbm.read(out)
        info = model.header["provenance"]["recipe"]["qat"]
        self.assertEqual((info["epochs_run"], info["lr"], info["device"]), (1, 5e-5, "cpu"))
        self.assertEqual(info["epoch"], metrics["qat"]["epoch"])
        logits, _ = sbtest.run_model(model, np.zeros((1, 32, 32, 3), np.int16) - 128)
        self.assertEqual(logits.size, 7)

    def test_an_interrupted_run_keeps_the_best_so_far(self):
        """Ctrl-C once epoch 0 is scored (the log line says so): the file holds the best
        epoch so far, says so, and no half-written file is left."""
        out = os.path.join(self.tmp, "stopped.sbm")
        cmd = [sys.executable, QAT, "--checkpoint", self.ckpt, "--cache", self.cache,
               "--manifest", self.manifest, "--out-dir", os.path.join(self.tmp, "qat-int"),
               "-o", out, "--batch", "8", "--threads", "1", "--calib", "16", "--epochs", "500"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, env=ONE_THREAD)
        seen = []
        for line in p.stdout:
            seen.append(line)
            if line.startswith("epoch  0/"):
                p.send_signal(signal.SIGINT)
        p.wait(timeout=300)
        text = "".join(seen)
        self.assertEqual(p.returncode, 130, text)
        self.assertIn("interrupted in epoch", text)
        self.assertFalse(os.path.exists(out + ".part"))
        info = sbtest.sbm.read(out).header["provenance"]["recipe"]["qat"]
        self.assertIn("so far", info["selection"])
        metrics = json.loads(read_text(os.path.join(self.tmp, "qat-int", "metrics.json")))
        self.assertLess(len(metrics["history"]), 501)
        self.assertEqual(metrics["qat"]["epoch"], info["epoch"])

    def test_runs_with_pytorch_alone(self):
        """A borrowed GPU's Python may hold PyTorch and numpy but no torchvision: qat.py and
        tools/export still write their files (the provenance then records torchvision null)."""
        hide = ("import runpy, sys; sys.modules['torchvision'] = None; sys.argv = sys.argv[1:]; "
                "runpy.run_path(sys.argv[0], run_name='__main__')")
        out = os.path.join(self.tmp, "no-tv-qat.sbm")
        res = run([sys.executable, "-c", hide, QAT, "--checkpoint", self.ckpt, "--cache", self.cache,
                   "--manifest", self.manifest, "--out-dir", os.path.join(self.tmp, "qat-no-tv"),
                   "-o", out, "--batch", "8", "--threads", "1", "--calib", "16", "--epochs", "0"])
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertIsNone(sbtest.sbm.read(out).header["provenance"]["tools"]["torchvision"])
        out = os.path.join(self.tmp, "no-tv-export.sbm")
        res = run([sys.executable, "-c", hide, os.path.join(ROOT, "tools", "export"),
                   "--checkpoint", self.ckpt, "-o", out, "--calib-data", self.cache,
                   "--calib-manifest", self.manifest, "--calib", "16"])
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertIsNone(sbtest.sbm.read(out).header["provenance"]["tools"]["torchvision"])

    @unittest.skipIf(torch.cuda.is_available(), "a CUDA device is present")
    def test_cuda_without_a_gpu_is_refused(self):
        out = os.path.join(self.tmp, "cuda.sbm")
        res = run_qat(self.ckpt, self.cache, self.manifest, self.tmp, out, "--device", "cuda")
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("--device cuda but no CUDA device is available", res.stdout)
        self.assertFalse(os.path.exists(out))

    def test_wrong_image_size_is_refused(self):
        small = os.path.join(self.tmp, "small")
        os.makedirs(small, exist_ok=True)
        cache, manifest, _ = synthetic(small, size_px=24)
        res = run_qat(self.ckpt, cache, manifest, self.tmp, os.path.join(self.tmp, "x.sbm"),
                      "--epochs", "0")
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertIn("syn.sbc: images are 24px, the checkpoint was trained at 32px", res.stdout)


if __name__ == "__main__":
    unittest.main()
