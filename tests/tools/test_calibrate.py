"""tools/train/calibrate.py on a small hand-built model and a synthetic cache (never HAM10000):
the fitted temperature lowers the NLL of the data it was fitted on, the rewritten file differs
from the original only by the header key `temperature` (tensor bytes identical), and the C
framework (`srambench infer`, with --srambench PATH) reads it: its confidences change as
softmax(z / T), its prediction does not.

usage: test_calibrate.py [--srambench PATH]"""

import csv
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:  # meson: exit code 77 = skipped
    print("skip: Debian's python3-numpy is needed (%s)" % e)
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from sbtools import data, quant, sbm  # noqa: E402
from train import calibrate  # noqa: E402

SIZE_PX = 8
CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def write_model(path, logit_scale):
    """gavgpool (the mean pixel, 0..255) then fc: logit_c = c * (sum of channels - 90) - 37.5 c^2,
    highest for the class whose mean colour is 30 + 25 c (as in write_cache below)."""
    b = sbm.Builder("calib", "fixed")
    b.input = b.activation("input", [1, SIZE_PX, SIZE_PX, 3], 1 / 255, -128)
    pooled = b.activation("pooled", [1, 1, 1, 3], 1 / 255, -128)
    m, s = quant.quantize_multiplier(1.0 / (SIZE_PX * SIZE_PX))
    b.op(type="gavgpool", name="pool", inputs=[b.input], output=pooled, multiplier=int(m), shift=int(s),
         scale_f32=sbm.f32(1.0 / (SIZE_PX * SIZE_PX)), act_min=-128, act_max=127)
    c = np.arange(7)
    w = b.constant("fc.w", np.repeat(c[:, None], 3, axis=1).astype(np.int8))
    bias = b.constant("fc.b", np.round(-90 * c - 37.5 * c * c).astype(np.int32))
    mm, ss = quant.quantize_multiplier(1 / 16)
    mul = b.constant("fc.m", np.full(7, mm, np.int32))
    sh = b.constant("fc.s", np.full(7, ss, np.int32))
    out = b.activation("logits", [1, 7], logit_scale, 0)
    b.op(type="fc", name="fc", inputs=[pooled, w, bias], output=out, act="none", act_min=-128, act_max=127,
         multiplier=mul, shift=sh)
    b.output = out
    b.write(path, CLASSES, {"recipe": "test_calibrate"})


