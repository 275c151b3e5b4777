"""A float graph captured from a PyTorch module with torch.fx, in the op set
of docs/model-format.md, before quantisation.

capture() walks the traced graph once, mapping every node to an op or to an
alias of its input (dropout, flatten, stochastic depth in eval); passes then
fold BatchNorm into convolutions, fuse ReLU/ReLU6 into their producer and fold
the input normalisation into the first convolution. FloatGraph.run() executes
it with torch (NCHW), which calibration and the fp32 comparison use.
"""
import operator

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

_ACT_MODULES = [(nn.ReLU6, "relu6"), (nn.ReLU, "relu"), (nn.SiLU, "silu"), (nn.Sigmoid, "sigmoid"),
                (nn.Hardswish, "hardswish"), (nn.Hardsigmoid, "hardsigmoid"), (nn.Tanh, "tanh")]
_ACT_FUNCS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.silu: "silu",
              torch.sigmoid: "sigmoid", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
              torch.tanh: "tanh"}
_ACT_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
_ALIAS_MODULES = (nn.Dropout, nn.Identity, nn.Flatten)
_ALIAS_FUNCS = {torch.flatten, F.dropout, torch.reshape}
_ALIAS_METHODS = {"flatten", "view", "reshape", "contiguous", "squeeze"}
_FLOAT_ACT = {"relu": torch.relu, "relu6": lambda x: torch.clamp(x, 0.0, 6.0), "silu": F.silu,
              "sigmoid": torch.sigmoid, "hardswish": F.hardswish,
              "hardsigmoid": F.hardsigmoid, "tanh": torch.tanh, "none": lambda x: x}


class CaptureError(Exception):
    """A module graph that the op set does not cover; names the node."""


class Op:
    def __init__(self, type_, name, inputs, **params):
        self.type = type_
        self.name = name
        self.inputs = list(inputs)
        self.output = None
        self.act = "none"
        self.p = params


class FloatGraph:
    def __init__(self):
        self.tensor_names = ["input"]
        self.ops = []
        self.output = None

    def new_tensor(self, name):
        self.tensor_names.append(name)
        return len(self.tensor_names) - 1

    def consumers(self, t):
        return [op for op in self.ops if t in op.inputs]

    def producer(self, t):
        for op in self.ops:
            if op.output == t:
                return op
        return None

    @torch.no_grad()
    def run(self, x, record=None):
        """Run on x (float NCHW, pixel/255); record(t, value) sees every tensor."""
        vals = {0: x}
        if record:
            record(0, x)
        for op in self.ops:
            y = _run_op(op, [vals[t] for t in op.inputs])
            vals[op.output] = y
            if record:
                record(op.output, y)
        return vals[self.output]


def _run_op(op, xs):
    p = op.p
    if op.type in ("conv2d", "dwconv2d"):
        x = xs[0]
        t, l, b, r = p["padding"]
        if t != b or l != r:
            x, pad = F.pad(x, (l, r, t, b)), (0, 0)
        else:
            pad = (t, l)
        y = F.conv2d(x, p["w"], p["b"], p["stride"], pad, p["dilation"], p["groups"])
    elif op.type == "fc":
        y = F.linear(xs[0].flatten(1), p["w"], p["b"])
    elif op.type == "add":
        y = xs[0] + xs[1]
    elif op.type == "mul":
        y = xs[0] * xs[1]
    elif op.type == "gavgpool":
        y = xs[0].mean(dim=(2, 3), keepdim=True)
    elif op.type == "maxpool":
        t, l, b, r = p["padding"]
        x = F.pad(xs[0], (l, r, t, b), value=float("-inf")) if (t, l) != (b, r) else xs[0]
        pad = (0, 0) if (t, l) != (b, r) else (t, l)
        y = F.max_pool2d(x, p["kernel"], p["stride"], pad)
    elif op.type == "lut":
        return _FLOAT_ACT[op.act](xs[0])
    elif op.type == "bn":
        y = F.batch_norm(xs[0], p["mean"], p["var"], p["weight"], p["bias"], False, 0.0, p["eps"])
    else:
        raise CaptureError("unknown op type %s" % op.type)
    return _FLOAT_ACT[op.act](y)


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_op(name, m, x):
    if m.padding_mode != "zeros":
        raise CaptureError("%s: padding_mode %r, only 'zeros' is supported" % (name, m.padding_mode))
    if isinstance(m.padding, str):
        raise CaptureError("%s: string padding %r unsupported; use integers" % (name, m.padding))
    if m.groups == 1:
        kind = "conv2d"
    elif m.groups == m.in_channels == m.out_channels:
        kind = "dwconv2d"
    else:
        raise CaptureError("%s: grouped convolution (groups=%d, in=%d, out=%d) not in the op set"
                           % (name, m.groups, m.in_channels, m.out_channels))
    ph, pw = _pair(m.padding)
    b = m.bias.detach().clone() if m.bias is not None else torch.zeros(m.out_channels)
    return Op(kind, name, [x], w=m.weight.detach().clone().float(), b=b.float(),
              stride=_pair(m.stride), dilation=_pair(m.dilation), padding=(ph, pw, ph, pw),
              groups=m.groups)


