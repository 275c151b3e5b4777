"""A model quantized by PyTorch's own post-training quantization
(torch.ao.quantization, eager mode, qnnpack or onednn engine) -> .sbm in
"float" requant mode, with the scales PyTorch uses.

PyTorch's activations are uint8 with zero point z in 0..255; ours are int8 with
zero point z - 128, and q - 128 maps one onto the other exactly. Weights are
qint8 with zero point 0: qnnpack's per-tensor scale is repeated per channel.
The graph input must be quantized with scale 1/255 and zero point 0 (pixel/255,
normalisation folded into the first convolution): then q_uint8 = pixel and the
.sbm input q = pixel - 128 is the same number.
"""

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn

from . import exporter
from .graph import CaptureError
from .sbm import Builder, f32

_QCONV = ("Conv2d", "ConvReLU2d")
_QLINEAR = ("Linear", "LinearReLU")


def _is_quantized_module(m, names):
    return type(m).__name__ in names and ".quantized" in type(m).__module__


def _qweight(m):
    """(int8 weights as stored by torch, float32 per-output-channel scales)."""
    w = m.weight()
    if w.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        if int(w.q_zero_point()) != 0:
            raise CaptureError("weights with zero point %d; expected symmetric" % w.q_zero_point())
        scales = np.full(w.shape[0], w.q_scale(), np.float32)
    else:
        if w.q_per_channel_axis() != 0 or bool((w.q_per_channel_zero_points() != 0).any()):
            raise CaptureError("per-channel weights must be symmetric along axis 0")
        scales = w.q_per_channel_scales().numpy().astype(np.float32)
    return w.int_repr().numpy().astype(np.int8), scales


def requant_scales(s_in, s_w, s_out):
    """float32 (s_w * s_in) * (1 / s_out), each step rounded to float32: how
    PyTorch's qnnpack convolution computes its requantisation scale (a
    quotient instead of the reciprocal's product differs in the last bit, and
    that moved ties: measured on MobileNetV2)."""
    inv_out = np.float32(1.0) / np.float32(s_out)
    return ((s_w.astype(np.float32) * np.float32(s_in)) * inv_out).astype(np.float32)


def quantize_bias(b, s_in, s_w):
    """int32 bias as PyTorch quantizes it at run time: rint(b * (1 / (s_in * s_w)))
    in float32 (a product with the reciprocal, which moves ties compared with
    a quotient: measured on MobileNetV2)."""
    inv = (np.float32(1.0) / (np.float32(s_in) * s_w.astype(np.float32))).astype(np.float32)
    return np.clip(np.rint(b.astype(np.float32) * inv), -2**31, 2**31 - 1).astype(np.int32)


class _Emitter:
    def __init__(self, name, size):
        self.b = Builder(name, "float")
        self.size = size
        self.env = {}       # fx node -> tensor index
        self.qp = {}        # tensor index -> (scale, int8 zero point)
        self.shape = {}     # tensor index -> NHWC shape

    def act(self, node_name, shape, scale, zp_uint8):
        zp = int(zp_uint8) - 128
        t = self.b.activation(node_name, shape, scale, zp)
        self.qp[t] = (float(np.float32(scale)), zp)
        self.shape[t] = shape
        return t

    def arg(self, node, a):
        if not isinstance(a, fx.Node) or a not in self.env:
            raise CaptureError("%s: argument %r is not a quantized tensor of the graph" % (node.name, a))
        return self.env[a]


def export_quantized(qmodel, out_path, size, classes, provenance, name="torchq"):
    """Write the .sbm of a converted (quantized) eager-mode model."""
    gm = fx.symbolic_trace(qmodel.eval())
    e = _Emitter(name, size)
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            e.b.output = e.arg(node, node.args[0])
        elif node.op == "call_module":
            _module(e, gm.get_submodule(node.target), node)
        elif node.op in ("call_function", "call_method"):
            _function(e, node)
        else:
            raise CaptureError("%s: fx node %s not supported" % (node.name, node.op))
    if e.b.input is None or e.b.output is None:
        raise CaptureError("no Quantize/DeQuantize pair found: not a converted quantized model")
    prov = dict(provenance)
    prov.update(input_size=size, requant="float", tools=exporter.tool_versions(), ops=len(e.b.ops))
    e.b.write(out_path, classes, prov)
    return e.b


