"""Read the preprocessed-image cache (.sbc, docs/dataset-cache.md) and the split manifest that
datasets/tools/sbprep writes, so that training sees exactly the pixels the benchmark sees.

The manifest is a CSV with the header `index,image_id,lesion_id,label,split`: `index` is the
image's position in the cache, `label` the class index (DermaMNIST order), `split` one of
train/val/test. The split is always sbprep's, computed by the same code as the ham10000 plugin,
so that a model is never tested on images the benchmark's split put in its training set.
"""

import csv
import struct
import zlib

import numpy as np

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
SPLITS = ("train", "val", "test")

MAGIC = b"SBCACHE\0"
HEADER = struct.Struct("<8sIIIIQQQI12x")  # 64 bytes
INDEX_ENTRY = struct.Struct("<24sii")      # 32 bytes


class CacheError(ValueError):
    pass


def read_cache(path, check_crc=True):
    """Return (pixels uint8 [N, H, W, 3] (a read-only memory map), ids [N], labels int32 [N],
    status int32 [N]). Raises CacheError naming the file and field on any mismatch."""
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
        if len(head) != HEADER.size:
            raise CacheError("%s: %d bytes, shorter than the 64-byte header" % (path, len(head)))
        magic, version, size_px, channels, n, key, index_off, pix_off, crc = HEADER.unpack(head)
        if magic != MAGIC:
            raise CacheError("%s: magic %r, expected %r" % (path, magic, MAGIC))
        if version != 1:
            raise CacheError("%s: version %d, expected 1" % (path, version))
        if channels != 3:
            raise CacheError("%s: channels %d, expected 3" % (path, channels))
        if index_off != 64 or pix_off % 64 or pix_off < index_off + n * INDEX_ENTRY.size:
            raise CacheError("%s: index_offset %d / pixels_offset %d inconsistent with %d images"
                             % (path, index_off, pix_off, n))
        end = pix_off + n * size_px * size_px * 3
        f.seek(0, 2)
        if f.tell() < end:
            raise CacheError("%s: %d bytes, expected at least %d for %d images of %dpx"
                             % (path, f.tell(), end, n, size_px))
        f.seek(index_off)
        index = f.read(n * INDEX_ENTRY.size)
        if check_crc:
            f.seek(index_off)
            got = 0
            remaining = end - index_off
            while remaining:
                chunk = f.read(min(remaining, 1 << 24))
                got = zlib.crc32(chunk, got)
                remaining -= len(chunk)
            if got != crc:
                raise CacheError("%s: crc32 0x%08x, header says 0x%08x" % (path, got, crc))
    ids, labels, status = [], np.empty(n, np.int32), np.empty(n, np.int32)
    for i in range(n):
        raw_id, labels[i], status[i] = INDEX_ENTRY.unpack_from(index, i * INDEX_ENTRY.size)
        ids.append(raw_id.rstrip(b"\0").decode("ascii"))
    pixels = np.memmap(path, np.uint8, "r", offset=pix_off, shape=(n, size_px, size_px, 3))
    return pixels, ids, labels, status


def write_cache(path, pixels, ids, labels, key=0):
    """Write a version-1 cache (used by the tests to build tiny synthetic caches)."""
    pixels = np.ascontiguousarray(pixels, np.uint8)
    n, size_px = pixels.shape[0], pixels.shape[1]
    pix_off = (64 + n * INDEX_ENTRY.size + 63) // 64 * 64
    index = b"".join(INDEX_ENTRY.pack(i.encode("ascii"), int(l), 0) for i, l in zip(ids, labels))
    body = index + b"\0" * (pix_off - 64 - len(index)) + pixels.tobytes()
    head = HEADER.pack(MAGIC, 1, size_px, 3, n, key, 64, pix_off, zlib.crc32(body))
    with open(path, "wb") as f:
        f.write(head + body)


def read_manifest(path):
    """Return a list of dicts with int index/label and str image_id/lesion_id/split."""
    rows = []
    # utf-8-sig: a byte order mark (a spreadsheet's save) is no part of the first column's name
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        want = ["index", "image_id", "lesion_id", "label", "split"]
        if reader.fieldnames is None or any(k not in reader.fieldnames for k in want):
            raise CacheError("%s: header %s, expected columns %s" % (path, reader.fieldnames, want))
        for line, r in enumerate(reader, start=2):
            try:
                rows.append({"index": int(r["index"]), "image_id": r["image_id"],
                             "lesion_id": r["lesion_id"], "label": int(r["label"]),
                             "split": r["split"]})
            except (TypeError, ValueError):
                raise CacheError("%s:%d: index and label must be integers, got %r"
                                 % (path, line, r)) from None
            if rows[-1]["split"] not in SPLITS:
                raise CacheError("%s:%d: split %r, expected one of %s"
                                 % (path, line, r["split"], SPLITS))
    return rows


def check_lesion_disjoint(rows, path):
    """Raise CacheError if any lesion has images in two splits (the DermaMNIST split does)."""
    seen = {}
    for r in rows:
        first = seen.setdefault(r["lesion_id"], r)
        if first["split"] != r["split"]:
            raise CacheError("%s: lesion %s is in %s (%s) and in %s (%s): not a lesion-disjoint "
                             "split; write the manifest with `sbprep --split lesion`"
                             % (path, r["lesion_id"], first["split"], first["image_id"],
                                r["split"], r["image_id"]))


def load_splits(cache_path, manifest_path, split="dermamnist", check_crc=True):
    """Return (pixels, {split: (indices int64 [n], labels int64 [n])}). Checks that the
    manifest agrees with the cache (image ids and labels) so a stale pair is caught.
    The split is the manifest's (sbprep writes the official DermaMNIST split by default and the
    benchmark's own lesion-disjoint split with `--split lesion`); `split="lesion"` checks that
    the manifest really is lesion-disjoint."""
    pixels, ids, labels, status = read_cache(cache_path, check_crc)
    rows = read_manifest(manifest_path)
    for r in rows:
        i = r["index"]
        if not 0 <= i < len(ids):
            raise CacheError("%s: index %d outside the cache's %d images (%s)"
                             % (manifest_path, i, len(ids), cache_path))
        if ids[i] != r["image_id"]:
            raise CacheError("%s: index %d is %s in the manifest but %s in %s"
                             % (manifest_path, i, r["image_id"], ids[i], cache_path))
        if labels[i] != r["label"]:
            raise CacheError("%s: %s has label %d in the manifest but %d in %s"
                             % (manifest_path, r["image_id"], r["label"], labels[i], cache_path))
        if status[i] != 0:
            raise CacheError("%s: %s could not be decoded (status %d)"
                             % (cache_path, ids[i], status[i]))
    if split == "lesion":
        check_lesion_disjoint(rows, manifest_path)
    elif split != "dermamnist":
        raise ValueError("split %r, expected dermamnist or lesion" % split)
    assign = {r["index"]: r["split"] for r in rows}
    out = {}
    for s in SPLITS:
        idx = np.array(sorted(i for i, v in assign.items() if v == s), np.int64)
        out[s] = (idx, labels[idx].astype(np.int64) if len(idx) else np.zeros(0, np.int64))
    return pixels, out