def _is_gap_size(v):
    return v == 1 or tuple(v) in ((1, 1),)


def capture(model):
    """Trace `model` (eval mode) into a FloatGraph; CaptureError when a node
    is outside the op set."""
    model = model.eval()
    gm = fx.symbolic_trace(model)
    g = FloatGraph()
    env = {}

    def add(op, node):
        op.output = g.new_tensor(node.name)
        g.ops.append(op)
        env[node] = op.output

    def tensor_arg(node, a):
        if not isinstance(a, fx.Node) or a not in env:
            raise CaptureError("%s: argument %r is not a tensor of the graph" % (node.name, a))
        return env[a]

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if env:
                raise CaptureError("%s: more than one graph input" % node.name)
            env[node] = 0
        elif node.op == "output":
            g.output = tensor_arg(node, node.args[0])
        elif node.op == "call_module":
            _module_node(g, gm.get_submodule(node.target), node, env, add, tensor_arg)
        elif node.op in ("call_function", "call_method"):
            _function_node(g, node, env, add, tensor_arg)
        else:
            raise CaptureError("%s: fx node kind %s (%s) not supported" % (node.name, node.op, node.target))
    _fold_batchnorm(g)
    _fuse_relu(g)
    return g


def _module_node(g, m, node, env, add, tensor_arg):
    x = tensor_arg(node, node.args[0])
    name = node.target
    for cls, act in _ACT_MODULES:
        if type(m) is cls:
            op = Op("lut", name, [x])
            op.act = act
            return add(op, node)
    if isinstance(m, nn.Hardtanh) and m.min_val == 0.0 and m.max_val == 6.0:
        op = Op("lut", name, [x])
        op.act = "relu6"
        return add(op, node)
    if isinstance(m, nn.Conv2d):
        return add(_conv_op(name, m, x), node)
    if isinstance(m, nn.BatchNorm2d):
        return add(Op("bn", name, [x], mean=m.running_mean.detach().clone(),
                      var=m.running_var.detach().clone(), weight=m.weight.detach().clone(),
                      bias=m.bias.detach().clone(), eps=m.eps), node)
    if isinstance(m, nn.Linear):
        b = m.bias.detach().clone() if m.bias is not None else torch.zeros(m.out_features)
        return add(Op("fc", name, [x], w=m.weight.detach().clone().float(), b=b.float()), node)
    if isinstance(m, nn.AdaptiveAvgPool2d) and _is_gap_size(m.output_size):
        return add(Op("gavgpool", name, [x]), node)
    if isinstance(m, nn.MaxPool2d):
        if m.ceil_mode or _pair(m.dilation) != (1, 1):
            raise CaptureError("%s: MaxPool2d with ceil_mode or dilation not supported" % name)
        ph, pw = _pair(m.padding)
        stride = _pair(m.stride if m.stride is not None else m.kernel_size)
        return add(Op("maxpool", name, [x], kernel=_pair(m.kernel_size), stride=stride,
                      padding=(ph, pw, ph, pw)), node)
    if isinstance(m, _ALIAS_MODULES) or type(m).__name__ == "StochasticDepth":
        env[node] = x
        return None
    raise CaptureError("%s: module %s not in the op set" % (name, type(m).__name__))


