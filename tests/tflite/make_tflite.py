#!/usr/bin/env python3
"""A small TFLite (schema v3) FlatBuffer writer for the tests: a tiny INT8
network of every operator the tflite plugin maps, and broken variants of it.

The writer lays objects out front to back (each vtable just before its table,
children after their parent), so every uoffset points forward as FlatBuffers
requires; `pos` records where named objects landed, for patching bytes.

  make_tflite.py DIR    writes DIR/tiny.tflite, DIR/tiny_image.tflite (8x8x3 in, 7 classes
                        out: runs on an image dataset) and DIR/<variant>.tflite
"""
import os
import struct
import sys

FMT = {'u8': '<B', 'i8': '<b', 'i32': '<i', 'u32': '<I', 'f32': '<f'}


class Table:
    def __init__(self, fields, name=None):
        self.fields = fields  # field id -> (kind, value); kind 'ref' for children
        self.name = name


class Vec:
    def __init__(self, kind, items, name=None):
        self.kind = kind  # 'i32', 'i64', 'f32', 'u8' (bytes), 'table'
        self.items = items
        self.name = name


def serialize(root):
    out = bytearray(8)
    out[4:8] = b'TFL3'
    pos = {}

    def align():
        while len(out) % 4:
            out.append(0)

    def place(obj):
        align()
        if isinstance(obj, (bytes, str)):
            b = obj.encode() if isinstance(obj, str) else obj
            p = len(out)
            out.extend(struct.pack('<I', len(b)) + b + b'\0')
            return p
        if isinstance(obj, Vec):
            n = len(obj.items)
            if obj.kind == 'i64':  # 8-byte elements start 8-aligned
                while (len(out) + 4) % 8:
                    out.append(0)
            p = len(out)
            if obj.name:
                pos[obj.name] = p
            out.extend(struct.pack('<I', n))
            if obj.kind == 'table':
                slots = []
                for _ in obj.items:
                    slots.append(len(out))
                    out.extend(b'\0' * 4)
                for s, child in zip(slots, obj.items):
                    struct.pack_into('<I', out, s, place(child) - s)
            elif obj.kind == 'u8':
                out.extend(bytes(obj.items))
            else:
                f = {'i32': '<i', 'i64': '<q', 'f32': '<f'}[obj.kind]
                for v in obj.items:
                    out.extend(struct.pack(f, v))
            return p
        ids = sorted(obj.fields)
        n = ids[-1] + 1 if ids else 0
        offs, off = {}, 4
        for i in ids:
            offs[i] = off
            off += 4
        vt = len(out)
        out.extend(struct.pack('<HH', 4 + 2 * n, off))
        out.extend(b''.join(struct.pack('<H', offs.get(i, 0)) for i in range(n)))
        align()
        t = len(out)
        if obj.name:
            pos[obj.name] = t
        out.extend(struct.pack('<i', t - vt))
        refs = []
        for i in ids:
            kind, val = obj.fields[i]
            if kind == 'ref':
                refs.append((len(out), val))
                out.extend(b'\0' * 4)
            else:
                out.extend(struct.pack(FMT[kind], val).ljust(4, b'\0'))
        for p, child in refs:
            struct.pack_into('<I', out, p, place(child) - p)
        return t

    struct.pack_into('<I', out, 0, place(root))
    return bytes(out), pos


# builtin operator codes (schema.fbs)
ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED = 0, 1, 3, 4, 9
MAX_POOL_2D, MUL, RESHAPE, SOFTMAX, TANH, QUANTIZE = 17, 18, 22, 25, 28, 114
INT8, INT32, FLOAT32 = 9, 2, 0


def tensor(shape, ttype, buffer, name, scales=None, zps=None, qdim=None):
    f = {0: ('ref', Vec('i32', shape)), 1: ('u8', ttype), 2: ('u32', buffer), 3: ('ref', name)}
    if scales is not None:
        q = {2: ('ref', Vec('f32', scales)), 3: ('ref', Vec('i64', zps))}
        if qdim is not None:
            q[6] = ('i32', qdim)
        f[4] = ('ref', Table(q))
    return Table(f, name='tensor_' + name)


def lcg(seed):
    while True:
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        yield seed >> 8


