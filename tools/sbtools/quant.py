"""Quantisation maths of the exporter (docs/model-format.md, "Where the
parameters come from"): activation and weight scales, QuantizeMultiplier,
and the per-op requantisation parameters. Scales are float32 values (what the
file stores) and every derived parameter is computed from those float32
values, so that file and parameters agree.
"""
import math

import numpy as np

ADD_LEFT_SHIFT = 20


def act_qparams(lo, hi):
    """Asymmetric int8 (scale, zero_point) covering [lo, hi] and 0."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(round(-128 - lo / scale))
    return scale, max(-128, min(127, zp))


def weight_qparams(w):
    """Symmetric per-output-channel int8 weights: w float [O, ...] ->
    (q int8 [O, ...], scales float32 [O])."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1).astype(np.float64)
    scales = np.where(flat > 0, flat / 127.0, 1.0).astype(np.float32)
    bshape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scales.astype(np.float64).reshape(bshape)), -127, 127)
    return q.astype(np.int8), scales


def quantize_bias(b, s_in, s_w):
    """int32 bias = round(b / (s_in * s_w[o]))."""
    v = np.round(np.asarray(b, np.float64) / (float(s_in) * s_w.astype(np.float64)))
    return np.clip(v, -2**31, 2**31 - 1).astype(np.int32)


def quantize_multiplier(e):
    """TFLite QuantizeMultiplier: e (double) -> (m int32, shift int)."""
    if e == 0.0:
        return 0, 0
    q, s = math.frexp(e)
    m = int(round(q * (1 << 31)))
    if m == (1 << 31):
        m //= 2
        s += 1
    if s < -31:
        return 0, 0
    if s > 30:
        raise ValueError("effective scale %g too large for a shift <= 30" % e)
    return m, s


def multipliers(effective):
    """Per-channel QuantizeMultiplier of an array of effective scales."""
    ms = [quantize_multiplier(float(e)) for e in effective]
    return (np.array([m for m, _ in ms], np.int32), np.array([s for _, s in ms], np.int32))


def add_params(s_a, s_b, s_out):
    """TFLite's int8 add: inputs to a common scale twice the larger one,
    shifted left by 20 bits, then one output multiplier."""
    twice_max = 2.0 * max(s_a, s_b)
    ma, sa = quantize_multiplier(s_a / twice_max)
    mb, sb = quantize_multiplier(s_b / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * s_out))
    return {"left_shift": ADD_LEFT_SHIFT, "multiplier": ma, "shift": sa,
            "multiplier_b": mb, "shift_b": sb, "multiplier_out": mo, "shift_out": so}


def act_clamp(act, scale, zp):
    """act_min/act_max of a fused ReLU/ReLU6 in the int8 output domain."""
    if act == "none":
        return -128, 127
    lo = max(-128, zp)
    if act == "relu":
        return lo, 127
    if act == "relu6":
        return lo, min(127, zp + int(round(6.0 / scale)))
    raise ValueError("unknown fused activation %r" % act)


LUT_FUNCS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "hardswish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hardsigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "tanh": np.tanh,
}


def lut_table(func, s_in, z_in, s_out, z_out):
    """table[i] = clamp(round(f(s_in * (i - 128 - z_in)) / s_out) + z_out), in double."""
    q = np.arange(256, dtype=np.float64) - 128.0
    y = LUT_FUNCS[func](float(s_in) * (q - z_in))
    return np.clip(np.round(y / float(s_out)) + z_out, -128, 127).astype(np.int8)