def _function_node(g, node, env, add, tensor_arg):
    t = node.target
    fname = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    if t in (operator.add, torch.add, operator.iadd) or fname in ("add", "__add__", "add_"):
        if len(node.args) != 2 or node.kwargs:
            raise CaptureError("%s: add with alpha/extra arguments not supported" % node.name)
        return add(Op("add", node.name, [tensor_arg(node, a) for a in node.args]), node)
    if t in (operator.mul, torch.mul, operator.imul) or fname in ("mul", "__mul__", "mul_"):
        return add(Op("mul", node.name, [tensor_arg(node, a) for a in node.args]), node)
    x = tensor_arg(node, node.args[0])
    act = _ACT_FUNCS.get(t) if not isinstance(t, str) else _ACT_METHODS.get(t)
    if act:
        op = Op("lut", node.name, [x])
        op.act = act
        return add(op, node)
    if t is F.adaptive_avg_pool2d:
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        if _is_gap_size(size):
            return add(Op("gavgpool", node.name, [x]), node)
    if t is torch.mean or fname == "mean":
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if dims is not None and sorted(int(d) % 4 for d in dims) == [2, 3]:
            return add(Op("gavgpool", node.name, [x]), node)
    if fname == "stochastic_depth":
        env[node] = x
        return None
    if t in _ALIAS_FUNCS or (isinstance(t, str) and t in _ALIAS_METHODS):
        env[node] = x
        return None
    raise CaptureError("%s: %s %s not in the op set" % (node.name, node.op, fname))


def _fold_batchnorm(g):
    for bn in [op for op in g.ops if op.type == "bn"]:
        conv = g.producer(bn.inputs[0])
        if conv is None or conv.type not in ("conv2d", "dwconv2d") or len(g.consumers(conv.output)) != 1:
            raise CaptureError("%s: BatchNorm not directly after a convolution it alone reads" % bn.name)
        p = bn.p
        k = p["weight"] / torch.sqrt(p["var"] + p["eps"])
        conv.p["w"] = conv.p["w"] * k.reshape(-1, 1, 1, 1)
        conv.p["b"] = (conv.p["b"] - p["mean"]) * k + p["bias"]
        _bypass(g, bn, conv)


def _bypass(g, op, producer):
    """Remove `op`, making `producer` write op's output tensor."""
    producer.output = op.output
    g.ops.remove(op)


def _fuse_relu(g):
    for op in [o for o in g.ops if o.type == "lut" and o.act in ("relu", "relu6")]:
        prod = g.producer(op.inputs[0])
        if (prod is not None and prod.type in ("conv2d", "dwconv2d", "fc", "add") and prod.act == "none"
                and len(g.consumers(prod.output)) == 1 and prod.output != g.output):
            prod.act = op.act
            _bypass(g, op, prod)


def fold_normalization(g, mean, std):
    """Make the graph input pixel/255 instead of (pixel/255 - mean) / std
    (mean 0 and std 1: already so).

    When the first conv does not pad, the normalisation folds exactly into its
    float weights and bias. When it pads, folding would pad with black pixels
    (-mean/std after normalisation, far outside what the network saw in
    training) instead of zeros (the mean colour): measured, that alone moved
    the top-1 of a trained 64 px model on ~40% of images. Then a 1x1 dwconv2d
    "input_norm" computes the normalised input first, and the conv pads it
    with real zeros as in training."""
    if list(map(float, mean)) == [0.0] * 3 and list(map(float, std)) == [1.0] * 3:
        # Trained on pixel/255 itself (tools/train's default): nothing to fold. An identity
        # input_norm op would only cost a pass over the image and round pixel 255 down.
        return "none (trained on pixel/255)"
    users = g.consumers(0)
    if len(users) != 1 or users[0].type != "conv2d":
        raise CaptureError("input normalisation: the graph input must feed exactly one conv2d")
    conv = users[0]
    mean = torch.tensor(mean, dtype=torch.float64)
    std = torch.tensor(std, dtype=torch.float64)
    if any(conv.p["padding"]):
        norm = Op("dwconv2d", "input_norm", [0], w=(1.0 / std).float().reshape(3, 1, 1, 1),
                  b=(-mean / std).float(), stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), groups=3)
        norm.output = g.new_tensor("input_norm")
        conv.inputs = [norm.output]
        g.ops.insert(0, norm)
        return "input_norm op (first conv pads)"
    w = conv.p["w"].double()
    conv.p["b"] = (conv.p["b"].double() - (w * (mean / std).reshape(1, -1, 1, 1)).sum(dim=(1, 2, 3))).float()
    conv.p["w"] = (w / std.reshape(1, -1, 1, 1)).float()
    return "folded into the first conv"