def tiny(hw=4, cin=2, classes=4, more=False, **bad):
    """conv -> depthwise -> add -> max pool -> average pool -> reshape -> fc -> softmax,
    on a [1,hw,hw,cin] input (hw even) with `classes` outputs. more=True puts
    MUL (by the depthwise output) and QUANTIZE (to another scale) before the max pool."""
    r = lcg(7)
    w_conv = [next(r) % 255 - 127 for _ in range(3 * 3 * 3 * cin)]
    w_dw = [next(r) % 255 - 127 for _ in range(3 * 3 * 3)]
    w_fc = [next(r) % 255 - 127 for _ in range(classes * 3)]
    b3 = struct.pack('<3i', 100, -200, 300)
    b4 = struct.pack('<%di' % classes, *[(-50 + 37 * k) for k in range(classes)])
    h2 = hw // 2
    buffers = [b'', bytes(v & 255 for v in w_conv), b3, bytes(v & 255 for v in w_dw), b3,
               bytes(v & 255 for v in w_fc), b4]
    s_act = [0.05]
    tensors = [
        tensor([1, hw, hw, cin], bad.get('input_type', INT8), 0, 'input', [0.5], [-3]),
        tensor(bad.get('conv_w_shape', [3, 3, 3, cin]), INT8, 1, 'conv_w', [0.01, 0.02, 0.015], [0, 0, 0],
               bad.get('conv_w_qdim')),
        tensor([3], INT32, 2, 'conv_b', [0.005, 0.01, 0.0075], [0, 0, 0]),
        tensor(bad.get('conv_out_shape', [1, hw, hw, 3]), INT8, 0, 'conv_out', s_act, [-128]),
        tensor([1, 3, 3, 3], INT8, 3, 'dw_w', [0.02], [0]),
        tensor([3], INT32, 4, 'dw_b', [0.001], [0]),
        tensor([1, hw, hw, 3], INT8, 0, 'dw_out', [0.1], [5]),
        tensor([1, hw, hw, 3], INT8, 0, 'add_out', [0.12], [-10]),
        tensor([1, h2, h2, 3], INT8, 0, 'max_out', [0.12], [-10]),
        tensor([1, 1, 1, 3], INT8, 0, 'avg_out', [0.12], [-10]),
        tensor([1, 3], INT8, 0, 'flat', [0.12], [-10]),
        tensor([classes, 3], INT8, 5, 'fc_w', [0.03], [0]),
        tensor([classes], INT32, 6, 'fc_b', [0.0036], [0]),
        tensor([1, classes], INT8, 0, 'logits', [0.2], [3]),
        tensor([1, classes], INT8, 0, 'probs', [1 / 256], [-128]),
    ]
    codes = [CONV_2D, DEPTHWISE_CONV_2D, ADD, MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED,
             bad.get('last_op', SOFTMAX), MUL, QUANTIZE]

    def op(code_index, ins, outs, opts=None, name=None, opt_type=0):
        f = {0: ('u32', code_index), 1: ('ref', Vec('i32', ins)), 2: ('ref', Vec('i32', outs))}
        if opts is not None:
            f[3] = ('u8', opt_type)  # the BuiltinOptions union's type
            f[4] = ('ref', opts)
        return Table(f, name=name)

    pool = lambda k, s: Table({0: ('u8', 1), 1: ('i32', s), 2: ('i32', s), 3: ('i32', k), 4: ('i32', k), 5: ('u8', 0)})
    ops = [
        op(bad.get('conv_opcode', 0), [0, 1, 2], [3],
           Table({0: ('u8', 0), 1: ('i32', 1), 2: ('i32', 1), 3: ('u8', 1)}), name='op_conv', opt_type=1),
        op(1, [3, 4, 5], [6], Table({0: ('u8', 0), 1: ('i32', 1), 2: ('i32', 1), 3: ('i32', 1), 4: ('u8', 3)}),
           opt_type=2),
        op(2, [3, 6], [7], Table({0: ('u8', 0)}), opt_type=11),
        op(3, [7], [8], pool(2, 2), opt_type=5),
        op(4, [8], [9], pool(h2, 1), opt_type=5),
        op(5, [9], [10], Table({0: ('ref', Vec('i32', [1, 3]))}), opt_type=17),
        op(6, bad.get('fc_inputs', [10, 11, 12]), [13], Table({0: ('u8', 0)}), opt_type=8),
        op(7, [13], [14], Table({0: ('f32', 1.0)}), opt_type=9),
    ]
    if more:  # add_out (7) -> MUL by dw_out (6) -> 15 -> QUANTIZE -> 16 -> max pool
        tensors += [tensor([1, hw, hw, 3], INT8, 0, 'mul_out', [0.3], [-20]),
                    tensor([1, hw, hw, 3], INT8, 0, 'requant', [0.12], [-10])]
        ops[3:3] = [op(8, [7, 6], [15], Table({0: ('u8', 1)}), opt_type=21), op(9, [15], [16])]
        ops[5] = op(3, [16], [8], pool(2, 2), opt_type=5)
    sub = Table({0: ('ref', Vec('table', tensors, name='tensors_vec')), 1: ('ref', Vec('i32', [0])),
                 2: ('ref', Vec('i32', [14])), 3: ('ref', Vec('table', ops)), 4: ('ref', 'main')})
    model = Table({0: ('u32', 3),
                   1: ('ref', Vec('table', [Table({0: ('u8', min(c, 127)), 3: ('i32', c)}) for c in codes])),
                   2: ('ref', Vec('table', [sub])), 3: ('ref', 'tiny test network'),
                   4: ('ref', Vec('table', [Table({0: ('ref', Vec('u8', b))}) if b else Table({})
                                            for b in buffers]))})
    return serialize(model)


