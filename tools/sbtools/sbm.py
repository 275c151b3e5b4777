"""Write and read srambench model files (.sbm), as docs/model-format.md defines them.

The writer is a small builder: add tensors (constant data or activations) and
ops, then write(). The reader checks everything the document says a reader
must refuse and returns the header plus one numpy array per constant tensor.
"""
import json
import struct
import zlib

import numpy as np

MAGIC = b"SBMODEL\0"
VERSION_MAJOR = 1
VERSION_MINOR = 0
ALIGN_BYTES = 64
PREFIX_BYTES = 64

_DTYPES = {"int8": np.int8, "int32": np.int32, "float32": np.float32}


class SbmError(Exception):
    """A model file that does not follow docs/model-format.md."""


def f32(value):
    """A float32 value as a Python float with 9 significant digits, which
    round-trips exactly back to the same float32 (docs/model-format.md)."""
    return float("%.9g" % float(np.float32(value)))


def _align(n, a=ALIGN_BYTES):
    return (n + a - 1) // a * a


class Builder:
    """Collects tensors and ops in execution order, then writes one file."""

    def __init__(self, name, requant):
        if requant not in ("fixed", "float"):
            raise ValueError("requant must be 'fixed' or 'float', got %r" % requant)
        self.name = name
        self.requant = requant
        self.tensors = []
        self.ops = []
        self._data = []          # (tensor index, bytes)
        self.input = None
        self.output = None

    def activation(self, name, shape, scale, zero_point):
        """An int8 activation tensor (graph input or an op's output)."""
        zp = int(zero_point)
        if not -128 <= zp <= 127:
            raise ValueError("%s: zero_point %d outside -128..127" % (name, zp))
        self.tensors.append({"name": name, "dtype": "int8", "shape": [int(d) for d in shape],
                             "scale": f32(scale), "zero_point": zp})
        return len(self.tensors) - 1

    def constant(self, name, array, **extra):
        """A constant tensor; its dtype is that of the numpy array."""
        arr = np.ascontiguousarray(array)
        dtype = {np.dtype(np.int8): "int8", np.dtype(np.int32): "int32",
                 np.dtype(np.float32): "float32"}.get(arr.dtype)
        if dtype is None:
            raise ValueError("%s: unsupported dtype %s" % (name, arr.dtype))
        shape = list(arr.shape) if arr.ndim else [1]
        if not 1 <= len(shape) <= 4:
            raise ValueError("%s: %d dimensions, expected 1..4" % (name, len(shape)))
        t = {"name": name, "dtype": dtype, "shape": [int(d) for d in shape]}
        t.update(extra)
        self.tensors.append(t)
        idx = len(self.tensors) - 1
        self._data.append((idx, arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()))
        return idx

    def op(self, **fields):
        self.ops.append(fields)
        return len(self.ops) - 1

    def header(self, classes, provenance):
        h = {"format": "srambench-model", "name": self.name, "requant": self.requant,
             "input": self.input, "output": self.output}
        if classes is not None:
            h["classes"] = list(classes)
        h.update(provenance=provenance, tensors=self.tensors, ops=self.ops)
        return h

    def write(self, path, classes, provenance):
        blob = bytearray()
        for idx, raw in self._data:
            off = _align(len(blob))
            blob.extend(b"\0" * (off - len(blob)))
            self.tensors[idx]["offset"] = off
            self.tensors[idx]["nbytes"] = len(raw)
            blob.extend(raw)
        hdr = json.dumps(self.header(classes, provenance), separators=(",", ":")).encode("utf-8")
        data_offset = _align(PREFIX_BYTES + len(hdr))
        body = hdr + b"\0" * (data_offset - PREFIX_BYTES - len(hdr)) + bytes(blob)
        crc = zlib.crc32(body) & 0xFFFFFFFF
        prefix = MAGIC + struct.pack("<IIQQQI", VERSION_MAJOR, VERSION_MINOR, len(hdr),
                                     data_offset, len(blob), crc) + b"\0" * 20
        assert len(prefix) == PREFIX_BYTES
        tmp = str(path) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(prefix)
            f.write(body)
        import os
        os.replace(tmp, path)
        return data_offset + len(blob)


