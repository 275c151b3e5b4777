"""A model quantized by PyTorch itself (torch.ao.quantization, eager mode),
exported in float-requant mode: on 200 HAM10000 images (64 px cache) at least
99% of the int8 logits equal PyTorch's quantized output and none is more than
1 step apart; the C tool gives the reference's logits exactly.

Default case: torchvision's quantizable MobileNetV2, random init (seeded),
qnnpack. --case resnet18:qnnpack or mobilenet_v2:onednn measure other cases
(figures only, no assertion: see docs/tools.md for why they differ).

usage: test_torchq.py [--sbm-run PATH] [--images N] [--case ARCH:ENGINE]
"""
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbtest  # noqa: E402

warnings.filterwarnings("ignore")
SIZE_PX = 64
CALIB_IMAGES = 64


def torch_logits(qmodel, pixels):
    """PyTorch's int8 logits (uint8 - 128) for uint8 NHWC pixels."""
    import torch
    from sbtools import exporter
    got = {}
    h = qmodel.dequant.register_forward_hook(lambda m, i, o: got.__setitem__("q", i[0]))
    with torch.no_grad():
        for k in range(0, len(pixels), 50):
            qmodel(exporter.to_float_nchw(np.array(pixels[k:k + 50])))
            got.setdefault("all", []).append(got["q"].int_repr().numpy().astype(np.int16) - 128)
    h.remove()
    return np.concatenate(got["all"])


def main(argv):
    import torch
    from sbtools import data, torchq
    cache = sbtest.find_cache(SIZE_PX, argv)
    if cache is None:
        sbtest.skip("no HAM10000 cache ham10000-%dpx-*.sbc in $SRAMBENCH_CACHE_DIR or .cache/ "
                    "(build it with sbprep; see docs/dataset-cache.md)" % SIZE_PX)
    n = int(argv[argv.index("--images") + 1]) if "--images" in argv else 200
    arch, engine = (argv[argv.index("--case") + 1] if "--case" in argv else "mobilenet_v2:qnnpack").split(":")
    if engine not in torch.backends.quantized.supported_engines:
        sbtest.skip("quantized engine %s not in this PyTorch (%s)"
                    % (engine, torch.backends.quantized.supported_engines))
    torch.set_num_threads(1)
    pixels, ids, labels, status = data.read_cache(cache, check_crc=False)
    if len(ids) < n + CALIB_IMAGES:
        sbtest.skip("%s holds %d images, need %d" % (cache, len(ids), n + CALIB_IMAGES))
    # Calibrate on the cache's last images, test on its first n: disjoint sets.
    calib = [np.array(pixels[len(ids) - CALIB_IMAGES + k:len(ids) - CALIB_IMAGES + k + 16])
             for k in range(0, CALIB_IMAGES, 16)]
    test = np.array(pixels[:n])
    qm, _ = torchq.build_torchvision(arch, engine, SIZE_PX, calib, seed=0)
    theirs = torch_logits(qm, test)
    exe = sbtest.sbm_run_path(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tq.sbm")
        torchq.export_quantized(qm, path, SIZE_PX, data.CLASSES, {"test": "test_torchq.py"})
        model = sbtest.sbm.read(path)
        ours = np.stack([sbtest.run_model(model, test[i].astype(np.int16) - 128, check=(i == 0))[0]
                         .reshape(-1) for i in range(n)]).astype(np.int16)
        c_mismatch = None
        if exe:
            c_mismatch = sum(int((sbtest.c_run(exe, path, test[i].astype(np.int16) - 128, tmp)[0]
                                  != ours[i].astype(np.int8)).any()) for i in range(n))
    d = np.abs(ours - theirs)
    same = float((d == 0).mean())
    print("%s %s, %d HAM10000 images (%s), %d int8 logits: %.2f%% identical to PyTorch, max diff %d, "
          "top-1 identical on %d/%d images" % (arch, engine, n, os.path.basename(cache), d.size,
                                             100 * same, d.max(), int((ours.argmax(1) == theirs.argmax(1)).sum()), n))
    print("C sbm-run vs reference: %s" % ("not run (no sbm-run)" if c_mismatch is None else
                                          "%d of %d images differ" % (c_mismatch, n)))
    if "--case" in argv:
        return 0
    ok = same >= 0.99 and d.max() <= 1 and not c_mismatch
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
