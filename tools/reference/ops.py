"""The integer arithmetic of docs/model-format.md in numpy, written from the
document alone (not from the C kernels), one function per op.

Integers are held in int64 and wrapped or checked where the document's int32
arithmetic says so. Convolutions sum in float64 through BLAS: every term is an
integer of at most 255 * 127 and every partial sum stays far below 2^53, so the
float64 sum is exact whatever order BLAS adds in.
"""
import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _wrap32(v):
    """int64 -> the int32 two's-complement value (C's (int32_t)(uint32_t) cast)."""
    v = np.asarray(v, np.int64) & 0xFFFFFFFF
    return np.where(v >= (1 << 31), v - (1 << 32), v)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul of int32 values (numpy, broadcasting)."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    q = np.sign(v) * (np.abs(v) >> 31)          # division truncating toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, q)


def rdbp(x, e):
    """RoundingDivideByPOT, e in 0..31 (arithmetic shift, ties away from zero)."""
    x = np.asarray(x, np.int64)
    e = np.asarray(e, np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x, m, s):
    """MultiplyByQuantizedMultiplier: x int32, m in [2^30, 2^31) or 0, s in -31..30."""
    s = np.asarray(s, np.int64)
    left = np.where(s > 0, s, 0)
    right = np.where(s > 0, 0, -s)
    xl = _wrap32(np.asarray(x, np.int64) << left)
    return rdbp(srdhm(xl, m), right)


def fround(acc, f):
    """Float mode: (int32) rintf((float)acc * f) in float32, round half to even."""
    p = np.asarray(acc).astype(np.float32) * np.asarray(f, np.float32)
    assert p.dtype == np.float32
    return np.rint(p).astype(np.int64)


def clamp(v, lo, hi):
    return np.clip(v, lo, hi).astype(np.int8)


def out_dim(n, k, stride, dil, pad_a, pad_b):
    return (n + pad_a + pad_b - dil * (k - 1) - 1) // stride + 1


def _requant_channels(acc, op, model):
    """conv/dwconv/fc output stage: acc int64 [..., O] -> int64 before zo."""
    if model.requant == "fixed":
        return mbqm(acc, model.arrays[op["multiplier"]], model.arrays[op["shift"]])
    return fround(acc, model.arrays[op["scale_f32"]])


def _padded(x, zi, pad):
    """x int8 [1,H,W,C] -> (x - zi) as int64 [H+pt+pb, W+pl+pr, C], zeros in the padding
    (a padded tap contributes nothing: it is the value zi)."""
    t, l, b, r = pad
    xs = x[0].astype(np.int64) - zi
    return np.pad(xs, ((t, b), (l, r), (0, 0)))


def _taps(xp, kh, kw, stride, dil, oh, ow):
    """Yield (i, j, view [oh, ow, C]) for each kernel tap."""
    sh, sw = stride
    dh, dw = dil
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            yield i, j, xp[y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :]


def conv2d(x, zi, w, bias, stride, dil, pad, oh, ow):
    """acc int64 [oh, ow, O] = bias + sum (x - zi) * w; w int8 [O,KH,KW,I]."""
    o, kh, kw, i = w.shape
    xp = _padded(x, zi, pad)
    cols = np.empty((oh, ow, kh, kw, i), np.float64)
    for a, b, v in _taps(xp, kh, kw, stride, dil, oh, ow):
        cols[:, :, a, b, :] = v
    acc = cols.reshape(oh * ow, -1) @ w.reshape(o, -1).astype(np.float64).T
    return np.rint(acc).astype(np.int64).reshape(oh, ow, o) + bias.astype(np.int64)


def dwconv2d(x, zi, w, bias, stride, dil, pad, oh, ow):
    """Depthwise: channel c reads only input channel c; w int8 [1,KH,KW,C]."""
    _, kh, kw, c = w.shape
    xp = _padded(x, zi, pad)
    acc = np.zeros((oh, ow, c), np.int64)
    for a, b, v in _taps(xp, kh, kw, stride, dil, oh, ow):
        acc += v * w[0, a, b, :].astype(np.int64)
    return acc + bias.astype(np.int64)