def variants():
    """name -> (bytes, the message the loader must give)."""
    good, pos = tiny()
    v = {}

    def patched(off, fmt, val, base=good):
        b = bytearray(base)
        struct.pack_into(fmt, b, off, val)
        return bytes(b)
    v['root_out_of_range'] = (patched(0, '<I', 0xfffffff0), 'root table: table at byte')
    v['bad_identifier'] = (patched(4, '<4s', b'XXXX'), 'expected "TFL3"')
    v['vtable_out_of_range'] = (patched(pos['tensor_conv_out'], '<i', -0x7fffff00),
                                'subgraphs[0].tensors[3]: vtable offset')
    v['vector_too_long'] = (patched(pos['tensors_vec'], '<I', 0x3fffffff), 'subgraphs[0].tensors: vector of 1073741823')
    v['unsupported_op'] = (tiny(last_op=TANH)[0],
                           "operator 7: builtin operator 28 (output tensor 14 'probs'): not supported")
    v['float_input'] = (tiny(input_type=FLOAT32)[0], "input tensor 0 'input': type 0: expected INT8 (9)")
    v['huge_dim'] = (tiny(conv_out_shape=[1, 4, 1 << 30, 3])[0], "tensor 3 'conv_out': shape[2] = 1073741824")
    v['huge_elems'] = (tiny(conv_out_shape=[1, 1 << 20, 1 << 20, 3])[0], 'more than 268435456 elements')
    v['opcode_out_of_range'] = (tiny(conv_opcode=40)[0], 'operator 0: opcode_index 40: expected an index below 10')
    v['tensor_out_of_range'] = (tiny(fc_inputs=[10, 99, 12])[0], 'operator 6: weights tensor 99: expected an index below 15')
    v['weights_qdim'] = (tiny(conv_w_qdim=3)[0], "operator 0: weights 'conv_w': quantized_dimension 3: expected 0")
    v['weights_shape'] = (tiny(conv_w_shape=[3, 3, 3, 5])[0], "operator 0: weights 'conv_w' [3,3,3,5]")
    return good, v


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    good, v = variants()
    with open(os.path.join(out, 'tiny.tflite'), 'wb') as f:
        f.write(good)
    with open(os.path.join(out, 'tiny_image.tflite'), 'wb') as f:
        f.write(tiny(hw=8, cin=3, classes=7)[0])
    with open(os.path.join(out, 'tiny_more.tflite'), 'wb') as f:
        f.write(tiny(more=True)[0])
    for name, (b, _) in v.items():
        with open(os.path.join(out, name + '.tflite'), 'wb') as f:
            f.write(b)


if __name__ == '__main__':
    main()
