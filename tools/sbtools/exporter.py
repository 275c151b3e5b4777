"""Float PyTorch model -> .sbm: capture (sbtools.graph), calibrate activation
ranges on images, quantise (sbtools.quant), write (sbtools.sbm).
"""
import numpy as np
import torch

from . import graph as fgraph
from . import quant
from .sbm import Builder, f32

INPUT_SCALE = 1.0 / 255.0
INPUT_ZP = -128
F32_LIMIT_BYTES = 20 * 1000 * 1000
_RESERVOIR = 1 << 18


class Calibrator:
    """Per-tensor activation ranges: min/max, or percentiles over a random
    sample of each tensor's values (a fixed-size reservoir per tensor)."""

    def __init__(self, method="minmax", percentile=99.99, seed=0):
        if method not in ("minmax", "percentile"):
            raise ValueError("calibration method %r, expected minmax|percentile" % method)
        self.method, self.percentile = method, percentile
        self.lo, self.hi, self.samples = {}, {}, {}
        self.gen = torch.Generator().manual_seed(seed)

    def record(self, t, v):
        v = v.detach().float().flatten()
        lo, hi = float(v.min()), float(v.max())
        self.lo[t] = min(lo, self.lo.get(t, lo))
        self.hi[t] = max(hi, self.hi.get(t, hi))
        if self.method == "percentile":
            if v.numel() > _RESERVOIR // 8:
                v = v[torch.randint(v.numel(), (_RESERVOIR // 8,), generator=self.gen)]
            s = self.samples.setdefault(t, [])
            s.append(v.numpy())
            if sum(len(a) for a in s) > 2 * _RESERVOIR:
                allv = np.concatenate(s)
                keep = np.random.default_rng(len(s)).choice(len(allv), _RESERVOIR, replace=False)
                self.samples[t] = [allv[keep]]

    def range(self, t):
        if self.method == "minmax":
            return self.lo[t], self.hi[t]
        allv = np.concatenate(self.samples[t])
        return (float(np.percentile(allv, 100.0 - self.percentile)),
                float(np.percentile(allv, self.percentile)))


def calibrate(g, batches, method="minmax", percentile=99.99):
    """batches: iterable of uint8 NHWC numpy arrays. Returns (Calibrator, n_images)."""
    cal = Calibrator(method, percentile)
    n = 0
    for b in batches:
        g.run(to_float_nchw(b), cal.record)
        n += len(b)
    if n == 0:
        raise ValueError("calibration: no images")
    return cal, n


def first_images(pixels, idx, batch=8):
    """Calibration batches: uint8 NHWC arrays of pixels[idx], `batch` images at a time. The
    percentile reservoir depends on the batch boundaries, so every calibrating tool uses this."""
    return (np.asarray(pixels[idx[i:i + batch]]) for i in range(0, len(idx), batch))


def calibration_record(method, percentile, n, **extra):
    """What the file's provenance says about its calibration."""
    return {"method": method, "images": n,
            **({"percentile": percentile} if method == "percentile" else {}), **extra}


def act_qparams_of(g, cal):
    """(scale, zero point) of every tensor of g: the input's fixed ones, maxpool's its input's,
    every other op output's from its calibrated range."""
    qp = {0: (f32(INPUT_SCALE), INPUT_ZP)}
    for op in g.ops:
        qp[op.output] = (qp[op.inputs[0]] if op.type == "maxpool"
                         else quant.act_qparams(*cal.range(op.output)))
    return qp


def to_float_nchw(pixels_nhwc_u8):
    """uint8 NHWC pixels -> float NCHW pixel/255 (the folded graph's input)."""
    return torch.from_numpy(np.ascontiguousarray(pixels_nhwc_u8)).permute(0, 3, 1, 2).float() / 255.0


def _shapes(g, size):
    shapes = {}
    g.run(torch.zeros(1, 3, size, size), lambda t, v: shapes.__setitem__(t, tuple(v.shape)))
    return shapes


def _nhwc(shape):
    if len(shape) == 4:
        return [1, shape[2], shape[3], shape[1]]
    return [1, int(np.prod(shape[1:]))]


def quantize_graph(g, cal, size, requant, name, with_f32=False):
    """Build the .sbm (sbtools.sbm.Builder) of a calibrated FloatGraph."""
    shapes = _shapes(g, size)
    b = Builder(name, requant)
    qp = act_qparams_of(g, cal)
    b.input = b.activation("input", [1, size, size, 3], INPUT_SCALE, INPUT_ZP)
    tmap = {0: b.input}
    f32_bytes = [0]
    for op in g.ops:
        ins = [tmap[t] for t in op.inputs]
        emit = _EMIT[op.type]
        fields = emit(b, op, ins, [qp[t] for t in op.inputs], qp[op.output],
                      [shapes[t] for t in op.inputs], with_f32, f32_bytes)
        out = b.activation(g.tensor_names[op.output], _nhwc(shapes[op.output]), *qp[op.output])
        tmap[op.output] = out
        fields.update(type=op.type, name=op.name, inputs=ins, output=out)
        b.op(**fields)
    b.output = tmap[g.output]
    total = sum(len(raw) for _, raw in b._data)
    if with_f32 and total > F32_LIMIT_BYTES:
        raise ValueError("--with-f32: the file would hold %d bytes of tensors (%d of them float "
                         "weights), over the %d-byte limit; export without --with-f32 (the fp32 "
                         "path then dequantises the int8 weights)" % (total, f32_bytes[0], F32_LIMIT_BYTES))
    return b


def _requant_fields(b, op, s_in, s_w, s_out, requant):
    e = float(s_in) * s_w.astype(np.float64) / float(s_out)
    if requant == "fixed":
        m, s = quant.multipliers(e)
        return {"multiplier": b.constant(op.name + ".multiplier", m),
                "shift": b.constant(op.name + ".shift", s)}
    return {"scale_f32": b.constant(op.name + ".scale_f32", e.astype(np.float32))}


def _act_fields(act, qout):
    lo, hi = quant.act_clamp(act, *qout)
    return {"act": act, "act_min": lo, "act_max": hi}


def _emit_conv(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    w = op.p["w"].double().numpy()
    if op.type == "fc":
        in_shape = in_shapes[0]
        if len(in_shape) == 4 and in_shape[2] * in_shape[3] > 1:
            # torch flattens NCHW; the file's fc reads the NHWC flattening.
            c, h, wd = in_shape[1:]
            w = w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        wq, sw = quant.weight_qparams(w)
        layout = wq
        wf = w
    else:
        wq, sw = quant.weight_qparams(w)
        if op.type == "conv2d":
            layout, wf = wq.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1)
        else:
            layout, wf = wq[:, 0].transpose(1, 2, 0)[None], w[:, 0].transpose(1, 2, 0)[None]
    s_in = qins[0][0]
    bias = op.p["b"].double().numpy()
    cs = b.constant(op.name + ".w_scales", sw)
    wi = b.constant(op.name + ".w", np.ascontiguousarray(layout), channel_scales=cs)
    bi = b.constant(op.name + ".bias", quant.quantize_bias(bias, s_in, sw))
    fields = _requant_fields(b, op, s_in, sw, qout[0], b.requant)
    fields.update(_act_fields(op.act, qout))
    if op.type != "fc":
        fields.update(kernel=[int(w.shape[2]), int(w.shape[3])], stride=list(op.p["stride"]),
                      dilation=list(op.p["dilation"]), padding=list(op.p["padding"]))
    if with_f32:
        fields["weights_f32"] = b.constant(op.name + ".w_f32", np.ascontiguousarray(wf, np.float32))
        fields["bias_f32"] = b.constant(op.name + ".bias_f32", bias.astype(np.float32))
        f32_bytes[0] += 4 * (wf.size + bias.size)
    ins.extend([wi, bi])
    return fields


def _emit_add(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    if in_shapes[0] != in_shapes[1]:
        raise fgraph.CaptureError("%s: add of shapes %s and %s (broadcast add unsupported)"
                                  % (op.name, in_shapes[0], in_shapes[1]))
    (sa, _), (sb, _), (so, _) = qins[0], qins[1], qout
    fields = _act_fields(op.act, qout)
    if b.requant == "fixed":
        fields.update(quant.add_params(sa, sb, so))
    else:
        fields.update(scale_f32=f32(sa / so), scale_b_f32=f32(sb / so))
    return fields


def _emit_mul(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    a, c = in_shapes
    if len(a) == 4 and len(c) == 4 and a[2:] == (1, 1) and c[2:] != (1, 1):
        ins.reverse()
        qins = qins[::-1]
        a, c = c, a
    if not (c == a or (c[1] == a[1] and c[2:] == (1, 1))):
        raise fgraph.CaptureError("%s: mul of shapes %s and %s, expected equal or [1,C,1,1]"
                                  % (op.name, a, c))
    e = qins[0][0] * qins[1][0] / qout[0]
    fields = _act_fields("none", qout)
    fields.update(_scalar_requant(b, e))
    return fields


def _scalar_requant(b, e):
    if b.requant == "fixed":
        m, s = quant.quantize_multiplier(e)
        return {"multiplier": m, "shift": s}
    return {"scale_f32": f32(e)}


def _emit_gavgpool(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    h, w = in_shapes[0][2:]
    fields = _act_fields("none", qout)
    fields.update(_scalar_requant(b, qins[0][0] / (qout[0] * h * w)))
    return fields


def _emit_maxpool(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    fields = _act_fields("none", qout)
    fields.update(kernel=list(op.p["kernel"]), stride=list(op.p["stride"]),
                  padding=list(op.p["padding"]))
    return fields


def _emit_lut(b, op, ins, qins, qout, in_shapes, with_f32, f32_bytes):
    table = quant.lut_table(op.act, qins[0][0], qins[0][1], qout[0], qout[1])
    fields = {"act": op.act, "act_min": -128, "act_max": 127}
    fields["table"] = b.constant(op.name + ".table", table)
    return fields


_EMIT = {"conv2d": _emit_conv, "dwconv2d": _emit_conv, "fc": _emit_conv, "add": _emit_add,
         "mul": _emit_mul, "gavgpool": _emit_gavgpool, "maxpool": _emit_maxpool, "lut": _emit_lut}


# ------------------------------------------------------------ models and driver

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def random_model(arch, n_classes=7, width=1.0, seed=0, size=64):
    """A seeded random-weight model for hardware studies and tests. BatchNorm
    statistics come from a few training-mode passes on random pixels, so that
    activations keep a realistic spread through the depth of the network."""
    import torchvision
    torch.manual_seed(seed)
    if arch == "effnet_b0":
        from torchvision.models import efficientnet as tve
        settings, last = tve._efficientnet_conf("efficientnet_b0", width_mult=width, depth_mult=1.0)
        model = tve.EfficientNet(settings, 0.2, num_classes=n_classes, last_channel=last)
    elif arch == "mobilenet_v2":
        model = torchvision.models.mobilenet_v2(num_classes=n_classes, width_mult=width)
    else:
        raise ValueError("--random-arch %r, expected effnet_b0|mobilenet_v2" % arch)
    return randomize_bn(model, seed, size)


def randomize_bn(model, seed=0, size=64):
    """Seeded random BatchNorm affine parameters, and statistics from a few
    training-mode passes on random pixels, so that a random-weight network
    keeps a realistic spread of activations through its depth."""
    gen = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None   # cumulative average over the passes below
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            # Statistics at up to 96 px: enough for a spread, cheap at 224.
            s = min(size, 96)
            model((torch.rand(4, 3, s, s, generator=gen) - 0.45) / 0.226)
    return model.eval()


def random_batches(n, size, seed=0, batch=8):
    """Uniform random uint8 pixels, NHWC, for random-weight models."""
    rng = np.random.default_rng(seed)
    for i in range(0, n, batch):
        yield rng.integers(0, 256, size=(min(batch, n - i), size, size, 3), dtype=np.uint8)


def tool_versions():
    """Versions for the file's provenance. torchvision is recorded when installed, but not
    needed: a machine with only PyTorch (a borrowed GPU's) exports and fine-tunes
    (tools/train/qat.py) tools/train checkpoints without it."""
    import platform
    try:
        import torchvision
        tv = str(torchvision.__version__)
    except ImportError:
        tv = None
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": tv, "numpy": str(np.__version__), "exporter": "sbtools.exporter 1.0"}


def export_float_model(model, out_path, size, classes, normalize, batches, requant="fixed",
                       method="minmax", percentile=99.99, with_f32=False, name=None,
                       provenance=None):
    """Capture, calibrate, quantise and write one model. Returns (Builder, FloatGraph)."""
    g, how = prepare_graph(model, normalize)
    cal, n = calibrate(g, batches, method, percentile)
    calibration = calibration_record(method, percentile, n)
    b = write_graph(g, cal, out_path, size, classes, dict(normalize, applied=how), calibration,
                    requant, with_f32, name, provenance,
                    params=int(sum(p.numel() for p in model.parameters())))
    return b, g


def prepare_graph(model, normalize):
    """The float graph that gets quantised: captured, with the input
    normalisation folded. Returns (FloatGraph, how the normalisation went)."""
    g = fgraph.capture(model)
    return g, fgraph.fold_normalization(g, normalize["mean"], normalize["std"])


def write_graph(g, cal, out_path, size, classes, normalize, calibration, requant="fixed",
                with_f32=False, name=None, provenance=None, params=0):
    """Quantise a graph with the activation ranges of `cal` (a Calibrator or
    anything with .range(t)) and write it; provenance gains what was done."""
    b = quantize_graph(g, cal, size, requant, name or "model", with_f32)
    prov = dict(provenance or {})
    prov.update(input_size=size, requant=requant, normalize=normalize, calibration=calibration,
                tools=tool_versions(), ops=len(b.ops), params=params)
    b.write(out_path, classes, prov)
    return b
