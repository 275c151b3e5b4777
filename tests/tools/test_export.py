"""tools/export sanity, through its command line:
1. a random MobileNetV2 (percentile calibration, --with-f32): header shapes,
   input quantisation (1/255, -128), provenance fields, f32 weights, graph
   validity, and the C tool runs it to the reference's logits;
2. a tools/train-style checkpoint (random weights, sbtools.models.build):
   exported with --checkpoint, provenance carries its recipe and metrics;
   dequantised int8 logits follow the float model (correlation) and the top-1
   agreement is reported;
3. with --checkpoint CK --calib-manifest CSV (a trained model and the HAM10000
   cache + manifest): top-1 agreement int8 vs float on 200 test images, >= 90%.

usage: test_export.py [--sbm-run PATH] [--checkpoint CK --calib-manifest CSV]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtest  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def export(*args):
    cmd = [sys.executable, os.path.join(sbtest.REPO, "tools", "export")] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), p.stderr))


def check_header(model, size, method, n_calib):
    t_in = model.tensors[model.input]
    check(t_in["shape"] == [1, size, size, 3] and t_in["zero_point"] == -128
          and abs(t_in["scale"] - 1 / 255) < 1e-9, "input [1,%d,%d,3], scale 1/255, zero point -128" % (size, size))
    check(model.tensors[model.output]["shape"] == [1, 7] and len(model.header["classes"]) == 7,
          "output [1,7] and 7 class names")
    prov = model.header["provenance"]
    for key in ("arch", "arch_kwargs", "input_size", "requant", "calibration", "tools", "normalize"):
        check(key in prov, "provenance has %r" % key)
    cal = prov.get("calibration", {})
    check(cal.get("method") == method and cal.get("images") == n_calib,
          "calibration recorded as %s on %d images: %s" % (method, n_calib, cal))
    check("torch" in prov.get("tools", {}), "tool versions recorded")


def float_vs_int8(model, float_model, pixels, normalize):
    """(top-1 agreement, correlation of dequantised vs float logits)."""
    import torch
    mean = torch.tensor(normalize["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(normalize["std"]).view(1, 3, 1, 1)
    t = model.tensors[model.output]
    q, f = [], []
    for p in pixels:
        out, _ = sbtest.run_model(model, p.astype(np.int16) - 128, check=False)
        q.append(t["scale"] * (out.reshape(-1).astype(np.float64) - t["zero_point"]))
        x = torch.from_numpy(np.array(p)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            f.append(float_model((x - mean) / std)[0].double().numpy())
    q, f = np.array(q), np.array(f)
    agree = float((q.argmax(1) == f.argmax(1)).mean())
    return agree, float(np.corrcoef(q.ravel(), f.ravel())[0, 1])


def test_random_cli(tmp, exe):
    path = os.path.join(tmp, "mnv2.sbm")
    export("--random-arch", "mobilenet_v2", "--size", "64", "--width", "0.5", "--calib", "8", "--calib-random",
           "--calib-method", "percentile", "--percentile", "99.9", "--with-f32", "-o", path)
    model = sbtest.sbm.read(path)
    check_header(model, 64, "percentile", 8)
    convs = [op for op in model.ops if op["type"] in ("conv2d", "dwconv2d", "fc")]
    check(all("weights_f32" in op and "bias_f32" in op for op in convs), "--with-f32 stored float weights")
    check(os.path.getsize(path) < 20e6, "file under 20 MB")
    rng = np.random.default_rng(3)
    x = sbtest.random_input(model, rng)
    ref, _ = sbtest.run_model(model, x)
    if exe:
        c, _ = sbtest.c_run(exe, path, x, tmp)
        check(np.array_equal(c, ref.reshape(-1)), "C logits equal the reference's")


def test_checkpoint_cli(tmp):
    import torch
    from sbtools import exporter, models
    torch.manual_seed(0)
    kwargs = {"width": 0.5, "depth": 0.5, "num_classes": 7}
    model = exporter.randomize_bn(models.build("effnet", **kwargs), seed=0, size=64)
    normalize = {"mean": [0.7, 0.55, 0.59], "std": [0.14, 0.15, 0.16]}
    ck = os.path.join(tmp, "ck.pt")
    torch.save({"arch": "effnet", "arch_kwargs": kwargs, "state_dict": model.state_dict(), "input_size": 64,
                "classes": ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"], "normalize": normalize,
                "recipe": {"epochs": 0, "note": "test"}, "metrics": {"val": {"accuracy": 0.0}}}, ck)
    path = os.path.join(tmp, "ck.sbm")
    cache = sbtest.find_cache(64)
    pixels = None
    if cache:
        from sbtools import data
        pixels = np.array(data.read_cache(cache, check_crc=False)[0][:24])
    export("--checkpoint", ck, "--calib", "8", "--calib-random", "--calib-method", "minmax", "-o", path)
    m = sbtest.sbm.read(path)
    check_header(m, 64, "minmax", 8)
    prov = m.header["provenance"]
    check(prov.get("recipe", {}).get("note") == "test" and "val" in prov.get("metrics", {}),
          "checkpoint recipe and metrics copied into provenance")
    if pixels is None:
        pixels = np.random.default_rng(1).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    agree, corr = float_vs_int8(m, model.eval(), pixels, normalize)
    print("figure: random-weight effnet(width 0.5, depth 0.5) 64px, %d %s images: top-1 int8 vs float "
          "%.0f%%, logit correlation %.3f (random weights: not a quality figure)"
          % (len(pixels), "HAM10000" if cache else "random", 100 * agree, corr))
    check_layers(m, model, normalize)


def check_layers(m, model, normalize, n_ops=12):
    """The first ops' dequantised int8 outputs follow the float graph closely
    (a wrong layout, padding or scale would not): correlation > 0.95 on random
    pixels (the calibration distribution). Deeper, a random network is
    chaotic and errors grow, so only the first ops are held to it."""
    from sbtools import exporter, graph
    g = graph.capture(model)
    graph.fold_normalization(g, normalize["mean"], normalize["std"])
    px = next(exporter.random_batches(1, 64, seed=9))
    fl = {}
    g.run(exporter.to_float_nchw(px), lambda t, v: fl.__setitem__(g.tensor_names[t], v[0].numpy()))
    _, acts = sbtest.run_model(m, px[0].astype(np.int16) - 128)
    worst = 1.0
    for op in m.ops[:n_ops]:
        t = m.tensors[op["output"]]
        f = fl[t["name"]]
        f = f.transpose(1, 2, 0) if f.ndim == 3 else f
        q = t["scale"] * (acts[op["output"]].astype(np.float64).reshape(f.shape) - t["zero_point"])
        if f.size > 1 and f.std() > 0:
            worst = min(worst, float(np.corrcoef(q.ravel(), f.ravel())[0, 1]))
    check(worst > 0.95, "first %d ops: dequantised int8 vs float correlation >= %.3f (> 0.95)" % (n_ops, worst))


class SmallNet:
    """A small CNN with what the torchvision models do not cover: maxpool,
    relu fused and unfused, hardswish and sigmoid LUTs, torch.add, x.mean
    over H,W, and an fc reading a flattened [C,H,W] tensor (NCHW order in
    PyTorch, NHWC in the file: the exporter permutes the weights)."""

    @staticmethod
    def build():
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
                self.pool = nn.MaxPool2d(3, stride=2, padding=1)
                self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
                self.bn = nn.BatchNorm2d(8)
                self.dw = nn.Conv2d(8, 8, 5, padding=2, groups=8)
                self.hs = nn.Hardswish()
                self.c3 = nn.Conv2d(8, 4, 1)
                self.fc = nn.Linear(4 * 8 * 8, 7)   # 32 px input
                self.fc2 = nn.Linear(8, 7)

            def forward(self, x):
                x = self.pool(torch.relu(self.c1(x)))
                y = nn.functional.relu6(self.bn(self.c2(x)))
                x = torch.add(x, y)
                x = torch.relu(x)
                z = self.hs(self.dw(x))
                s = torch.sigmoid(z.mean((2, 3), keepdim=True))
                x = self.c3(z * s)
                return self.fc(torch.flatten(x, 1)) + self.fc2(torch.flatten(s, 1))

        torch.manual_seed(3)
        return Net().eval()


def test_small_net(tmp):
    """Every mapping of the exporter on a small non-chaotic network: int8
    logits follow the float model closely."""
    from sbtools import exporter
    model = exporter.randomize_bn(SmallNet.build(), seed=0, size=32)
    normalize = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    path = os.path.join(tmp, "small.sbm")
    for requant in ("fixed", "float"):
        exporter.export_float_model(model, path, 32, [str(i) for i in range(7)], normalize,
                                    exporter.random_batches(32, 32, seed=4), requant)
        m = sbtest.sbm.read(path)
        kinds = sorted(set(op["type"] for op in m.ops))
        px = np.random.default_rng(8).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
        agree, corr = float_vs_int8(m, model, px, normalize)
        check(corr > 0.995, "small net (%s; ops %s): logits correlation %.5f > 0.995, top-1 %.0f%%"
              % (requant, ",".join(kinds), corr, 100 * agree))
    fused = [op for op in m.ops if op["type"] == "conv2d" and op["act"] in ("relu", "relu6")]
    check(len(fused) >= 2, "ReLU and ReLU6 fused into convolutions")
    check(m.ops[0]["name"] == "input_norm" and m.ops[1]["inputs"][0] == m.ops[0]["output"],
          "normalisation before a padded conv: an input_norm op feeds it")
    # Trained on pixel/255 (mean 0, std 1): no op to fold, the first conv reads the input itself.
    identity = {"mean": [0.0] * 3, "std": [1.0] * 3}
    exporter.export_float_model(model, path, 32, [str(i) for i in range(7)], identity,
                                exporter.random_batches(32, 32, seed=4))
    m = sbtest.sbm.read(path)
    agree, corr = float_vs_int8(m, model, px, identity)
    check(m.ops[0]["type"] == "conv2d" and m.ops[0]["inputs"][0] == m.input
          and all(op["name"] != "input_norm" for op in m.ops),
          "identity normalisation: no input_norm op, the first conv reads the input")
    check(corr > 0.995, "identity normalisation: logits correlation %.5f > 0.995" % corr)


def test_trained(tmp, argv):
    if "--checkpoint" not in argv or "--calib-manifest" not in argv:
        print("skip part 3: no --checkpoint CK --calib-manifest CSV given")
        return
    from sbtools import data, models
    ck = argv[argv.index("--checkpoint") + 1]
    manifest = argv[argv.index("--calib-manifest") + 1]
    meta = models.load_checkpoint(ck)
    size = int(meta["input_size"])
    cache = sbtest.find_cache(size)
    if cache is None:
        print("skip part 3: no %dpx cache" % size)
        return
    path = os.path.join(tmp, "trained.sbm")
    export("--checkpoint", ck, "--calib-data", cache, "--calib-manifest", manifest, "-o", path)
    from export.cli import load_checkpoint
    model, _ = load_checkpoint(ck)
    pixels, splits = data.load_splits(cache, manifest)
    idx = splits["test"][0][:200]
    m = sbtest.sbm.read(path)
    agree, corr = float_vs_int8(m, model, np.array(pixels[idx]), meta["normalize"])
    print("trained %s: %d test images: top-1 int8 vs float %.1f%%, logit correlation %.3f"
          % (ck, len(idx), 100 * agree, corr))
    check(agree >= 0.9, "top-1 agreement %.3f >= 0.9" % agree)


def main(argv):
    exe = sbtest.sbm_run_path(argv)
    if exe is None:
        print("note: sbm-run not given; C comparison left out")
    with tempfile.TemporaryDirectory() as tmp:
        test_random_cli(tmp, exe)
        test_checkpoint_cli(tmp)
        test_small_net(tmp)
        test_trained(tmp, argv)
    print("%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