def _module(e, m, node):
    tname = type(m).__name__
    if tname == "Quantize":
        if e.b.input is not None:
            raise CaptureError("%s: a second Quantize" % node.name)
        s, z = float(m.scale), int(m.zero_point)
        if f32(s) != f32(1.0 / 255.0) or z != 0 or m.dtype != torch.quint8:
            raise CaptureError("%s: input quantized with scale %g zero point %d (%s); expected "
                               "quint8 1/255 and 0 (pixel/255 with normalisation folded)"
                               % (node.name, s, z, m.dtype))
        e.b.input = e.act("input", [1, e.size, e.size, 3], s, z)
        e.env[node] = e.b.input
        return
    x = e.arg(node, node.args[0])
    if tname == "DeQuantize" or isinstance(m, nn.Identity) or tname == "Dropout":
        e.env[node] = x
    elif _is_quantized_module(m, _QCONV) or _is_quantized_module(m, _QLINEAR):
        e.env[node] = _conv(e, m, node, x)
    elif isinstance(m, nn.MaxPool2d):
        e.env[node] = _maxpool(e, m, node, x)
    elif isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1)):
        e.env[node] = _gavgpool(e, node, x)
    else:
        raise CaptureError("%s: module %s.%s not supported" % (node.name, type(m).__module__, tname))


def _conv(e, m, node, x):
    wq, sw = _qweight(m)
    s_in, zi = e.qp[x]
    s_out, zo_u8 = float(m.scale), int(m.zero_point)
    relu = type(m).__name__.endswith("ReLU2d") or type(m).__name__ == "LinearReLU"
    b = e.b
    bias = m.bias()
    bias = bias.detach().numpy() if bias is not None else np.zeros(wq.shape[0], np.float32)
    is_fc = _is_quantized_module(m, _QLINEAR)
    if is_fc:
        kind, layout, shape = "fc", wq, [1, wq.shape[0]]
        in_shape = e.shape[x]
        if len(in_shape) == 4 and in_shape[1] * in_shape[2] > 1:
            raise CaptureError("%s: fc on a %s tensor (flatten order) not supported" % (node.name, in_shape))
    else:
        if m.padding_mode != "zeros":
            raise CaptureError("%s: padding_mode %s" % (node.name, m.padding_mode))
        o, i, kh, kw = wq.shape
        cin = e.shape[x][3]
        if m.groups == 1:
            kind, layout = "conv2d", wq.transpose(0, 2, 3, 1)
        elif m.groups == cin == o and i == 1:
            kind, layout = "dwconv2d", wq[:, 0].transpose(1, 2, 0)[None]
        else:
            raise CaptureError("%s: grouped convolution (groups=%d)" % (node.name, m.groups))
        ph, pw = m.padding
        oh = (e.shape[x][1] + 2 * ph - m.dilation[0] * (kh - 1) - 1) // m.stride[0] + 1
        ow = (e.shape[x][2] + 2 * pw - m.dilation[1] * (kw - 1) - 1) // m.stride[1] + 1
        shape = [1, oh, ow, o]
    name = node.target
    cs = b.constant(name + ".w_scales", sw)
    wi = b.constant(name + ".w", np.ascontiguousarray(layout), channel_scales=cs)
    bi = b.constant(name + ".bias", quantize_bias(bias, s_in, sw))
    fi = b.constant(name + ".scale_f32", requant_scales(s_in, sw, s_out))
    out = e.act(node.name, shape, s_out, zo_u8)
    zo = zo_u8 - 128
    fields = dict(type=kind, name=name, inputs=[x, wi, bi], output=out, scale_f32=fi,
                  act="relu" if relu else "none", act_min=max(-128, zo) if relu else -128, act_max=127)
    if not is_fc:
        fields.update(kernel=[kh, kw], stride=list(m.stride), dilation=list(m.dilation),
                      padding=[ph, pw, ph, pw])
    b.op(**fields)
    return out


def _maxpool(e, m, node, x):
    k = quant_pair(m.kernel_size)
    st = quant_pair(m.stride if m.stride is not None else m.kernel_size)
    ph, pw = quant_pair(m.padding)
    if m.ceil_mode or quant_pair(m.dilation) != (1, 1):
        raise CaptureError("%s: MaxPool2d with ceil_mode/dilation" % node.name)
    h, w, c = e.shape[x][1:]
    oh = (h + 2 * ph - k[0]) // st[0] + 1
    ow = (w + 2 * pw - k[1]) // st[1] + 1
    s, z = e.qp[x]
    out = e.act(node.name, [1, oh, ow, c], s, z + 128)
    e.b.op(type="maxpool", name=node.name, inputs=[x], output=out, kernel=list(k), stride=list(st),
           padding=[ph, pw, ph, pw], act="none", act_min=-128, act_max=127)
    return out


