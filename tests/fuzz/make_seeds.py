#!/usr/bin/python3
"""Write the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/.

Small, synthetic inputs only (never HAM10000 data): valid files of every
shape each parser accepts plus a few near misses. Run again after changing a
format; the files are committed so CI and tools/fuzz.sh need no Python.
    /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import io
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from sbtools import data, sbm  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
RNG = np.random.default_rng(9)


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def jpegs():
    for name, mode, size, kw in [("rgb8.jpg", "RGB", (8, 8), {}),
                                 ("rgb_odd.jpg", "RGB", (13, 7), {"subsampling": 2}),
                                 ("gray.jpg", "L", (9, 9), {}),
                                 ("prog.jpg", "RGB", (16, 12), {"progressive": True}),
                                 ("q100_444.jpg", "RGB", (6, 10), {"quality": 100, "subsampling": 0})]:
        arr = RNG.integers(0, 256, size=(size[1], size[0], 3 if mode == "RGB" else 1), dtype=np.uint8)
        im = Image.fromarray(arr.squeeze() if mode == "L" else arr, mode)
        b = io.BytesIO()
        im.save(b, "JPEG", **kw)
        put("jpeg", name, b.getvalue())
    put("jpeg", "cmyk.jpg", _cmyk())
    put("jpeg", "truncated.jpg", open(os.path.join(CORPUS, "jpeg", "rgb8.jpg"), "rb").read()[:200])


def _cmyk():
    b = io.BytesIO()
    Image.new("CMYK", (4, 4), (1, 2, 3, 4)).save(b, "JPEG")
    return b.getvalue()


def hmnist():
    for side, ch, rows in [(2, 3, 3), (3, 1, 2), (8, 3, 2)]:
        n = side * side * ch
        lines = [",".join("pixel%04d" % i for i in range(n)) + ",label"]
        for r in range(rows):
            px = RNG.integers(0, 256, size=n)
            lines.append(",".join(str(v) for v in px) + ",%d" % (r % 7))
        put("hmnist", "s%d_c%d.csv" % (side, ch), "\r\n".join(lines) + "\r\n")
    put("hmnist", "bad_label.csv", "p0,p1,p2,label\n1,2,3,9\n")
    put("hmnist", "header_only.csv", "p0,p1,p2,label\n")


def ham_meta():
    dx = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    head = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
    rows, split = [], ["split,index,image_id"]
    for i in range(12):
        img = "ISIC_%07d" % (24306 + i)
        rows.append("HAM_%07d,%s,%s,histo,%d.0,%s,back" % (i // 2, img, dx[i % 7], 30 + i,
                                                          "male" if i % 2 else "female"))
        split.append("%s,%d,%s" % (["train", "val", "test"][i % 3], i, img))
    put("ham_meta", "ok.csv", head + "\n".join(rows) + "\n#split\n" + "\n".join(split) + "\n")
    put("ham_meta", "no_split.csv", head + "\n".join(rows[:3]) + "\n")
    put("ham_meta", "missing_in_split.csv", head + "\n".join(rows[:4]) + "\n#split\n" + "\n".join(split[:3]) + "\n")
    put("ham_meta", "bad_dx.csv", head + "HAM_1,ISIC_1,xyz,histo,1,male,back\n")


def npy(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def npz():
    sep = b"\n#npy\n"
    parts = []
    for n in (3, 2, 2):
        parts += [npy(RNG.integers(0, 256, size=(n, 4, 4, 3), dtype=np.uint8)),
                  npy(RNG.integers(0, 7, size=(n, 1), dtype=np.uint8))]
    put("npz", "all.bin", sep.join(parts))
    put("npz", "train.bin", sep.join(parts[:2]))
    put("npz", "gray.bin", sep.join([npy(RNG.integers(0, 256, size=(2, 5, 5), dtype=np.uint8)),
                                     npy(np.array([1, 6], dtype=np.uint8))]))
    put("npz", "v2_header.bin", sep.join([npy(np.zeros((1, 3, 3, 3), np.uint8)).replace(
        b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", 1), parts[1]]))
    put("npz", "int64_labels.bin", sep.join([parts[0], npy(np.zeros((3, 1), np.int64))]))


def tiny_model(requant):
    b = sbm.Builder("fuzz-tiny-" + requant, requant)
    x = b.activation("input", [1, 8, 8, 3], 1 / 255, -128)
    b.input = x

    def qparams(n):
        if requant == "fixed":
            return {"multiplier": b.constant("m%d" % len(b.tensors), np.full(n, 1 << 30, np.int32)),
                    "shift": b.constant("s%d" % len(b.tensors), np.full(n, -4, np.int32))}
        return {"scale_f32": b.constant("f%d" % len(b.tensors), np.full(n, 0.01, np.float32))}

    w = b.constant("c.w", RNG.integers(-127, 128, size=(4, 3, 3, 3), dtype=np.int8))
    bias = b.constant("c.b", np.zeros(4, np.int32))
    y = b.activation("c.out", [1, 4, 4, 4], 0.05, 0)
    b.op(type="conv2d", name="c", inputs=[x, w, bias], output=y, kernel=[3, 3], stride=[2, 2],
         dilation=[1, 1], padding=[1, 1, 1, 1], act="relu", act_min=0, act_max=127, **qparams(4))
    dw = b.constant("d.w", RNG.integers(-127, 128, size=(1, 3, 3, 4), dtype=np.int8))
    db = b.constant("d.b", np.zeros(4, np.int32))
    z = b.activation("d.out", [1, 4, 4, 4], 0.05, 0)
    b.op(type="dwconv2d", name="d", inputs=[y, dw, db], output=z, kernel=[3, 3], stride=[1, 1],
         dilation=[1, 1], padding=[1, 1, 1, 1], act="none", act_min=-128, act_max=127, **qparams(4))
    t = b.constant("lut", RNG.integers(-128, 128, size=256, dtype=np.int8))
    u = b.activation("l.out", [1, 4, 4, 4], 0.05, 0)
    b.op(type="lut", name="l", inputs=[z], output=u, table=t, act="silu")
    p = b.activation("p.out", [1, 2, 2, 4], 0.05, 0)
    b.op(type="maxpool", name="p", inputs=[u], output=p, kernel=[2, 2], stride=[2, 2], padding=[0, 0, 0, 0])
    g = b.activation("g.out", [1, 1, 1, 4], 0.05, 0)
    sc = {"multiplier": 1 << 30, "shift": -2} if requant == "fixed" else {"scale_f32": 0.25}
    b.op(type="gavgpool", name="g", inputs=[p], output=g, **sc)
    fw = b.constant("f.w", RNG.integers(-127, 128, size=(7, 4), dtype=np.int8))
    fb = b.constant("f.b", np.zeros(7, np.int32))
    o = b.activation("logits", [1, 7], 0.1, 0)
    b.op(type="fc", name="f", inputs=[g, fw, fb], output=o, act="none", act_min=-128, act_max=127, **qparams(7))
    b.output = o
    path = os.path.join(CORPUS, "sbm", "tiny_%s.sbm" % requant)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    b.write(path, ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"], {"recipe": "fuzz seed"})
    return path


def sbm_seeds():
    p = tiny_model("fixed")
    tiny_model("float")
    raw = open(p, "rb").read()
    hlen, doff, dlen = struct.unpack_from("<QQQ", raw, 16)
    # The split form: "<JSON>\n#data\n<data>" (fuzz_sbm.c writes the header).
    put("sbm", "tiny_split.txt", raw[64:64 + hlen] + b"\n#data\n" + raw[doff:doff + dlen])
    put("sbm", "truncated.sbm", raw[:len(raw) - 10])
    put("sbm", "version2.sbm", raw[:8] + struct.pack("<I", 2) + raw[12:])


def toml_seeds():
    for rel in ["bench.toml", "backends/sram/sram256.toml", "backends/sram/sram1k.toml",
                "tests/hardening/bench-small.toml"]:
        p = os.path.join(ROOT, rel)
        if os.path.exists(p):
            put("toml", rel.replace("/", "_"), open(p, "rb").read())
    put("toml", "syntax.toml", 'a = 1\nb.c = "x\\u00e9"\n[t]\nx = [1, 2.5, -3e2, 0x1f, 0o7, 0b1, inf, nan]\n'
        "[[aot]]\ny = 'lit'\n[[aot]]\ny = true\n")
    put("toml", "errors.toml", "[run\nname = \"x\n")


def sbc_seeds():
    """Tiny .sbc caches written by tools/sbtools/data.write_cache (the format's own writer)."""
    rng = np.random.default_rng(11)  # its own generator: the other corpora stay as they are
    d = os.path.join(CORPUS, "sbc")
    os.makedirs(d, exist_ok=True)

    def write(name, n, size_px, labels, unreadable=()):
        path = os.path.join(d, name)
        px = rng.integers(0, 256, size=(n, size_px, size_px, 3), dtype=np.uint8)
        for i in unreadable:
            px[i] = 0
        data.write_cache(path, px, ["ISIC_%07d" % (24306 + i) for i in range(n)], labels,
                         key=0x0123456789abcdef)
        if unreadable:  # status 1 (unreadable: zero pixels), then the CRC again
            raw = bytearray(open(path, "rb").read())
            for i in unreadable:
                struct.pack_into("<i", raw, 64 + 32 * i + 28, 1)
            struct.pack_into("<I", raw, 48, zlib.crc32(bytes(raw[64:])))
            open(path, "wb").write(bytes(raw))
        return path

    write("two_4px.sbc", 2, 4, [0, 6])
    write("three_2px_unreadable.sbc", 3, 2, [4, -1, 5], unreadable=[1])
    write("one_3px.sbc", 1, 3, [2])
    write("empty_2px.sbc", 0, 2, [])
    raw = open(write("three_3px.sbc", 3, 3, [1, 2, 3]), "rb").read()
    put("sbc", "truncated.sbc", raw[:len(raw) - 5])


if __name__ == "__main__":
    jpegs()
    hmnist()
    ham_meta()
    npz()
    sbm_seeds()
    toml_seeds()
    sbc_seeds()
