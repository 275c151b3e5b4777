"""Network architectures for srambench: EfficientNet-B0 and scaled members of its family.

Every model is built by `build(arch, **kwargs)` so that a checkpoint can name its architecture
as a string plus keyword arguments and tools/export can rebuild it. The models are made only of
standard modules (Conv2d, BatchNorm2d, activations, AdaptiveAvgPool2d, Linear, Dropout) joined by
add, mul and flatten, so torch.fx can trace them and the exporter can map every node to an .sbm op.

`effnet_b0` with the defaults is EfficientNet-B0 exactly (Tan & Le 2019; the same layers and
parameter count as torchvision's efficientnet_b0(num_classes=7), without stochastic depth, which
only acts during training). `effnet` scales it: width and depth multipliers, head channels,
activation, squeeze-excitation on or off. Resolution is not a layer property: the network is
fully convolutional up to the global pooling, so the input size is chosen at training time.
"""

import math

import torch
from torch import nn

# EfficientNet-B0 stages: (expand ratio, kernel, stride, input channels, output channels, repeats)
B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
B0_STEM_CHANNELS = 32
B0_HEAD_CHANNELS = 1280

ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hardswish": nn.Hardswish,
}


def make_divisible(value, divisor=8):
    """Round a channel count to a multiple of `divisor`, never dropping below 90% of it
    (the rule of the reference implementations, so width 1.0 gives B0's exact channels)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn_act(in_ch, out_ch, kernel, stride=1, groups=1, act="silu"):
    layers = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act is not None:
        layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """x * sigmoid(fc2(act(fc1(avgpool(x))))): the gate is a [N, C, 1, 1] tensor (a broadcast mul)."""

    def __init__(self, channels, squeeze_channels, act="silu"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = ACTIVATIONS[act]()
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        scale = self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))
        return x * scale


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, KxK depthwise, squeeze-excite, 1x1 project (linear),
    plus the identity shortcut when shapes allow."""

    def __init__(self, in_ch, out_ch, expand, kernel, stride, act="silu", se=True):
        super().__init__()
        mid = make_divisible(in_ch * expand)
        layers = []
        if mid != in_ch:
            layers.append(conv_bn_act(in_ch, mid, 1, act=act))
        layers.append(conv_bn_act(mid, mid, kernel, stride, groups=mid, act=act))
        if se:
            layers.append(SqueezeExcite(mid, max(1, in_ch // 4), act=act))
        layers.append(conv_bn_act(mid, out_ch, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        y = self.block(x)
        if self.residual:
            y = y + x
        return y


class EfficientNet(nn.Module):
    def __init__(self, num_classes=7, width=1.0, depth=1.0, head_channels=None, act="silu",
                 se=True, dropout=0.2, stem_channels=None, stages=B0_STAGES):
        super().__init__()
        stem = make_divisible(B0_STEM_CHANNELS * width) if stem_channels is None else stem_channels
        layers = [conv_bn_act(3, stem, 3, stride=2, act=act)]
        in_ch = stem
        for expand, kernel, stride, _, out, repeats in stages:
            out_ch = make_divisible(out * width)
            for i in range(int(math.ceil(repeats * depth))):
                layers.append(MBConv(in_ch, out_ch, expand, kernel, stride if i == 0 else 1,
                                     act=act, se=se))
                in_ch = out_ch
        if head_channels is None:
            head_channels = 4 * in_ch  # B0: 4 * 320 = 1280
        if head_channels > 0:
            layers.append(conv_bn_act(in_ch, head_channels, 1, act=act))
            in_ch = head_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_ch, num_classes)
        self._init_weights()

    def _init_weights(self):
        # The reference initialisation: He (fan-out) for convolutions, uniform for the classifier.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.pool(self.features(x))
        x = torch.flatten(x, 1)
        return self.classifier(self.dropout(x))


def effnet_b0(num_classes=7, dropout=0.2):
    """EfficientNet-B0 exactly: width 1.0, depth 1.0, SiLU, SE, head 1280."""
    return EfficientNet(num_classes=num_classes, dropout=dropout)


def effnet(num_classes=7, width=1.0, depth=1.0, head_channels=None, act="silu", se=True,
           dropout=0.2, stem_channels=None, max_stages=7):
    """A scaled member of the B0 family. `max_stages` < 7 drops the last stages (for very small
    inputs, where the deepest stages see 1x1 or 2x2 maps)."""
    return EfficientNet(num_classes=num_classes, width=width, depth=depth,
                        head_channels=head_channels, act=act, se=se, dropout=dropout,
                        stem_channels=stem_channels, stages=B0_STAGES[:max_stages])


ARCHS = {"effnet_b0": effnet_b0, "effnet": effnet}


def build(arch, **kwargs):
    """Build the architecture named `arch` with its keyword arguments (as stored in a checkpoint)."""
    if arch not in ARCHS:
        raise ValueError("unknown architecture %r (expected one of %s)" % (arch, sorted(ARCHS)))
    return ARCHS[arch](**kwargs)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def count_cost(model, input_size):
    """Count multiply-accumulates and INT8 deployment bytes by tracing the module graph with
    torch.fx and propagating shapes (so it also proves the model is fx-traceable).

    MACs: convolutions and linear layers (out elements x in-channels-per-group x KH x KW);
    elementwise add/mul and pooling are reported apart as `elementwise_ops`.
    Weight bytes: what the INT8 model stores: 1 byte per conv/linear weight, and after folding
    BatchNorm into the preceding convolution one int32 bias per output channel (4 bytes)."""
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    was_training = model.training
    model.eval()
    gm = symbolic_trace(model)
    ShapeProp(gm).propagate(torch.zeros(1, 3, input_size, input_size))
    modules = dict(gm.named_modules())
    macs = 0
    elementwise = 0
    weight_bytes = 0
    for node in gm.graph.nodes:
        meta = node.meta.get("tensor_meta")
        if meta is None:
            continue
        out_numel = 1
        for d in meta.shape:
            out_numel *= d
        if node.op == "call_module":
            m = modules[node.target]
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                macs += out_numel * (m.in_channels // m.groups) * kh * kw
                weight_bytes += m.weight.numel() + 4 * m.out_channels
            elif isinstance(m, nn.Linear):
                macs += m.in_features * m.out_features
                weight_bytes += m.weight.numel() + 4 * m.out_features
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                elementwise += node.args[0].meta["tensor_meta"].shape.numel()
        elif node.op in ("call_function", "call_method") and "flatten" not in str(node.target):
            elementwise += out_numel
    model.train(was_training)
    return {"macs": int(macs), "elementwise_ops": int(elementwise),
            "params": int(count_params(model)), "int8_weight_bytes": int(weight_bytes)}


if __name__ == "__main__":
    import json
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 224
    arch = sys.argv[2] if len(sys.argv) > 2 else "effnet_b0"
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    print(json.dumps(count_cost(build(arch, **kwargs), size)))


def load_checkpoint(path):
    """A checkpoint written by tools/train (our own file, so a full unpickle). PyTorch 2.6
    made weights_only=True the default, which refuses the recipe and metrics beside the
    weights; saying False keeps one file loading on Debian's 1.13 and on PyTorch 2.x."""
    import torch
    return torch.load(path, map_location="cpu", weights_only=False)
