"""The numpy reference and the .sbm reader/writer on their own (no C needed):
fixed-point primitives against a literal big-integer transcription of
docs/model-format.md, convolution/pool accumulators against PyTorch in
float64, float-mode rounding in float32, the reader's refusals, graph
validation, the exporter's QuantizeMultiplier, and capture of a torchvision
model by torch.fx."""
import os
import struct
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtest  # noqa: E402,F401  (puts tools/ on sys.path)
from reference import ops as K  # noqa: E402
from reference.run import GraphError, validate  # noqa: E402
from sbtools import quant, sbm  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


# ---- literal transcription of the document's pseudo-code, Python integers

def doc_srdhm(a, b):
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    v = ab + nudge
    q = abs(v) // (1 << 31)
    return q if v >= 0 else -q


def doc_rdbp(x, e):
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def doc_mbqm(x, m, s):
    left, right = (s, 0) if s > 0 else (0, -s)
    xl = (x << left) & 0xFFFFFFFF
    xl = xl - (1 << 32) if xl >= (1 << 31) else xl
    return doc_rdbp(doc_srdhm(xl, m), right)


def test_fixed_point(rng):
    edge = [-(1 << 31), (1 << 31) - 1, 0, 1, -1, 1 << 30, -(1 << 30), 12345, -12345]
    xs = edge + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, 300)]
    ms = [0, 1 << 30, (1 << 31) - 1] + [int(v) for v in rng.integers(1 << 30, 1 << 31, 30)]
    ss = list(range(-31, 3))
    x = np.array([v for v in xs for _ in ms], np.int64)
    m = np.array([v for _ in xs for v in ms], np.int64)
    for s in ss:
        got = K.mbqm(x, m, s)
        want = np.array([doc_mbqm(int(a), int(b), s) for a, b in zip(x, m)], np.int64)
        check((got == want).all(), "mbqm shift %d: %d of %d differ" % (s, int((got != want).sum()), x.size))
    check(K.srdhm(-(1 << 31), -(1 << 31)) == (1 << 31) - 1, "srdhm saturation")
    for e in range(0, 32):
        vals = np.array(edge + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, 50)], np.int64)
        got = K.rdbp(vals, e)
        want = np.array([doc_rdbp(int(v), e) for v in vals])
        check((got == want).all(), "rdbp e=%d" % e)


def test_float_rounding():
    """Find acc, f where the float32 product rounds onto k + 0.5 (k odd) but the
    exact product is below it: float32 arithmetic gives k + 1, float64 gives k."""
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(200000):
        acc = int(rng.integers(1000, 100000))
        k = int(rng.integers(1, 60)) * 2 + 1
        f = np.float32((k + 0.5) / acc)
        p32 = np.float32(acc) * f
        if p32 == np.float32(k + 0.5) and float(acc) * float(f) < k + 0.5:
            check(int(K.fround(acc, f)) == k + 1, "fround(%d, %r): float32 product ties to %d"
                  % (acc, f, k + 1))
            found += 1
            if found == 5:
                break
    check(found > 0, "no float32 tie case found")
    check(list(K.fround(np.array([1, 3, 5, -1, -3]), np.float32(0.5))) == [0, 2, 2, 0, -2],
          "half to even")


def test_accumulators(rng):
    import torch
    import torch.nn.functional as F
    for it in range(40):
        c = int(rng.integers(1, 6))
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        st = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad = [int(v) for v in rng.integers(0, 3, 4)]
        oh = K.out_dim(h, kh, st[0], dil[0], pad[0], pad[2])
        ow = K.out_dim(w, kw, st[1], dil[1], pad[1], pad[3])
        if oh < 1 or ow < 1:
            continue
        zi = int(rng.integers(-128, 128))
        x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
        xt = torch.tensor(x.astype(np.float64) - zi).permute(0, 3, 1, 2)
        xt = F.pad(xt, (pad[1], pad[3], pad[0], pad[2]))
        o = int(rng.integers(1, 6))
        wq = rng.integers(-128, 128, (o, kh, kw, c)).astype(np.int8)
        bias = rng.integers(-1000, 1000, o).astype(np.int32)
        want = F.conv2d(xt, torch.tensor(wq.astype(np.float64)).permute(0, 3, 1, 2),
                        torch.tensor(bias.astype(np.float64)), st, 0, dil)
        got = K.conv2d(x, zi, wq, bias, st, dil, pad, oh, ow)
        check(np.array_equal(got, want[0].permute(1, 2, 0).numpy().astype(np.int64)), "conv2d case %d" % it)
        wd = rng.integers(-128, 128, (1, kh, kw, c)).astype(np.int8)
        bd = bias[:1].repeat(c)
        want = F.conv2d(xt, torch.tensor(wd.astype(np.float64)).permute(3, 0, 1, 2),
                        torch.tensor(bd.astype(np.float64)), st, 0, dil, groups=c)
        got = K.dwconv2d(x, zi, wd, bd, st, dil, pad, oh, ow)
        check(np.array_equal(got, want[0].permute(1, 2, 0).numpy().astype(np.int64)), "dwconv2d case %d" % it)
        # maxpool: padding never wins
        mk = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        mp = [int(rng.integers(0, mk[0])), int(rng.integers(0, mk[1])), int(rng.integers(0, mk[0])),
              int(rng.integers(0, mk[1]))]
        moh, mow = K.out_dim(h, mk[0], st[0], 1, mp[0], mp[2]), K.out_dim(w, mk[1], st[1], 1, mp[1], mp[3])
        if moh >= 1 and mow >= 1:
            xm = F.pad(torch.tensor(x.astype(np.float64)).permute(0, 3, 1, 2), (mp[1], mp[3], mp[0], mp[2]),
                       value=-1e9)
            want = F.max_pool2d(xm, mk, st)[0].permute(1, 2, 0).numpy().astype(np.int64)
            op = {"kernel": list(mk), "stride": list(st), "padding": mp, "act_min": -128, "act_max": 127}
            got = K.maxpool(op, x, {"shape": [1, moh, mow, c]})[0]
            check(np.array_equal(got, want), "maxpool case %d" % it)


