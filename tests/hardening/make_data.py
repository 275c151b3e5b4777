#!/usr/bin/python3
"""Write tests/hardening/data/mini-ham/: a 14-image dataset folder in
HAM10000's original layout (HAM10000_metadata.csv, dermamnist_split_info.csv,
HAM10000_images/*.jpg), with synthetic pictures (no HAM10000 data), so the
runner can be driven end to end under valgrind and by the bad-input tests in
seconds. It is generated, never committed (HAM10000-shaped file names stay out
of the repository), by the tests that need it:
    /usr/bin/python3 tests/hardening/make_data.py
"""
import io
import os
import shutil
import tempfile

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mini-ham")
DX = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def ensure():
    """Make OUT if it is missing. Tests run in parallel: build in a temporary
    folder beside it and rename, so a reader never sees half of it."""
    if os.path.isdir(OUT):
        return OUT
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".mini-ham-", dir=os.path.dirname(OUT))
    write(tmp)
    try:
        os.rename(tmp, OUT)
    except OSError:            # another test made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return OUT


def write(out):
    rng = np.random.default_rng(9)
    os.makedirs(os.path.join(out, "HAM10000_images"), exist_ok=True)
    meta = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    split = ["split,index,image_id"]
    for i in range(14):
        img = "SYN_%07d" % i
        meta.append("SYNL_%07d,%s,%s,histo,%d.0,%s,back" % (i, img, DX[i % 7], 20 + 3 * i,
                                                              "male" if i % 2 else "female"))
        split.append("%s,%d,%s" % ("test" if i < 10 else "train", i, img))
        arr = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        arr[:, :, i % 3] //= 2   # a little class-dependent colour
        b = io.BytesIO()
        Image.fromarray(arr, "RGB").save(b, "JPEG", quality=85)
        with open(os.path.join(out, "HAM10000_images", img + ".jpg"), "wb") as f:
            f.write(b.getvalue())
    with open(os.path.join(out, "HAM10000_metadata.csv"), "w") as f:
        f.write("\n".join(meta) + "\n")
    with open(os.path.join(out, "dermamnist_split_info.csv"), "w") as f:
        f.write("\n".join(split) + "\n")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("Synthetic stand-in for HAM10000's layout (random pixels, made-up ids), written by\n"
                "tests/hardening/make_data.py for the hardening tests. Not HAM10000 data.\n")


if __name__ == "__main__":
    ensure()
