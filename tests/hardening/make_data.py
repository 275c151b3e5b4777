#!/usr/bin/python3
"""Write tests/hardening/data/mini-ham/: a 14-image dataset folder in
HAM10000's original layout (HAM10000_metadata.csv, dermamnist_split_info.csv,
HAM10000_images/*.jpg), with synthetic pictures (no HAM10000 data), so the
runner can be driven end to end under valgrind and by the bad-input tests in
seconds. The files are committed; run again only to change them.
    /usr/bin/python3 tests/hardening/make_data.py
"""
import io
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mini-ham")
DX = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def main():
    rng = np.random.default_rng(9)
    os.makedirs(os.path.join(OUT, "HAM10000_images"), exist_ok=True)
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
        with open(os.path.join(OUT, "HAM10000_images", img + ".jpg"), "wb") as f:
            f.write(b.getvalue())
    with open(os.path.join(OUT, "HAM10000_metadata.csv"), "w") as f:
        f.write("\n".join(meta) + "\n")
    with open(os.path.join(OUT, "dermamnist_split_info.csv"), "w") as f:
        f.write("\n".join(split) + "\n")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Synthetic stand-in for HAM10000's layout (random pixels, made-up ids), written by\n"
                "tests/hardening/make_data.py for the hardening tests. Not HAM10000 data.\n")


if __name__ == "__main__":
    main()