def write_tiny(path):
    b = sbm.Builder("tiny", "fixed")
    b.input = b.activation("input", [1, 4, 4, 3], 1 / 255, -128)
    w = b.constant("w", np.ones((2, 1, 1, 3), np.int8))
    bias = b.constant("b", np.zeros(2, np.int32))
    m = b.constant("m", np.full(2, 1 << 30, np.int32))
    s = b.constant("s", np.zeros(2, np.int32))
    y = b.activation("y", [1, 4, 4, 2], 0.01, 0)
    b.op(type="conv2d", name="c", inputs=[b.input, w, bias], output=y, kernel=[1, 1], stride=[1, 1],
         dilation=[1, 1], padding=[0, 0, 0, 0], act="none", act_min=-128, act_max=127, multiplier=m, shift=s)
    b.output = y
    b.write(path, ["a", "b"], {"x": 1})
    return b


def test_file(tmp):
    path = os.path.join(tmp, "tiny.sbm")
    write_tiny(path)
    m = sbm.read(path)
    check(m.header["name"] == "tiny" and m.arrays[1].shape == (2, 1, 1, 3), "round trip")
    check(all(t.get("offset", 0) % 64 == 0 for t in m.tensors), "64-byte aligned tensors")
    validate(m)
    raw = open(path, "rb").read()
    hlen, doff, dlen = struct.unpack_from("<QQQ", raw, 16)

    def refuses(data, what, expect):
        bad = os.path.join(tmp, "bad.sbm")
        open(bad, "wb").write(data)
        try:
            sbm.read(bad)
            check(False, "reader accepted %s" % what)
        except sbm.SbmError as e:
            check(expect in str(e), "%s: message %r lacks %r" % (what, str(e), expect))

    refuses(b"X" + raw[1:], "a wrong magic", "magic")
    refuses(raw[:8] + struct.pack("<I", 2) + raw[12:], "version_major 2", "version_major")
    refuses(raw[:-1], "a truncated file", "expected at least")
    flipped = bytearray(raw)
    flipped[doff + 3] ^= 1
    refuses(bytes(flipped), "a flipped data bit", "crc32")
    minor = bytearray(raw[:12] + struct.pack("<I", 7) + raw[16:])
    open(os.path.join(tmp, "minor.sbm"), "wb").write(minor)
    check(sbm.read(os.path.join(tmp, "minor.sbm")).header["name"] == "tiny", "larger version_minor read")
    # tensor past data_len (header edited, CRC recomputed)
    import json
    hdr = json.loads(raw[64:64 + hlen])
    hdr["tensors"][1]["offset"] = dlen
    text = json.dumps(hdr).encode()
    d_off = (64 + len(text) + 63) // 64 * 64
    body = text + b"\0" * (d_off - 64 - len(text)) + raw[doff:doff + dlen]
    pre = raw[:16] + struct.pack("<QQQI", len(text), d_off, dlen, zlib.crc32(body)) + b"\0" * 20
    refuses(pre + body, "a tensor past data_len", "do not fit")
    # graph that does not chain
    m.ops[0]["inputs"][0] = m.ops[0]["output"]
    try:
        validate(m)
        check(False, "validate accepted an op reading its own output")
    except GraphError as e:
        check("computed later" in str(e), "validate message: %s" % e)


def test_quantize_multiplier(rng):
    check(quant.quantize_multiplier(0.5) == (1 << 30, 0), "QM(0.5)")
    check(quant.quantize_multiplier(1.0) == (1 << 30, 1), "QM(1.0)")
    check(quant.quantize_multiplier(2.0 ** -40) == (0, 0), "QM(2^-40)")
    check(quant.quantize_multiplier(1 - 2.0 ** -40) == (1 << 30, 1), "QM rounding up to 2^31")
    for _ in range(300):
        e = float(np.exp(rng.uniform(np.log(1e-6), np.log(4.0))))
        x = int(rng.integers(-100000, 100000))
        m, s = quant.quantize_multiplier(e)
        # two roundings (SRDHM, then RDBP): within one step of x * e
        check(abs(int(K.mbqm(x, m, s)) - x * e) <= 1.0, "mbqm ~ x*e (%g, %d)" % (e, x))


def test_capture():
    import torch
    import torchvision
    from sbtools import exporter, graph
    torch.manual_seed(0)
    for model in (exporter.random_model("mobilenet_v2", width=0.35, size=32),
                  torchvision.models.resnet18(num_classes=7).eval()):
        g = graph.capture(model)
        x = torch.rand(2, 3, 40, 40)
        with torch.no_grad():
            err = float((g.run(x) - model(x)).abs().max())
        check(err < 1e-3, "%s: captured graph differs from the model by %g" % (type(model).__name__, err))


def main():
    rng = np.random.default_rng(0)
    test_fixed_point(rng)
    test_float_rounding()
    test_accumulators(rng)
    test_quantize_multiplier(rng)
    with tempfile.TemporaryDirectory() as tmp:
        test_file(tmp)
    test_capture()
    print("%d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