def write_cache(tmp, n=140, seed=3):
    """Mean colour 30 + 25 * label + N(0, 14) per image: neighbouring classes overlap, so the
    best temperature is finite. Every image is in val (no train or test needed here)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    mean = 30 + 25 * labels + rng.normal(0, 14, n)
    pixels = np.clip(mean[:, None, None, None] + rng.integers(-10, 11, (n, SIZE_PX, SIZE_PX, 3)), 0, 255)
    pixels = pixels.astype(np.uint8)
    ids = ["ISIC_%07d" % i for i in range(n)]
    cache = os.path.join(tmp, "calib.sbc")
    data.write_cache(cache, pixels, ids, labels)
    manifest = os.path.join(tmp, "calib.csv")
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "image_id", "lesion_id", "label", "split"])
        for i in range(n):
            w.writerow([i, ids[i], "HAM_%07d" % i, int(labels[i]), "val"])
    return cache, manifest, pixels, labels


def parts(path):
    with open(path, "rb") as f:
        raw = f.read()
    _, _, hlen, doff, dlen, _ = struct.unpack_from("<IIQQQI", raw, 8)
    return json.loads(raw[64:64 + hlen]), raw[doff:doff + dlen]


def run_calibrate(*args):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train", "calibrate.py")] + list(args)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return r.returncode, r.stdout, r.stderr


def test_fit_and_rewrite(tmp, logit_scale, want_sharper):
    cache, manifest, pixels, labels = write_cache(tmp)
    path, out = os.path.join(tmp, "m.sbm"), os.path.join(tmp, "m-cal.sbm")
    write_model(path, logit_scale)
    rc, so, se = run_calibrate(path, cache, manifest, "--out", out)
    check(rc == 0, "calibrate.py ran (%s)" % se.strip()[-300:])
    res = json.loads(so)
    t = res["temperature"]
    print(res)
    check(calibrate.T_MIN < t < calibrate.T_MAX and (t < 1) == want_sharper,
          "scale %g: T %g inside the range, %s 1" % (logit_scale, t, "below" if want_sharper else "above"))
    check(res["nll_after"] < res["nll_before"] - 1e-3, "the fitted T lowers the NLL on the data fitted on")
    # the figures are those of the reference's int8 logits, recomputed here
    model = sbm.read(path)
    idx = np.arange(len(labels))
    z = calibrate.real_logits(model, calibrate.int8_logits(model, pixels, idx))
    check(abs(calibrate.nll(z, labels, t) - res["nll_after"]) < 1e-12, "reported NLL is the NLL at T")
    check(calibrate.nll(z, labels, t) < min(calibrate.nll(z, labels, t * 1.1), calibrate.nll(z, labels, t / 1.1)),
          "T is a minimum of the NLL")
    h0, d0 = parts(path)
    h1, d1 = parts(out)
    check(h1.pop("temperature") == t and h0 == h1, "the header differs only by 'temperature'")
    check(d0 == d1, "the tensors' bytes are identical")
    check(sbm.read(out).header["temperature"] == t, "the rewritten file reads back (CRC, offsets)")
    bad = os.path.join(tmp, "bad.sbm")
    for value in (50, 0, "2"):
        sbm.rewrite_header(path, {"temperature": value}, bad)
        try:
            sbm.read(bad)
            check(False, "sbm.read accepted temperature %r" % (value,))
        except sbm.SbmError as e:
            check("temperature %r: expected a finite number in [0.05, 20]" % (value,) in str(e),
                  "sbm.read refuses temperature %r naming the field" % (value,))
    return path, out, t


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def infer(exe, tmp, model_path, image):
    toml = os.path.join(tmp, "bench.toml")
    with open(toml, "w") as f:
        f.write('[run]\nname = "calib"\noutput = "%s"\n[dataset]\nplugin = "ham10000"\npath = "/nonexistent"\n[[model]]\nname = "m"\nplugin = "sbm"\npath = "%s"\n'
                '[[backend]]\nname = "cpu"\nplugin = "cpu"\n' % (tmp, model_path))
    d = tempfile.mkdtemp(dir=tmp)
    r = subprocess.run([exe, "infer", image, "--config", toml, "-q", "--output-dir", d],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    check(r.returncode == 0, "srambench infer %s (%s)" % (os.path.basename(model_path), r.stderr.strip()[-300:]))
    with open(os.path.join(d, "results.json")) as f:
        res = json.load(f)
    return res["jobs"][0]["samples"][0]


def test_c_framework(exe, tmp, plain, tempered, t):
    try:
        from PIL import Image
    except ImportError:
        print("skip part: PIL absent, the C framework is not checked")
        return
    for k, colour in enumerate((60, 105, 130)):  # between classes: confidences well below 1
        image = os.path.join(tmp, "img%d.jpg" % k)
        Image.new("RGB", (SIZE_PX, SIZE_PX), (colour,) * 3).save(image, quality=100)
        a, b = infer(exe, tmp, plain, image), infer(exe, tmp, tempered, image)
        check(a["pred"] == b["pred"], "colour %d: the C prediction does not change (%d)" % (colour, a["pred"]))
        want = softmax(np.log(np.array(a["probs"])) / t)  # softmax(z / T) from softmax(z)
        check(np.allclose(b["probs"], want, atol=1e-9, rtol=0) and abs(b["confidence"] - a["confidence"]) > 1e-3,
              "colour %d: C confidence %.4f -> %.4f, as softmax(z / T)" % (colour, a["confidence"], b["confidence"]))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # logits scaled too small (under-confident) then too large (over-confident)
        os.mkdir(os.path.join(tmp, "over"))
        test_fit_and_rewrite(os.path.join(tmp, "over"), 2.0, want_sharper=False)
        plain, tempered, t = test_fit_and_rewrite(tmp, 0.05, want_sharper=True)
        rc, _, se = run_calibrate(plain, os.path.join(tmp, "calib.sbc"), os.path.join(tmp, "calib.csv"),
                                  "--split", "test")
        check(rc == 2 and "invalid choice: 'test'" in se, "the test split is refused")
        if "--srambench" in sys.argv:
            test_c_framework(sys.argv[sys.argv.index("--srambench") + 1], tmp, plain, tempered, t)
        else:
            print("skip part: no --srambench, the C framework is not checked")


if __name__ == "__main__":
    main()