def rewrite_header(path, updates, out_path=None):
    """Rewrite a model file with its JSON header's top-level keys updated (`updates`: key ->
    value, None removes the key), everything else as it was: the tensor data is copied byte for
    byte (tensor offsets count from data_offset, which may move), the CRC recomputed. Writes
    `out_path` (default: `path`, replaced atomically). Returns the new file's size in bytes."""
    read(path)  # refuse a broken file before writing anything
    with open(path, "rb") as f:
        raw = f.read()
    vmaj, vmin, hlen, doff, dlen, _ = struct.unpack_from("<IIQQQI", raw, 8)
    header = json.loads(raw[PREFIX_BYTES:PREFIX_BYTES + hlen].decode("utf-8"))
    for key, value in updates.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob = raw[doff:doff + dlen]
    data_offset = _align(PREFIX_BYTES + len(hdr))
    body = hdr + b"\0" * (data_offset - PREFIX_BYTES - len(hdr)) + blob
    crc = zlib.crc32(body) & 0xFFFFFFFF
    prefix = MAGIC + struct.pack("<IIQQQI", vmaj, vmin, len(hdr), data_offset, dlen, crc) + b"\0" * 20
    out_path = str(out_path or path)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(prefix)
        f.write(body)
    import os
    os.replace(tmp, out_path)
    return len(prefix) + len(body)


class Model:
    """A read model: header (dict), arrays (tensor index -> numpy array)."""

    def __init__(self, path, header, arrays):
        self.path = path
        self.header = header
        self.arrays = arrays
        self.tensors = header["tensors"]
        self.ops = header["ops"]
        self.requant = header["requant"]
        self.input = header["input"]
        self.output = header["output"]


def read(path):
    """Read and check a .sbm file; raise SbmError naming the field at fault."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < PREFIX_BYTES:
        raise SbmError("%s: %d bytes, shorter than the 64-byte prefix" % (path, len(raw)))
    if raw[:8] != MAGIC:
        raise SbmError("%s: magic %r, expected %r" % (path, raw[:8], MAGIC))
    vmaj, vmin, hlen, doff, dlen, crc = struct.unpack_from("<IIQQQI", raw, 8)
    if vmaj != VERSION_MAJOR:
        raise SbmError("%s: version_major %d, expected %d" % (path, vmaj, VERSION_MAJOR))
    if doff % ALIGN_BYTES or doff < PREFIX_BYTES + hlen:
        raise SbmError("%s: data_offset %d not a multiple of 64 after the header" % (path, doff))
    if len(raw) < doff + dlen:
        raise SbmError("%s: %d bytes, expected at least data_offset + data_len = %d"
                       % (path, len(raw), doff + dlen))
    got = zlib.crc32(raw[PREFIX_BYTES:doff + dlen]) & 0xFFFFFFFF
    if got != crc:
        raise SbmError("%s: crc32 0x%08x, header says 0x%08x" % (path, got, crc))
    try:
        header = json.loads(raw[PREFIX_BYTES:PREFIX_BYTES + hlen].decode("utf-8"))
    except ValueError as e:
        raise SbmError("%s: JSON header: %s" % (path, e))
    t = header.get("temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.05 <= t <= 20:
        raise SbmError("%s: temperature %r: expected a finite number in [0.05, 20]" % (path, t))
    data = raw[doff:doff + dlen]
    arrays = {}
    for i, t in enumerate(header.get("tensors", [])):
        if "offset" not in t:
            continue
        dt = _DTYPES.get(t.get("dtype"))
        if dt is None:
            raise SbmError("%s: tensors[%d].dtype %r, expected int8|int32|float32"
                           % (path, i, t.get("dtype")))
        off, nb = int(t["offset"]), int(t["nbytes"])
        n = int(np.prod(t["shape"]))
        if off % ALIGN_BYTES or off + nb > dlen or nb != n * np.dtype(dt).itemsize:
            raise SbmError("%s: tensors[%d] (%s): offset %d nbytes %d do not fit shape %s in "
                           "data_len %d" % (path, i, t["name"], off, nb, t["shape"], dlen))
        arrays[i] = np.frombuffer(data, dtype=np.dtype(dt).newbyteorder("<"), count=n,
                                  offset=off).reshape(t["shape"]).astype(dt)
    return Model(path, header, arrays)