def fc(x, zi, w, bias):
    xs = x.reshape(-1).astype(np.float64) - zi
    acc = w.astype(np.float64) @ xs
    return np.rint(acc).astype(np.int64) + bias.astype(np.int64)


def run_conv_like(op, model, x, t_in, t_out):
    """conv2d / dwconv2d / fc: the whole op, output int8 of the output tensor's shape."""
    w = model.arrays[op["inputs"][1]]
    bias = model.arrays[op["inputs"][2]]
    zi, zo = t_in["zero_point"], t_out["zero_point"]
    if op["type"] == "fc":
        acc = fc(x, zi, w, bias)
    else:
        oh, ow = t_out["shape"][1], t_out["shape"][2]
        f = conv2d if op["type"] == "conv2d" else dwconv2d
        acc = f(x, zi, w, bias, op["stride"], op["dilation"], op["padding"], oh, ow)
    _check_int32(acc, op)
    r = _requant_channels(acc, op, model)
    return clamp(zo + r, op["act_min"], op["act_max"]).reshape(t_out["shape"])


def _check_int32(acc, op):
    if acc.size and (acc.max() > INT32_MAX or acc.min() < INT32_MIN):
        raise OverflowError("op %s: accumulator leaves int32" % op["name"])


def add(op, model, a, b, ta, tb, to):
    da = a.astype(np.int64) - ta["zero_point"]
    db = b.astype(np.int64) - tb["zero_point"]
    if model.requant == "fixed":
        ls = op["left_shift"]
        la = mbqm(da << ls, op["multiplier"], op["shift"])
        lb = mbqm(db << ls, op["multiplier_b"], op["shift_b"])
        s = la + lb
        if s.size and (s.max() > INT32_MAX or s.min() < INT32_MIN):
            raise OverflowError("op %s: la + lb leaves int32" % op["name"])
        r = mbqm(s, op["multiplier_out"], op["shift_out"])
    else:
        fa = np.float32(op["scale_f32"]) * da.astype(np.float32)
        fb = np.float32(op["scale_b_f32"]) * db.astype(np.float32)
        r = np.rint(fa + fb).astype(np.int64)
    return clamp(to["zero_point"] + r, op["act_min"], op["act_max"])


def mul(op, model, a, b, ta, tb, to):
    p = (a.astype(np.int64) - ta["zero_point"]) * (b.astype(np.int64) - tb["zero_point"])
    if model.requant == "fixed":
        r = mbqm(p, op["multiplier"], op["shift"])
    else:
        r = fround(p, op["scale_f32"])
    return clamp(to["zero_point"] + r, op["act_min"], op["act_max"])


def gavgpool(op, model, x, ti, to):
    s = (x.astype(np.int64) - ti["zero_point"]).sum(axis=(1, 2), keepdims=True)
    if model.requant == "fixed":
        r = mbqm(s, op["multiplier"], op["shift"])
    else:
        r = fround(s, op["scale_f32"])
    return clamp(to["zero_point"] + r, op["act_min"], op["act_max"])


def maxpool(op, x, t_out):
    """Max over the window's valid positions (padding never wins), then clamp."""
    kh, kw = op["kernel"]
    t, l, b, r = op["padding"]
    oh, ow = t_out["shape"][1], t_out["shape"][2]
    xp = np.pad(x[0].astype(np.int64), ((t, b), (l, r), (0, 0)), constant_values=-(1 << 20))
    best = np.full((oh, ow, x.shape[3]), -(1 << 20), np.int64)
    for _, _, v in _taps(xp, kh, kw, op["stride"], (1, 1), oh, ow):
        best = np.maximum(best, v)
    return clamp(best, op.get("act_min", -128), op.get("act_max", 127))[None]


def lut(op, model, x):
    table = model.arrays[op["table"]].reshape(256)
    return table[x.astype(np.int64) + 128]
