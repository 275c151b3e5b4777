"""Every op, C (sbm-run, fast and --ref kernels) against the numpy reference,
bit for bit, on single-op .sbm files with random shapes and parameters: odd
sizes, strides 1-3, asymmetric padding, dilation, zero points at -128/127,
narrow clamps, saturating multipliers, both requant modes, many seeds.

usage: test_ops.py --sbm-run PATH [--cases N] [--seed S]
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtest  # noqa: E402
from sbtools import quant, sbm  # noqa: E402


def zero_point(rng):
    return int(rng.choice([-128, 127, 0, rng.integers(-128, 128)]))


def act_range(rng):
    if rng.random() < 0.6:
        return -128, 127
    lo = int(rng.integers(-128, 0))
    return lo, int(rng.integers(lo, 128))


def scale(rng):
    return float(np.exp(rng.uniform(np.log(1e-3), np.log(1.0))))


def requant_channels(b, rng, name, n, acc_scale):
    """Per-channel requant tensors that map typical accumulators onto about
    the int8 range, some channels saturating, some with m = 0 or a left shift."""
    e = acc_scale * np.exp(rng.uniform(-2.5, 2.5, size=n))
    if rng.random() < 0.3:
        # Dyadic scales: products land exactly on .5, so ties (half to even in
        # float mode, half away from zero in RDBP) happen often.
        e = np.ldexp(rng.choice([1.0, 1.5, 1.25, 1.75], size=n), -rng.integers(1, 12, size=n))
    if b.requant == "fixed":
        m, s = quant.multipliers(e)
        if n > 2 and rng.random() < 0.3:
            m[0], s[0] = 0, 0
        if rng.random() < 0.2:
            m[-1], s[-1] = int(rng.integers(1 << 30, (1 << 31) - 1)), int(rng.integers(1, 3))
        return {"multiplier": b.constant(name + ".m", m), "shift": b.constant(name + ".s", s)}
    return {"scale_f32": b.constant(name + ".f", e.astype(np.float32))}


def weights(rng, shape):
    w = rng.integers(-127, 128, size=shape)
    if rng.random() < 0.3:
        w.flat[0] = -128
    return w.astype(np.int8)


def conv_case(b, rng, kind):
    c_in = int(rng.integers(1, 10))
    h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
    kh, kw = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2, 3, 5]))
    dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    pad = [int(v) for v in rng.integers(0, 3, size=4)]
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    oh = (h + pad[0] + pad[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pad[1] + pad[3] - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        return None
    c_out = c_in if kind == "dwconv2d" else int(rng.integers(1, 10))
    x = feed(b, rng, [1, h, w, c_in])
    wshape = [1, kh, kw, c_in] if kind == "dwconv2d" else [c_out, kh, kw, c_in]
    taps = kh * kw * (1 if kind == "dwconv2d" else c_in)
    return _conv_common(b, rng, kind, x, wshape, c_out, taps, [1, oh, ow, c_out],
                        {"kernel": [kh, kw], "stride": [sh, sw], "dilation": [dh, dw], "padding": pad})


def fc_case(b, rng, kind):
    shape = [1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 9))] \
        if rng.random() < 0.5 else [1, 1, 1, int(rng.integers(1, 70))]
    n_in = int(np.prod(shape))
    c_out = int(rng.integers(1, 12))
    x = feed(b, rng, shape)
    return _conv_common(b, rng, "fc", x, [c_out, n_in], c_out, n_in, [1, c_out], {})


def _conv_common(b, rng, kind, x, wshape, c_out, taps, out_shape, geom):
    wi = b.constant("w", weights(rng, wshape))
    bi = b.constant("bias", rng.integers(-(1 << 16), 1 << 16, size=c_out).astype(np.int32))
    lo, hi = act_range(rng)
    fields = requant_channels(b, rng, "op", c_out, 1.0 / (8.0 * 127 * np.sqrt(taps)))
    y = b.activation("y", out_shape, scale(rng), zero_point(rng))
    fields.update(geom)
    b.op(type=kind, name=kind, inputs=[x, wi, bi], output=y, act="none", act_min=lo, act_max=hi, **fields)
    return y


def scalar_requant(b, rng, e):
    if b.requant == "fixed":
        m, s = quant.quantize_multiplier(e)
        return {"multiplier": m, "shift": s}
    return {"scale_f32": sbm.f32(e)}


def spatial_shape(rng):
    return [1, int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 10))]


def add_case(b, rng, kind):
    shape = spatial_shape(rng)
    sa, sb_, so = scale(rng), scale(rng), scale(rng)
    a = feed(b, rng, shape, sa)
    c = feed(b, rng, shape, sb_)
    lo, hi = act_range(rng)
    if b.requant == "fixed":
        fields = quant.add_params(sbm.f32(sa), sbm.f32(sb_), sbm.f32(so))
    else:
        fields = {"scale_f32": sbm.f32(sa / so), "scale_b_f32": sbm.f32(sb_ / so)}
    y = b.activation("y", shape, so, zero_point(rng))
    b.op(type="add", name="add", inputs=[a, c], output=y, act="none", act_min=lo, act_max=hi, **fields)
    return y


def mul_case(b, rng, kind):
    shape = spatial_shape(rng)
    a = feed(b, rng, shape)
    c = feed(b, rng, shape, pool=rng.random() < 0.6)
    lo, hi = act_range(rng)
    y = b.activation("y", shape, scale(rng), zero_point(rng))
    fields = scalar_requant(b, rng, float(np.exp(rng.uniform(np.log(1e-4), np.log(0.05)))))
    b.op(type="mul", name="mul", inputs=[a, c], output=y, act="none", act_min=lo, act_max=hi, **fields)
    return y


def gavgpool_case(b, rng, kind):
    shape = spatial_shape(rng)
    x = feed(b, rng, shape)
    y = b.activation("y", [1, 1, 1, shape[3]], scale(rng), zero_point(rng))
    lo, hi = act_range(rng)
    e = float(np.exp(rng.uniform(-1.5, 1.5))) / (shape[1] * shape[2])
    b.op(type="gavgpool", name="gap", inputs=[x], output=y, act="none", act_min=lo, act_max=hi,
         **scalar_requant(b, rng, e))
    return y


def maxpool_case(b, rng, kind):
    shape = spatial_shape(rng)
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    pad = [int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw))]
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    oh = (shape[1] + pad[0] + pad[2] - kh) // sh + 1
    ow = (shape[2] + pad[1] + pad[3] - kw) // sw + 1
    if oh < 1 or ow < 1:
        return None
    x = feed(b, rng, shape)
    s, z = b.tensors[x]["scale"], b.tensors[x]["zero_point"]
    y = b.activation("y", [1, oh, ow, shape[3]], s, z)
    lo, hi = act_range(rng)
    b.op(type="maxpool", name="maxpool", inputs=[x], output=y, kernel=[kh, kw], stride=[sh, sw],
         padding=pad, act="none", act_min=lo, act_max=hi)
    return y


def lut_case(b, rng, kind):
    shape = spatial_shape(rng)
    x = feed(b, rng, shape)
    func = str(rng.choice(["sigmoid", "silu", "hardswish", "relu"]))
    table = quant.lut_table(func, b.tensors[x]["scale"], b.tensors[x]["zero_point"], scale(rng) * 0.1,
                            zero_point(rng))
    ti = b.constant("table", table)
    y = b.activation("y", shape, scale(rng), zero_point(rng))
    b.op(type="lut", name="lut", inputs=[x], output=y, table=ti, act=func, act_min=-128, act_max=127)
    return y


def feed(b, rng, shape, s=None, pool=False):
    """The tested op's input: sbm-run feeds one [1,H,W,3] graph input, so a
    1x1 conv2d (random weights, requant that sometimes saturates) maps it to
    `shape`; a 3-channel input is sometimes the graph input itself. pool:
    also global-average-pool it to [1,1,1,C] (the broadcast operand of mul)."""
    if b.input is None:
        b.input = b.activation("input", [1, shape[1], shape[2], 3], scale(rng), zero_point(rng))
    h, w = b.tensors[b.input]["shape"][1:3]
    if shape[3] == 3 and list(shape[1:3]) == [h, w] and not pool and rng.random() < 0.3:
        return b.input
    c = shape[3]
    wi = b.constant("feed.w", weights(rng, [c, 1, 1, 3]))
    bi = b.constant("feed.b", rng.integers(-3000, 3000, size=c).astype(np.int32))
    x = b.activation("feed", [1, h, w, c], s or scale(rng), zero_point(rng))
    b.op(type="conv2d", name="feed", inputs=[b.input, wi, bi], output=x, kernel=[1, 1], stride=[1, 1],
         dilation=[1, 1], padding=[0, 0, 0, 0], act="none", act_min=-128, act_max=127,
         **requant_channels(b, rng, "feed", c, 1.5 / (127 * 128)))
    if not pool:
        return x
    y = b.activation("pooled", [1, 1, 1, c], s or scale(rng), zero_point(rng))
    b.op(type="gavgpool", name="pool", inputs=[x], output=y, act="none", act_min=-128, act_max=127,
         **scalar_requant(b, rng, float(np.exp(rng.uniform(-1, 1))) / (h * w)))
    return y


CASES = {"conv2d": conv_case, "dwconv2d": conv_case, "fc": fc_case, "add": add_case, "mul": mul_case,
         "gavgpool": gavgpool_case, "maxpool": maxpool_case, "lut": lut_case}


def make_model(path, kind, requant, rng):
    """Write a random single-op model; False when the drawn shape is empty."""
    while True:
        b = sbm.Builder("op-" + kind, requant)
        out = CASES[kind](b, rng, kind)
        if out is not None:
            break
    b.output = out
    b.write(path, None, {"test": "tests/tools/test_ops.py"})
    return sbm.read(path)


def main(argv):
    exe = sbtest.sbm_run_path(argv)
    if exe is None:
        sbtest.skip("sbm-run not built or not given (--sbm-run PATH or $SBM_RUN); "
                    "engineer kn's plugins/sbm target")
    cases = int(argv[argv.index("--cases") + 1]) if "--cases" in argv else 12
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
    failures, runs = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind in CASES:
            for requant in ("fixed", "float"):
                for k in range(cases):
                    rng = np.random.default_rng([seed, k, list(CASES).index(kind), requant == "float"])
                    path = os.path.join(tmp, "%s-%s-%d.sbm" % (kind, requant, k))
                    err = check_case(exe, path, kind, requant, rng, tmp)
                    runs += 1
                    if err:
                        failures.append("%s %s seed (%d,%d): %s" % (kind, requant, seed, k, err))
    for f in failures:
        print("FAIL:", f)
    print("%d single-op models x 2 C kernel sets, %d failures" % (runs, len(failures)))
    return 1 if failures else 0


def check_case(exe, path, kind, requant, rng, tmp):
    model = make_model(path, kind, requant, rng)
    x = sbtest.random_input(model, rng)
    if rng.random() < 0.2:
        x[...] = rng.choice([-128, 127])          # a constant input at an extreme
    ref_out, ref_acts = sbtest.run_model(model, x)
    for ref in (False, True):
        try:
            c_out, c_acts = sbtest.c_run(exe, path, x, tmp, ref=ref, dump=True)
        except sbtest.CRunError as e:
            return str(e)
        diff = sbtest.first_difference(model, ref_acts, c_acts)
        if diff:
            return "%s kernels: %s (model kept at %s)" % ("--ref" if ref else "fast", diff, keep(path))
    return None


def keep(path):
    """Copy a failing model out of the temporary folder for a look by hand."""
    import shutil
    dst = os.path.join(tempfile.gettempdir(), "sbm-fail-" + os.path.basename(path))
    shutil.copy(path, dst)
    return dst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