def quant_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _gavgpool(e, node, x):
    """PyTorch's quantized adaptive average pool keeps the input's qparams."""
    s, z = e.qp[x]
    h, w, c = e.shape[x][1:]
    out = e.act(node.name, [1, 1, 1, c], s, z + 128)
    e.b.op(type="gavgpool", name=node.name, inputs=[x], output=out, act="none", act_min=-128,
           act_max=127, scale_f32=f32(np.float32(1.0) / np.float32(h * w)))
    return out


def _function(e, node):
    t = node.target
    fname = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    if fname in ("add", "add_relu") and "zero_point" in node.kwargs:
        a, c = e.arg(node, node.args[0]), e.arg(node, node.args[1])
        s_out, zo_u8 = float(node.kwargs["scale"]), int(node.kwargs["zero_point"])
        out = e.act(node.name, e.shape[a], s_out, zo_u8)
        zo = zo_u8 - 128
        relu = fname == "add_relu"
        so = np.float32(s_out)
        e.b.op(type="add", name=node.name, inputs=[a, c], output=out,
               act="relu" if relu else "none", act_min=max(-128, zo) if relu else -128, act_max=127,
               scale_f32=f32(np.float32(e.qp[a][0]) / so), scale_b_f32=f32(np.float32(e.qp[c][0]) / so))
        e.env[node] = out
        return
    x = e.arg(node, node.args[0])
    if fname == "adaptive_avg_pool2d" and quant_pair(node.args[1]) == (1, 1):
        e.env[node] = _gavgpool(e, node, x)
    elif fname in ("flatten", "reshape", "view", "contiguous", "dropout"):
        e.env[node] = x
    else:
        raise CaptureError("%s: %s %s not supported" % (node.name, node.op, fname))


# ------------------------------------------------ torchvision test models

def build_torchvision(arch, engine, size, batches, seed=0):
    """torchvision's quantizable `arch` (random init, seeded, BatchNorm
    statistics from random pixels), normalisation folded into the first conv,
    input fixed at 1/255, quantized by torch.ao.quantization with `engine`.
    Returns (quantized model, float model it came from)."""
    import copy
    import torchvision.models.quantization as tvq
    torch.backends.quantized.engine = engine
    if arch not in ("mobilenet_v2", "resnet18"):
        raise ValueError("--torch-quantized %r, expected mobilenet_v2|resnet18" % arch)
    torch.manual_seed(seed)
    float_model = exporter.randomize_bn(getattr(tvq, arch)(weights=None, quantize=False, num_classes=7),
                                        seed, size)
    fm = copy.deepcopy(float_model).eval()
    fm.fuse_model()
    first = fm.features[0][0] if arch == "mobilenet_v2" else fm.conv1
    _fold_normalization_module(first)
    fm.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    fm.quant.qconfig = torch.ao.quantization.QConfig(
        activation=torch.ao.quantization.FixedQParamsObserver.with_args(
            scale=1.0 / 255.0, zero_point=0, dtype=torch.quint8, quant_min=0, quant_max=255),
        weight=torch.ao.quantization.default_weight_observer)
    torch.ao.quantization.prepare(fm, inplace=True)
    with torch.no_grad():
        for b in batches:
            fm(exporter.to_float_nchw(b))
    torch.ao.quantization.convert(fm, inplace=True)
    return fm, float_model


def _fold_normalization_module(conv):
    """(x - mean) / std folded into a float Conv2d (after fuse_model)."""
    c = conv[0] if isinstance(conv, nn.Sequential) else conv
    mean = torch.tensor(exporter.IMAGENET_MEAN).reshape(1, -1, 1, 1)
    std = torch.tensor(exporter.IMAGENET_STD).reshape(1, -1, 1, 1)
    with torch.no_grad():
        w = c.weight.clone()
        if c.bias is None:
            c.bias = nn.Parameter(torch.zeros(w.shape[0]))
        c.bias -= (w * mean / std).sum(dim=(1, 2, 3))
        c.weight.copy_(w / std)


def export_torchvision(arch, out_path, size, engine, batches, seed=0, name="torchq"):
    batches = list(batches)
    qm, _ = build_torchvision(arch, engine, size, batches, seed)
    classes = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    prov = {"arch": "torchvision.models.quantization." + arch, "weights": "random", "seed": seed,
            "quantized_by": "torch.ao.quantization (eager, %s)" % engine,
            "calibration": {"images": sum(len(b) for b in batches)}}
    export_quantized(qm, out_path, size, classes, prov, name)
    return prov
