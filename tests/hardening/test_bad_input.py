#!/usr/bin/python3
"""Bad input, interruption and determinism tests of the srambench program
(issue 9), suite 'hardening'. One meson test per case:

    test_bad_input.py --srambench PATH --plugin-dir DIR CASE

Each case builds what it needs in a temporary folder from the synthetic
dataset (data/mini-ham), the fuzz seed model and the SRAM technology files,
runs the real program and checks the exit code, the message (it must name
the file, and line:col where the framework knows them) and results.json.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_data  # noqa: E402

MINI = make_data.ensure()
TINY = os.path.join(ROOT, "tests", "fuzz", "corpus", "sbm", "tiny_fixed.sbm")
SRAM1K = os.path.join(ROOT, "backends", "sram", "sram1k.toml")

EXIT_OK, EXIT_JOB_FAILED, EXIT_CONFIG, EXIT_RESULTS, EXIT_INTERRUPTED = 0, 1, 3, 4, 130


class Fail(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        raise Fail(what + "".join("\n--- " + str(c) for c in context))


class Env:
    def __init__(self, args):
        self.exe = os.path.abspath(args.srambench)
        self.plugins = os.path.abspath(args.plugin_dir)
        self.tmp = tempfile.mkdtemp(prefix="sbhd.")
        self.cache = os.path.join(self.tmp, "cache")

    def bench(self, name="bench.toml", dataset=None, models=None, backends="cpu", run=""):
        """Write a bench.toml; returns its path."""
        if dataset is None:
            dataset = 'plugin = "ham10000"\npath = "%s"\nlimit = 6\n' % MINI
        if models is None:
            models = ['name = "tiny"\nplugin = "sbm"\npath = "%s"\n' % TINY]
        if isinstance(backends, str):
            backends = [b for b in backends.split(",")]
        text = '[run]\nname = "hd"\n%s\n[dataset]\n%s\n' % (run, dataset)
        for m in models:
            text += "[[model]]\n%s\n" % m
        for b in backends:
            text += "[[backend]]\n%s\n" % (b if "=" in b else 'plugin = "%s"' % b)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, bench, *extra, out="out", preexec=None, timeout=120):
        out_dir = os.path.join(self.tmp, out)
        env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=self.plugins, SRAMBENCH_CACHE_DIR=self.cache)
        if "ASAN_OPTIONS" in env:
            # make check-sanitize: let the test plugins' SIGSEGV kill the process
            # as it would without ASan (whose handler would exit(1) instead).
            env["ASAN_OPTIONS"] += ":handle_segv=0"
        argv = [self.exe, "run", "-q", "--no-charts", "--output-dir", out_dir] + list(extra) + [bench]
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, preexec_fn=preexec, timeout=timeout)
        return p.returncode, p.stderr, out_dir

    def results(self, out_dir):
        with open(os.path.join(out_dir, "results.json")) as f:
            return json.load(f)


def jobs_by_backend(res):
    return {j["backend"]: j for j in res["jobs"]}


# --------------------------------------------------------------- config


CONFIG_CASES = [
    # (bench.toml text, line, col, a word the message must contain)
    ("[run\n", 1, None, "expected"),
    ("[run]\nname = \"x\n", 2, None, "string"),
    ("[run]\nname = 1\n", 2, None, "string"),
    ("[run]\nworkers = 0\n", 2, None, "workers"),
    ("[run]\nworkers = \"two\"\n", 2, None, "workers"),
    ("[run]\nbogus = 1\n", 2, None, "bogus"),
    ("[run]\nname = \"a\"\nname = \"b\"\n", 3, None, "name"),
    ("x = {a = 1}\n", 1, None, "inline"),
    ("s = \"\"\"multi\"\"\"\n", 1, None, "multi-line"),
    ("d = 1979-05-27\n", 1, None, ""),
    ("[dataset]\nplugin = \"ham10000\"\nlimit = -1\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n",
     3, None, "limit"),
    ("[dataset]\nplugin = 7\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n", 2, None, "plugin"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nname = \"m\"\n[[backend]]\nplugin = \"cpu\"\n", 3, None, "plugin"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\nname = \"a\"\n[[model]]\nplugin = \"sbm\"\n"
     "name = \"a\"\n[[backend]]\nplugin = \"cpu\"\n", None, None, "a"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n"
     "config = \"no-such-file.toml\"\n", 7, None, "no-such-file.toml"),
    ("[dataset]\nplugin = \"ham10000\"\nsplit = 3\n[[model]]\nplugin = \"sbm\"\npath = \"x.sbm\"\n"
     "[[backend]]\nplugin = \"cpu\"\n", 3, None, "split"),
    ("[dataset]\nplugin = \"ham10000\"\nno_such_option = 1\n[[model]]\nplugin = \"sbm\"\npath = \"x.sbm\"\n"
     "[[backend]]\nplugin = \"cpu\"\n", 3, None, "no_such_option"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\npath = \"x.sbm\"\n[[backend]]\n"
     "plugin = \"template\"\nmac_energy_pj = 0.2\nmacs_per_cycle = 1\nclock_mhz = 100\n", None, None, "source"),
    ("", None, None, "expected"),
    ("\x00", None, None, "NUL"),
    ("[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n", None, None, "dataset"),
    ("[run]\nname = \"a\\qb\"\n", 2, None, "escape"),
    ("[run]\nworkers = 99999999999999999999\n", 2, None, "64 bits"),
    ("[run]\nworkers = 1.2.3\n", 2, None, "number"),
    ("[run]\nplugin_path = [1]\n", 2, None, "plugin_path"),
    ("[run]\nworkers = 5000\n", 2, None, "workers"),
    ("[dataset]\nplugin = \"ham10000\"\n[model]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n",
     3, None, "[[model]]"),
    ("[[dataset]]\nplugin = \"ham10000\"\n[[dataset]]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\n"
     "[[backend]]\nplugin = \"cpu\"\n", 3, None, "twice"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n",
     3, None, "missing required option 'path'"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\npath = \"x.sbm\"\n[[backend]]\n"
     "plugin = \"cpu\"\nconfig = \"inner.toml\"\n", 1, None, "'config' inside a config file", "inner.toml"),
    # once a stack overflow (exit 139): the parser's recursion is bounded
    ("[run]\nplugin_path = " + "[" * 100000 + "]" * 100000 + "\n", 2, None, "nested too deep"),
    # not UTF-8 (bytes): once copied into results.json, which then did not parse
    (b"[run]\nname = \"t\xff\xfe\"\n", 2, None, "UTF-8"),
    ("[run]\nname = \"a\\u0000b\"\n", 2, None, "NUL"),
    ("[run]\nname = \"\"\n", 2, None, "empty"),
    # once "<dir>: cannot read", without the bench.toml line
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n"
     "config = \"\"\n", 7, None, "expected the name of a TOML file"),
    ("[dataset]\nplugin = \"ham10000\"\n[[model]]\nplugin = \"sbm\"\n[[backend]]\nplugin = \"cpu\"\n"
     "config = \"a-folder\"\n", 7, None, "is a directory: expected a TOML file"),
    # once exit 4 "cannot create a results folder" after 99 tries, not saying why
    ("[run]\nname = \"%s\"\n" % ("n" * 300), 2, None, "'name' is 300 bytes long: expected at most 200"),
]


def case_config_errors(e):
    """Every malformed bench.toml: exit 3, message names file:line:col."""
    problems = []
    with open(os.path.join(e.tmp, "inner.toml"), "w") as f:
        f.write('config = "other.toml"\n')
    os.mkdir(os.path.join(e.tmp, "a-folder"))
    for i, case in enumerate(CONFIG_CASES):
        text, line, _col, word = case[:4]
        path = os.path.join(e.tmp, "bad%02d.toml" % i)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        rc, err, out = e.run(path, out="out%02d" % i)
        named = os.path.join(e.tmp, case[4]) if len(case) > 4 else path
        where = re.escape(named) + (r":%d:\d+: " % line if line else r"(:\d+:\d+)?: ")
        ok = rc == EXIT_CONFIG and re.search(where, err) and word.lower() in err.lower() \
            and not os.path.exists(os.path.join(out, "results.json"))
        if not ok:
            problems.append("case %d %r: rc %d, want %d; stderr %r; want /%s/ and %r"
                            % (i, text[:60], rc, EXIT_CONFIG, err.strip()[:300], where, word))
    check(not problems, "%d of %d config cases wrong" % (len(problems), len(CONFIG_CASES)), *problems)
    rc, err, _ = e.run(os.path.join(e.tmp, "no-such-bench.toml"))
    check(rc == EXIT_CONFIG and "no-such-bench.toml: cannot open" in err, "absent bench.toml: rc %d" % rc, err)
    rc, err, _ = e.run(e.tmp)
    check(rc == EXIT_CONFIG and e.tmp + ": is a directory: expected a bench.toml file" in err,
          "a directory as bench.toml: rc %d" % rc, err)


def case_unknown_plugin(e):
    for section, text in [("backend", dict(backends=['plugin = "no-such-backend"'])),
                          ("model", dict(models=['plugin = "no-such-model"'])),
                          ("dataset", dict(dataset='plugin = "no-such-dataset"\n'))]:
        b = e.bench(**text)
        rc, err, out = e.run(b)
        check(rc == EXIT_CONFIG, "unknown %s plugin: exit %d, want 3" % (section, rc), err)
        check(re.search(re.escape(b) + r":\d+:\d+: .*not found", err), "message names file:line:col", err)
        check(not os.path.exists(os.path.join(out, "results.json")), "no results.json for a config error")


def case_infer_args(e):
    """`srambench infer dataset:index`: what was typed is what the message
    shows (-1 was shown as 18446744073709551615), and a dataset name that is
    not in bench.toml is said so (it was tried as an image file)."""
    b = e.bench(name="infer.toml")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)

    def infer(what):
        p = subprocess.run([e.exe, "infer", "-q", "--config", b, "--output-dir", os.path.join(e.tmp, "inf"), what],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=120)
        return p.returncode, p.stderr

    problems = []
    for what, want in [("ham10000:-1", r"'ham10000:-1': index '-1': expected <dataset>:<index> with a decimal index"),
                       ("ham10000:x1", r"'ham10000:x1': index 'x1': expected"),
                       ("ham10000:99999999999999999999",
                        r"'ham10000:99999999999999999999': index out of range: the opened split has \d+ images: "
                        r"expected 0\.\.\d+"),
                       ("nods:1", r"'nods:1': no dataset named 'nods' in %s \(it has: ham10000\): expected "
                        r"<dataset>:<index> naming one of them, or an image file" % re.escape(b))]:
        rc, err = infer(what)
        if rc != EXIT_CONFIG or not re.search(want, err) or "18446744073709551615" in err:
            problems.append("%s: rc %d (want 3), stderr %r, want /%s/" % (what, rc, err.strip()[:300], want))
    rc, err = infer("ham10000:1")
    if rc != EXIT_OK:
        problems.append("ham10000:1: rc %d, want 0: %s" % (rc, err.strip()[:300]))
    check(not problems, "infer arguments", *problems)


# -------------------------------------------------------------- plugins


def case_plugin_fails_open(e):
    b = e.bench(backends=["cpu", 'name = "bad"\nplugin = "hd-failopen"', 'name = "cpu2"\nplugin = "cpu"'])
    rc, err, out = e.run(b)
    check(rc == EXIT_JOB_FAILED, "exit %d, want 1 (a job failed)" % rc, err)
    jobs = jobs_by_backend(e.results(out))
    check(jobs["bad"]["status"] == "failed" and "refused on purpose" in (jobs["bad"]["error"] or ""),
          "the failure is reported with the plugin's message", jobs["bad"])
    check(jobs["cpu"]["status"] == "ok" and jobs["cpu2"]["status"] == "ok", "the run goes on", jobs)
    check("refused on purpose" in err, "the failure is on stderr", err)


def _crash_run(e):
    b = e.bench(backends=["cpu", 'name = "crash"\nplugin = "hd-crash"', 'name = "cpu2"\nplugin = "cpu"'])
    return e.run(b)


def case_plugin_crash_keeps_results(e):
    """A plugin that dies in open: the jobs finished before are on disk."""
    rc, err, out = _crash_run(e)
    check(rc != EXIT_OK, "a crashed plugin cannot give exit 0 (got %d)" % rc, err)
    jobs = jobs_by_backend(e.results(out))
    check(jobs["cpu"]["status"] == "ok" and jobs["cpu"]["n_images"] == 6, "finished job kept", jobs)


def case_plugin_crash_run_goes_on(e):
    """Issue 9: reported, and the run goes on. Needs plugin isolation in the
    framework (a child process per plugin call, or per job)."""
    rc, err, out = _crash_run(e)
    jobs = jobs_by_backend(e.results(out))
    check(jobs.get("crash", {}).get("status") == "failed", "the crash is reported as a failed job", jobs.get("crash"))
    check(jobs.get("cpu2", {}).get("status") == "ok", "the job after the crash ran", jobs.get("cpu2"))
    check(rc == EXIT_JOB_FAILED, "exit %d, want 1" % rc, err)
    msg = jobs["crash"]["error"] or ""
    check("'hd-crash'" in msg and "in open" in msg and "signal %d" % signal.SIGSEGV in msg,
          "the error names the plugin, the call and the signal", msg)
    check("x crash: failed: crashed" in err, "the crash is on stderr with the job's names", err)
    check(jobs["crash"]["metrics"]["accuracy"]["value"] is None and jobs["crash"]["metrics"]["accuracy"]["unit"] == "1",
          "the crashed job's figures are null with their units", jobs["crash"]["metrics"]["accuracy"])
    # A crash half-way through a job's images (abort() in run, after 2 images).
    b = e.bench(name="abort.toml", backends=["cpu", 'name = "ab"\nplugin = "hd-signal"\nsignal = "abort"\n'
                                             'after_images = 2', 'name = "cpu2"\nplugin = "cpu"'])
    rc, err, out = e.run(b, out="abort")
    jobs = jobs_by_backend(e.results(out))
    msg = jobs["ab"]["error"] or ""
    check(rc == EXIT_JOB_FAILED and jobs["ab"]["status"] == "failed" and jobs["cpu2"]["status"] == "ok",
          "abort() in run: that job failed, the next ran (exit %d)" % rc, jobs["ab"], err)
    check("signal %d" % signal.SIGABRT in msg and "while the images ran" in msg and "'hd-signal'" in msg,
          "names the signal, the phase and the plugin", msg)
    # --in-process: no supervisor, the crash ends the run (for debuggers).
    b = e.bench(name="inproc.toml", backends=["cpu", 'name = "crash"\nplugin = "hd-crash"'])
    rc, err, out = e.run(b, "--in-process", out="inproc")
    check(rc == -signal.SIGSEGV, "--in-process: the crash kills the run (rc %d)" % rc, err)


# ---------------------------------------------------------- model files


def sbm_parts(path):
    raw = open(path, "rb").read()
    hlen, doff, dlen = struct.unpack_from("<QQQ", raw, 16)
    return raw, json.loads(raw[64:64 + hlen]), raw[doff:doff + dlen]


def sbm_write(path, header, data, major=1, raw=None):
    js = json.dumps(header, separators=(",", ":")).encode()
    for k, v in (raw or {}).items():       # bytes json.dumps would escape
        js = js.replace(k, v)
    doff = (64 + len(js) + 63) // 64 * 64
    body = js + b"\0" * (doff - 64 - len(js)) + data
    prefix = b"SBMODEL\0" + struct.pack("<IIQQQI", major, 0, len(js), doff, len(data),
                                         zlib.crc32(body) & 0xFFFFFFFF) + b"\0" * 20
    with open(path, "wb") as f:
        f.write(prefix + body)


def run_model_job(e, name, path):
    """`srambench run` of the sbm model at `path` on the cpu backend:
    (bench.toml, exit code, stderr, the cpu job's error or "")."""
    b = e.bench(name=name + ".toml", models=['name = "m"\nplugin = "sbm"\npath = "%s"' % path])
    rc, err, out = e.run(b, out="out-" + name)
    msg = ""
    try:
        msg = jobs_by_backend(e.results(out))["cpu"]["error"] or ""
    except (OSError, KeyError, ValueError):
        pass
    return b, rc, err, msg


def case_model_files(e):
    raw, header, data = sbm_parts(TINY)
    bad = {}
    bad["truncated"] = (raw[:len(raw) - 100], "truncated")
    flipped = bytearray(raw)
    flipped[len(raw) - 1] ^= 0xFF
    bad["checksum"] = (bytes(flipped), "crc32")
    bad["version"] = (None, "version")
    bad["chain"] = (None, "")
    bad["utf8"] = (None, "UTF-8")
    bad["empty"] = (b"", "truncated")
    bad["not-sbm"] = (b"hello world, not a model file" * 4, "magic")
    problems = []
    for name, (content, word) in bad.items():
        path = os.path.join(e.tmp, name + ".sbm")
        if name == "version":
            sbm_write(path, header, data, major=2)
        elif name == "chain":
            h = json.loads(json.dumps(header))
            t = h["ops"][1]["output"]          # dwconv's output: wrong spatial size
            h["tensors"][t]["shape"] = [1, 5, 5, 4]
            sbm_write(path, h, data)
        elif name == "utf8":
            h = json.loads(json.dumps(header))
            h["name"] = "NAME"
            sbm_write(path, h, data, raw={b'"NAME"': b'"t\xff\xfe"'})
        else:
            with open(path, "wb") as f:
                f.write(content)
        _, rc, err, msg = run_model_job(e, name, path)
        text = err + msg
        if rc not in (EXIT_JOB_FAILED, EXIT_CONFIG) or path not in text or word.lower() not in text.lower():
            problems.append("%s: rc %d, stderr %r, job error %r (want the path and %r)"
                            % (name, rc, err.strip()[:300], msg[:300], word))
        if name == "chain" and not re.search(r"op|layer|shape", text):
            problems.append("chain: message does not name the op/shape: %r" % text[:300])
    check(not problems, "model-file errors", *problems)


def case_view_commands_failed_jobs(e):
    """batch, compare, flow and infer exit 1 when a job failed, as run does
    (the views are still written and say why); a stored run rendered with
    --from exits 0: nothing ran now."""
    raw = bytearray(open(TINY, "rb").read())
    raw[len(raw) - 1] ^= 0xFF                          # crc32 mismatch
    path = os.path.join(e.tmp, "checksum.sbm")
    with open(path, "wb") as f:
        f.write(raw)
    bad = e.bench(name="bad-model.toml", models=['name = "m"\nplugin = "sbm"\npath = "%s"' % path])
    good = e.bench(name="good.toml")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)

    def view(*argv):
        p = subprocess.run([e.exe] + list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        return p.returncode, p.stderr

    problems = []
    for cmd in ("batch", "compare", "flow"):
        out = os.path.join(e.tmp, "v-" + cmd)
        rc, err = view(cmd, "--config", bad, "-q", "--no-charts", "--output-dir", out)
        if rc != EXIT_JOB_FAILED or "crc32" not in err or not os.path.exists(os.path.join(out, cmd + ".md")):
            problems.append("%s, every job failed: rc %d (want 1 and %s.md written), stderr %r"
                            % (cmd, rc, cmd, err.strip()[:300]))
    rc, err = view("batch", "--split", "nope", "--config", good, "-q", "--no-charts",
                   "--output-dir", os.path.join(e.tmp, "v-split"))
    if rc != EXIT_JOB_FAILED or "--split on the command line" not in err:
        problems.append("batch --split nope: rc %d, want 1 and the message to name --split: %r"
                        % (rc, err.strip()[:300]))
    rc, err = view("batch", "--from", os.path.join(e.tmp, "v-batch"), "-q", "--no-charts")
    if rc != EXIT_OK:
        problems.append("batch --from a stored run with a failed job: rc %d, want 0: %r" % (rc, err.strip()[:300]))
    # infer: one backend that cannot hold the model fails, the other is ok
    small = e.bench(name="small.toml", backends=["cpu", sram_backend("sram.capacity_bytes = 16\nsram.words = 4")])
    for toml, want in ((small, EXIT_JOB_FAILED), (good, EXIT_OK)):
        rc, err = view("infer", "ham10000:0", "--config", toml, "-q",
                       "--output-dir", os.path.join(e.tmp, "v-infer-%d" % want))
        if rc != want:
            problems.append("infer with %s: rc %d, want %d: %r" % (os.path.basename(toml), rc, want, err.strip()[:300]))
    check(not problems, "exit codes of the view commands", *problems)


# -------------------------------------------------------------- datasets


def mini_copy(e, name):
    d = os.path.join(e.tmp, name)
    shutil.copytree(MINI, d)
    return d


def ds_run(e, name, folder, extra=""):
    b = e.bench(name=name + ".toml", dataset='plugin = "ham10000"\npath = "%s"\nlimit = 6\n%s' % (folder, extra))
    rc, err, out = e.run(b, out="out-" + name)
    msg = ""
    try:
        msg = jobs_by_backend(e.results(out))["cpu"]["error"] or ""
    except (OSError, KeyError, ValueError):
        pass
    return rc, err + msg


def case_dataset_errors(e):
    problems = []

    def expect(name, folder, words, extra=""):
        rc, text = ds_run(e, name, folder, extra)
        if rc != EXIT_JOB_FAILED or any(w not in text for w in words):
            problems.append("%s: rc %d (want 1), message %r lacks %r" % (name, rc, text[:400], words))

    # an explicit `path` that does not exist is a config error (case paths_checked_before_any_job)
    rc, text = ds_run(e, "missing", os.path.join(e.tmp, "no-such-folder"))
    if rc != EXIT_CONFIG or "no-such-folder: No such file or directory" not in text:
        problems.append("missing: rc %d (want 3), message %r" % (rc, text[:400]))
    empty = os.path.join(e.tmp, "empty")
    os.mkdir(empty)
    expect("empty", empty, ["HAM10000_metadata.csv", "not found"])
    d = mini_copy(e, "corrupt")
    img = os.path.join(d, "HAM10000_images", "SYN_0000003.jpg")
    with open(img, "r+b") as f:
        f.truncate(120)
    expect("corrupt-image", d, ["SYN_0000003.jpg"])
    d = mini_copy(e, "gone")
    os.unlink(os.path.join(d, "HAM10000_images", "SYN_0000002.jpg"))
    expect("missing-image", d, ["HAM10000_metadata.csv:4", "SYN_0000002"])
    d = mini_copy(e, "nosplit")
    lines = open(os.path.join(d, "dermamnist_split_info.csv")).read().splitlines()
    with open(os.path.join(d, "dermamnist_split_info.csv"), "w") as f:
        f.write("\n".join(l for l in lines if "SYN_0000005" not in l) + "\n")
    expect("split-mismatch", d, ["HAM10000_metadata.csv:7", "SYN_0000005", "dermamnist_split_info.csv"])
    d = mini_copy(e, "badmeta")
    with open(os.path.join(d, "HAM10000_metadata.csv"), "a") as f:
        f.write("SYNL_9,SYN_9,melanoma,histo,1.0,male,back\n")
    expect("bad-dx", d, ["HAM10000_metadata.csv:16", "melanoma"])
    d = mini_copy(e, "dupmeta")
    with open(os.path.join(d, "HAM10000_metadata.csv"), "a") as f:
        f.write("SYNL_0000002,SYN_0000002,bkl,histo,26.0,female,back\n")
    expect("duplicate-metadata-row", d, ["HAM10000_metadata.csv:16", "'SYN_0000002' is listed again (first on line 4)"])
    d = mini_copy(e, "dupsplit")
    with open(os.path.join(d, "dermamnist_split_info.csv"), "a") as f:
        f.write("train,99,SYN_0000002\n")
    expect("image-in-two-splits", d, ["dermamnist_split_info.csv:16", "'SYN_0000002' is listed again (first on line 4, "
                                      "as test; here as train)"])
    d = mini_copy(e, "emptymeta")
    open(os.path.join(d, "dermamnist_split_info.csv"), "w").close()
    expect("empty-split-file", d, ["SYN_0000000", "dermamnist_split_info.csv"])
    check(not problems, "dataset errors", *problems)


def case_skip_unreadable(e):
    """skip_unreadable = true: the corrupt image is skipped, not scored, and
    the run succeeds (docs/datasets.md: the framework counts a failed get()
    of a sample whose meta says status=unreadable as skipped)."""
    d = mini_copy(e, "corrupt")
    with open(os.path.join(d, "HAM10000_images", "SYN_0000003.jpg"), "r+b") as f:
        f.truncate(120)
    rc, text = ds_run(e, "skip", d, "skip_unreadable = true\n")
    check(rc == EXIT_OK, "exit %d, want 0" % rc, text[:400])
    job = jobs_by_backend(e.results(os.path.join(e.tmp, "out-skip")))["cpu"]
    check(job["n_images"] == 5 and "SYN_0000003" not in [s["id"] for s in job["samples"]],
          "5 images scored, SYN_0000003 not among them", job["n_images"])
    check(job["n_skipped"] == 1 and [s["id"] for s in job["skipped"]] == ["SYN_0000003"],
          "the skipped image is listed", job.get("skipped"))
    check(job["status"] == "ok" and "of 5 images correct" in job["metrics"]["accuracy"]["note"],
          "accuracy over the 5 scored images", job["metrics"]["accuracy"])
    with open(os.path.join(e.tmp, "out-skip", "table.md")) as f:
        table = f.read()
    check("1 image skipped" in table, "the table says an image was skipped", table)


# -------------------------------------------------------------- hardware


def sram_backend(extra):
    return 'name = "s"\nplugin = "sram"\nconfig = "%s"\n%s' % (SRAM1K, extra)


def case_sram_too_small(e):
    b = e.bench(backends=["cpu", sram_backend("sram.capacity_bytes = 16\nsram.words = 4")])
    rc, err, out = e.run(b)
    jobs = jobs_by_backend(e.results(out))
    check(rc == EXIT_JOB_FAILED and jobs["cpu"]["status"] == "ok", "exit %d, want 1; cpu job ok" % rc, err)
    msg = jobs["s"]["error"] or ""
    check(jobs["s"]["status"] == "failed" and re.search(r"layer '\w+'", msg) and
          re.search(r"smallest capacity that works is \d+ bytes", msg),
          "names the layer and the smallest capacity that works", msg)


def case_absurd_hardware(e):
    problems = []
    for i, (extra, key) in enumerate([("sram.capacity_bytes = 0", "sram.capacity_bytes"),
                                      ("flash.bandwidth_mbytes_per_s = 0.0", "flash.bandwidth_mbytes_per_s"),
                                      ("flash.bandwidth_mbytes_per_s = -40.0", "flash.bandwidth_mbytes_per_s"),
                                      ("psram.bandwidth_mbytes_per_s = 0.0", "psram.bandwidth_mbytes_per_s"),
                                      ("sram.period_ns = 0.0", "sram.period_ns"),
                                      ("sram.period_ns = -1.0", "sram.period_ns"),
                                      ("mac.macs_per_cycle = 0", "mac.macs_per_cycle"),
                                      ("sram.read_energy_pj = -1.0", "sram.read_energy_pj"),
                                      # upper bounds: no wrapped integer, no inf energy as a figure
                                      ("sram.capacity_bytes = 9223372036854775807", "'sram.capacity_bytes' = 9223372036854775807"),
                                      ("sram.word_bits = 2147483648", "'sram.word_bits' = 2147483648"),
                                      ("regfile.bytes = 9223372036854775807", "'regfile.bytes' = 9223372036854775807"),
                                      ("sram.read_energy_pj = 1e308", "sram.read_energy_pj"),
                                      ("regfile.read_energy_pj = 1e308", "regfile.read_energy_pj"),
                                      ("sram.ports = 1000000", "sram.ports"),
                                      ('scheduler.objective = "speed"', "scheduler.objective")]):
        b = e.bench(name="hw%d.toml" % i, backends=[sram_backend(extra)])
        rc, err, out = e.run(b, out="out-hw%d" % i)
        # The plugin range-checks at open: the job fails naming file:line and the key.
        where = re.escape(b) + r":%d" % (b and open(b).read().splitlines().index(extra) + 1)
        if rc not in (EXIT_JOB_FAILED, EXIT_CONFIG) or key not in err or not re.search(where, err):
            problems.append("%r: rc %d, stderr %r (want /%s/ and %r)" % (extra, rc, err.strip()[:300], where, key))
    check(not problems, "absurd hardware values", *problems)


# --------------------------------------------------------------- results


def case_results_not_writable(e):
    blocker = os.path.join(e.tmp, "a-file")
    open(blocker, "w").close()
    b = e.bench()
    out = os.path.join(blocker, "sub")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    p = subprocess.run([e.exe, "run", "-q", "--no-charts", "--output-dir", out, b], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_RESULTS, "exit %d, want 4" % p.returncode, p.stderr)
    check(blocker in p.stderr, "message names the folder", p.stderr)
    # --output-dir naming an existing file: refused before any job runs (a
    # job that fails would say so on stderr even with -q), the file kept.
    with open(blocker, "w") as f:
        f.write("keep me")
    b = e.bench(name="failing.toml", backends=['name = "bad"\nplugin = "hd-failopen"'])
    rc, err, _ = e.run(b, out="a-file")
    check(rc == EXIT_RESULTS, "--output-dir FILE: exit %d, want 4" % rc, err)
    check(blocker + ": exists and is not a directory" in err, "names the file, says it is not a folder", err)
    check("refused on purpose" not in err, "no job ran", err)
    check(open(blocker).read() == "keep me", "the file is untouched")
    # The first results.json write failing (a 1-byte file size limit): no
    # job runs, since none of their results could be saved.

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))

    rc, err, out = e.run(b, out="first-write", preexec=limit)
    check(rc == EXIT_RESULTS, "first write fails: exit %d, want 4" % rc, err)
    check("results.json" in err and "no job was run" in err, "names results.json, says no job ran", err)
    check("refused on purpose" not in err, "no job ran", err)
    check(not [f for f in os.listdir(out) if ".tmp" in f], "no temporary file left", os.listdir(out))


def case_disk_full(e):
    """A write that fails half-way (RLIMIT_FSIZE, as a full disk): exit 4 and
    no results.json, not even a partial one; no temporary file left."""
    b = e.bench()
    rc, err, out = e.run(b, out="warm")            # builds the image cache first
    check(rc == EXIT_OK, "warm-up run: exit %d" % rc, err)
    size = os.path.getsize(os.path.join(out, "results.json"))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    rc, err, out = e.run(b, out="full", preexec=limit)
    check(rc == EXIT_RESULTS, "exit %d, want 4" % rc, err)
    check("results.json" in err, "message names results.json", err)
    left = os.listdir(out) if os.path.isdir(out) else []
    check(not [f for f in left if ".tmp" in f], "no temporary file left", left)
    if "results.json" in left:
        # Only the snapshot written before the failing write may be there:
        # whole, valid, and not claiming the run completed.
        res = e.results(out)
        check(res["complete"] is False, "the snapshot left does not claim completion", res["complete"])


# ------------------------------------------------------------ interrupts


def interrupt_case(e, which, out="out", **bench):
    b = e.bench(backends=["cpu", 'name = "sig"\nplugin = "hd-signal"\nsignal = "%s"\nafter_images = 3' % which,
                          'name = "cpu2"\nplugin = "cpu"'], **bench)
    rc, err, out = e.run(b, out=out)
    check(rc == EXIT_INTERRUPTED, "exit %d, want 130" % rc, err)
    res = e.results(out)
    jobs = jobs_by_backend(res)
    check(res["interrupted"] is True, "results.json says interrupted", res.get("interrupted"))
    check(jobs["cpu"]["status"] == "ok" and jobs["cpu"]["n_images"] == 6 and len(jobs["cpu"]["samples"]) == 6,
          "the job finished before the signal is kept whole", jobs["cpu"]["status"])
    check(jobs["sig"]["n_images"] >= 3, "images finished before the signal are kept", jobs["sig"]["n_images"])
    check(jobs["cpu2"]["status"] in ("cancelled", "pending"), "the job after is not run", jobs["cpu2"]["status"],
          jobs["sig"]["status"], jobs["sig"]["n_images"], err)
    return b, out


def case_sigint(e):
    interrupt_case(e, "int")


def case_sigterm(e):
    interrupt_case(e, "term")


def case_resume(e):
    """`srambench resume <run>` completes only what is missing."""
    b, out = interrupt_case(e, "int")
    before = jobs_by_backend(e.results(out))
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache, HD_SIGNAL_OFF="1")
    p = subprocess.run([e.exe, "resume", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "resume: exit %d, want 0" % p.returncode, p.stderr)
    after = jobs_by_backend(e.results(out))
    check(after["cpu2"]["status"] == "ok", "the missing job ran", after["cpu2"])
    check(after["cpu"]["samples"] == before["cpu"]["samples"], "finished jobs untouched")
    check(after["sig"]["status"] == "ok" and after["sig"]["n_images"] == 6, "the cut job ran again whole", after["sig"])
    res = e.results(out)
    check(res["complete"] is True and res["interrupted"] is False and len(res.get("resumed_utc", [])) == 1,
          "results.json: complete, not interrupted, one resume listed", res.get("resumed_utc"))
    # Resuming a complete run runs nothing and changes no job.
    p = subprocess.run([e.exe, "resume", "-q", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    again = e.results(out)
    check(p.returncode == EXIT_OK and again["jobs"] == res["jobs"], "a second resume changes nothing", p.stderr)
    # Another config: refused, naming the first differing key, nothing written.
    with open(b) as f:
        text = f.read()
    with open(b, "w") as f:
        f.write(text.replace("limit = 6", "limit = 5"))
    p = subprocess.run([e.exe, "resume", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_CONFIG and "dataset.limit" in p.stderr, "changed config: exit 3 naming dataset.limit",
          p.returncode, p.stderr)
    check(e.results(out)["jobs"] == res["jobs"], "a refused resume writes nothing")
    # A schema_version that is not the number 1: the message says what it found.
    with open(b, "w") as f:
        f.write(text)
    for value, says in (('"1"', 'schema_version is the string "1": expected the number 1'),
                        (None, 'no "schema_version": expected the number 1')):
        bad = dict(res)
        if value is None:
            del bad["schema_version"]
        else:
            bad["schema_version"] = json.loads(value)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(bad, f)
        p = subprocess.run([e.exe, "resume", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        check(p.returncode == EXIT_CONFIG and says in p.stderr, "schema_version %s: exit 3 saying %r" % (value, says),
              p.returncode, p.stderr)
    p = subprocess.run([e.exe, "resume", os.path.join(e.tmp, "no-such-run")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_CONFIG and "no-such-run/results.json" in p.stderr, "missing folder named", p.stderr)


def case_cache_dir_not_a_folder(e):
    """SRAMBENCH_CACHE_DIR (or [run] cache_dir) naming a file: refused before
    any job, naming the setting (it said "stale or corrupt (Not a directory):
    rebuilding", then failed every job on a .tmp file inside it)."""
    b = e.bench()
    e.cache = os.path.join(e.tmp, "a-file")
    with open(e.cache, "w") as f:
        f.write("x")
    rc, err, _ = e.run(b, out="out-cf")
    check(rc == EXIT_CONFIG and "SRAMBENCH_CACHE_DIR=%s: not a directory" % e.cache in err,
          "env: exit %d, want 3 naming SRAMBENCH_CACHE_DIR" % rc, err)
    b = e.bench(name="cf.toml", run='cache_dir = "a-file/sub"')
    rc, err, _ = e.run(b, out="out-cf2")
    check(rc == EXIT_CONFIG and "cf.toml:" in err and "[run] cache_dir = \"a-file/sub\"" in err
          and "is not a directory" in err, "[run] cache_dir: exit %d, want 3 naming the key" % rc, err)


def case_resume_other_cwd(e):
    """A run started with a relative bench.toml path can be resumed from
    another folder: results.json records bench.toml's absolute path."""
    e.bench(name="rel.toml")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    p = subprocess.run([e.exe, "run", "-q", "--no-charts", "--output-dir", "out-rel", "rel.toml"], cwd=e.tmp, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "run: exit %d, want 0" % p.returncode, p.stderr)
    out = os.path.join(e.tmp, "out-rel")
    recorded = e.results(out)["config_file"]
    check(recorded == os.path.realpath(os.path.join(e.tmp, "rel.toml")), "config_file is absolute", recorded)
    p = subprocess.run([e.exe, "resume", "-q", out], cwd="/", env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "resume from /: exit %d, want 0" % p.returncode, p.stderr)
    # A bench.toml that is a link: paths in it are relative to the link's
    # folder, so the link is recorded, not its target (which once made the
    # model "missing" on resume).
    proj, configs = os.path.join(e.tmp, "proj"), os.path.join(e.tmp, "configs")
    os.makedirs(proj, exist_ok=True)
    os.makedirs(configs, exist_ok=True)
    shutil.copy(TINY, os.path.join(proj, "tiny.sbm"))
    e.bench(name="configs/linked.toml", models=['name = "tiny"\nplugin = "sbm"\npath = "tiny.sbm"\n'])
    os.symlink("../configs/linked.toml", os.path.join(proj, "bench.toml"))
    p = subprocess.run([e.exe, "run", "-q", "--no-charts", "--output-dir", "out-link", "bench.toml"], cwd=proj,
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "run through a link: exit %d, want 0" % p.returncode, p.stderr)
    out = os.path.join(proj, "out-link")
    recorded = e.results(out)["config_file"]
    check(recorded == os.path.join(os.path.realpath(proj), "bench.toml"), "config_file is the link's path", recorded)
    p = subprocess.run([e.exe, "resume", "-q", out], cwd="/", env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "resume of a run through a link: exit %d, want 0" % p.returncode, p.stderr)


def case_resume_inputs_changed(e):
    """A model or dataset file replaced under its name after the run started:
    resume refuses (exit 3, naming the instance and the file) rather than mix
    two models' figures in one run; nothing is written."""
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache, HD_SIGNAL_OFF="1")
    model = os.path.join(e.tmp, "m.sbm")
    shutil.copy(TINY, model)
    folder = mini_copy(e, "mini-resume")
    b, out = interrupt_case(e, "int", out="out-m", name="m.toml",
                            dataset='plugin = "ham10000"\npath = "%s"\nlimit = 6\n' % folder,
                            models=['name = "tiny"\nplugin = "sbm"\npath = "%s"\n' % model])
    res = e.results(out)
    check(any(i["section"] == "model" and i["path"] == os.path.realpath(model) for i in res.get("inputs", [])),
          "results.json records the model file", res.get("inputs"))
    before = open(os.path.join(out, "results.json")).read()

    def refused(what, words):
        p = subprocess.run([e.exe, "resume", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        check(p.returncode == EXIT_CONFIG and all(w in p.stderr for w in words),
              "%s: exit 3 naming %s" % (what, words), p.returncode, p.stderr)
        check(open(os.path.join(out, "results.json")).read() == before, "%s: nothing written" % what)

    # same size, other bytes: only the content says so
    data = bytearray(open(TINY, "rb").read())
    data[-1] ^= 0xff
    with open(model, "wb") as f:
        f.write(data)
    refused("model replaced", ["model 'tiny'", model, "changed since the run started"])
    shutil.copy(TINY, model)  # the very bytes again: accepted (a copy that changed nothing)
    meta = os.path.join(folder, "HAM10000_metadata.csv")
    with open(meta, "a") as f:
        f.write("\n")
    refused("dataset edited", ["dataset 'ham10000'", folder, "changed since the run started"])


# ----------------------------------------------------------- determinism


def simulated(job):
    """A job's reproducible part: predictions and every simulated figure."""
    sim = {k: v["value"] for k, v in job["backend_metrics"].items() if v.get("provenance") == "simulated"}
    sim.update({k: v["value"] for k, v in job["metrics"].items() if v.get("provenance") == "simulated"})
    samples = [(s["index"], s["id"], s["pred"], s["confidence"], json.dumps(s["top3"]),
                {k: s["metrics"].get(k) for k in sim if k in s.get("metrics", {})}) for s in job["samples"]]
    return sim, samples


def case_determinism(e):
    runs = []
    # Worker threads (images in parallel) and threads_per_image (one image's
    # convolutions split across threads) both vary; nothing may change.
    for i, (workers, per_image) in enumerate([("1", 1), ("2", 2), ("2", 1), ("4", 3)]):
        b = e.bench(name="det%d.toml" % i, dataset='plugin = "ham10000"\npath = "%s"\nsplit = "all"\n' % MINI,
                    backends=['plugin = "cpu"\nthreads_per_image = %d' % per_image, sram_backend(""),
                              'name = "t"\nplugin = "template"\nmac_energy_pj = 0.23\n'
                              'mac_energy_pj_source = "Horowitz ISSCC 2014"\nmacs_per_cycle = 1\nclock_mhz = 100\n'
                              'clock_mhz_source = "assumption: test"'])
        rc, err, out = e.run(b, "--workers", workers, out="det%d" % i)
        check(rc == EXIT_OK, "run %d (workers %s): exit %d" % (i, workers, rc), err)
        runs.append({j["backend"]: simulated(j) for j in e.results(out)["jobs"]})
    for backend, (sim, samples) in runs[0].items():
        check(len(samples) == 14, "%s: 14 images" % backend, len(samples))
        if backend != "cpu":
            check(sim, "%s: has simulated figures" % backend)
        for i, r in enumerate(runs[1:], 1):
            check(r[backend] == (sim, samples), "%s: run %d differs from run 0" % (backend, i))
    # Same INT8 model, same bytes: every backend predicts the same.
    preds = {k: [s[2:5] for s in v[1]] for k, v in runs[0].items()}
    check(len({json.dumps(v) for v in preds.values()}) == 1, "backends disagree on predictions", preds)


# --- issue 19: plugin_path_escape, output_dir_locked, job_killed_resumed ---


def case_plugin_path_escape(e):
    """A plugin name is a name, not a path, and a plugin file must lie inside
    its search folder once links are resolved: both are refused before
    dlopen, whose constructors would otherwise run (the hd-evil plugin's
    creates the marker file)."""
    outside = os.path.join(e.tmp, "outside")
    os.mkdir(outside)
    evil = os.path.join(outside, "srambench-backend-evil.so")
    shutil.copy(os.path.join(e.plugins, "srambench-backend-hd-evil.so"), evil)
    marker = os.path.join(e.tmp, "constructor-ran")
    os.environ["HD_EVIL_MARKER"] = marker
    # through meson's private folder of a plugin in the search path
    name = "hd-crash.so.p/../%s/srambench-backend-evil" % os.path.relpath(outside, e.plugins)
    b = e.bench(name="escape.toml", backends=['plugin = "%s"' % name])
    rc, err, _ = e.run(b, out="out-escape")
    check(not os.path.exists(marker), "the library named through .so.p/.. was loaded", err)
    check(rc == EXIT_CONFIG and re.search(re.escape(b) + r":\d+:\d+: \[\[backend\]\] plugin = ", err)
          and "[a-z0-9][a-z0-9-]*" in err, "a path as plugin name: exit %d, want 3 naming file:line and the rule" % rc,
          err)
    # through a link from a plugin folder to outside it
    linked = os.path.join(e.tmp, "linked")
    os.mkdir(linked)
    os.symlink(evil, os.path.join(linked, "srambench-backend-evil.so"))
    b = e.bench(name="link.toml", backends=['plugin = "evil"'], run='plugin_path = ["linked"]')
    rc, err, _ = e.run(b, out="out-link")
    check(not os.path.exists(marker), "the library behind a link out of the plugin folder was loaded", err)
    check(rc == EXIT_CONFIG and "outside its search folder" in err and os.path.realpath(linked) in err,
          "a link out of the plugin folder: exit %d, want 3" % rc, err)
    # `srambench plugins` lists it as refused, without loading it, and says
    # where each plugin came from (a folder of its own: the build folder's
    # hd-evil would be loaded, rightly, and leave the marker)
    plugs = os.path.join(e.tmp, "plugs")
    os.mkdir(plugs)
    shutil.copy(os.path.join(e.plugins, "srambench-backend-hd-failopen.so"), plugs)
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=plugs)
    p = subprocess.run([e.exe, "plugins", "-v", "--config", b], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    refused = p.stdout.split("\nrefused:\n")[-1]
    check(p.returncode == EXIT_OK and "outside its search folder" in refused, "plugins: the link is refused",
          p.stdout, p.stderr)
    check(not os.path.exists(marker), "srambench plugins loaded the library behind the link", p.stdout)
    check("from %s, set by SRAMBENCH_PLUGIN_PATH" % plugs in p.stdout
          and "set by built-in default" in p.stdout, "plugins -v says where each plugin came from", p.stdout)


def case_output_dir_locked(e):
    """Two runs sharing one results folder: the second is refused at once
    (exit 4, naming the holder's pid and command) and the first one's
    results stay whole; the same for resume and batch. The holder here is
    the test itself, with a real flock on the folder's lock file."""
    import fcntl
    b = e.bench()
    rc, err, out = e.run(b, out="shared")
    check(rc == EXIT_OK, "first run: exit %d" % rc, err)
    before = open(os.path.join(out, "results.json")).read()
    fd = os.open(os.path.join(out, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.write(fd, ("pid %d: the test holding it\n" % os.getpid()).encode())
    holder = "in use by another srambench (pid %d: the test holding it)" % os.getpid()
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    failing = e.bench(name="failing.toml", backends=['name = "bad"\nplugin = "hd-failopen"'])
    rc, err, _ = e.run(failing, out="shared")
    check(rc == EXIT_RESULTS and out + ": " + holder in err, "second run: exit %d, want 4 naming the holder" % rc, err)
    check("refused on purpose" not in err, "no job ran", err)
    for argv in (["resume", "-q", out], ["batch", "-q", "--no-charts", "--config", failing, "--output-dir", out],
                 ["report", "-q", "--no-charts", out], ["compare", "-q", "--no-charts", "--from", out]):
        p = subprocess.run([e.exe] + argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        check(p.returncode == EXIT_RESULTS and holder in p.stderr and "refused on purpose" not in p.stderr,
              "%s of a folder in use: exit %d, want 4 naming the holder" % (argv[0], p.returncode), p.stderr)
    check(open(os.path.join(out, "results.json")).read() == before, "the first run's results.json changed")
    os.close(fd)  # released: the folder is free again
    p = subprocess.run([e.exe, "resume", "-q", out], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "resume once the lock is free: exit %d" % p.returncode, p.stderr)
    # a lock file that is a link is not followed (nor its target created)
    os.remove(os.path.join(out, ".lock"))
    target = os.path.join(e.tmp, "lock-target")
    os.symlink(target, os.path.join(out, ".lock"))
    rc, err, _ = e.run(b, out="shared")
    check(rc == EXIT_RESULTS and "symbolic link" in err and not os.path.exists(target),
          "a .lock link: exit %d, want 4, target not created" % rc, err)


def case_job_killed_resumed(e):
    """The job process killed by SIGKILL (the OOM killer, kill -9) while a
    plugin runs: the job is `killed`, no plugin is blamed, the run goes on,
    and `resume` runs it again. A crash (SIGABRT in a plugin) stays failed
    on resume, and runs again with --retry-failed only. The kill comes at a
    known point: the blocking plugin writes its pid into a FIFO the test
    reads. While it blocks, a second run of the folder is refused (exit 4)
    naming the first one's pid."""
    import threading
    fifo = os.path.join(e.tmp, "blocked")
    os.mkfifo(fifo)
    b = e.bench(name="kill.toml", backends=["cpu", 'name = "blk"\nplugin = "hd-signal"\nsignal = "block"\n'
                                            'after_images = 1\nfifo = "%s"' % fifo, 'name = "cpu2"\nplugin = "cpu"'])
    out = os.path.join(e.tmp, "killed")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    off = dict(env, HD_SIGNAL_OFF="1")

    def srambench(*argv, environ=env):
        return subprocess.run([e.exe] + list(argv), env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)

    p = subprocess.Popen([e.exe, "run", "-q", "--no-charts", "--output-dir", out, b], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    # if the run never reaches the plugin, open the FIFO's other end so the
    # read below ends (empty) instead of hanging
    guard = threading.Timer(60, lambda: open(fifo, "w").close())
    guard.start()
    with open(fifo) as f:
        said = f.read().split()
    guard.cancel()
    if not said:
        p.kill()
        check(False, "the blocking plugin never wrote its pid", p.communicate())
    child = int(said[0])
    check(child != p.pid, "the jobs run in a child process", child)
    second = srambench("run", "-q", "--no-charts", "--output-dir", out, b)
    check(second.returncode == EXIT_RESULTS and "in use by another srambench (pid %d: srambench run" % p.pid
          in second.stderr, "a second run of the folder in use: exit %d, want 4 naming pid %d"
          % (second.returncode, p.pid), second.stderr)
    os.kill(child, signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    check(p.returncode == EXIT_JOB_FAILED, "run with a killed job: exit %d, want 1" % p.returncode, err)
    jobs = jobs_by_backend(e.results(out))
    blk = jobs["blk"]
    check(blk["status"] == "killed" and blk["error"] == "the job process was killed by SIGKILL (the OOM killer or "
          "kill -9)", "the job is killed, not a plugin's crash", blk["status"], blk["error"], err)
    check("plugin" not in err and "killed by SIGKILL" in err, "stderr blames no plugin", err)
    check(jobs["cpu"]["status"] == "ok" and jobs["cpu2"]["status"] == "ok", "the others ran (the run went on)",
          jobs["cpu2"]["status"])
    r = srambench("resume", "-q", "--no-charts", out, environ=off)
    check(r.returncode == EXIT_OK, "resume runs the killed job again: exit %d, want 0" % r.returncode, r.stderr)
    after = jobs_by_backend(e.results(out))
    check(after["blk"]["status"] == "ok" and after["blk"]["n_images"] == 6, "the killed job ran again whole",
          after["blk"]["status"])
    check(after["cpu"]["samples"] == jobs["cpu"]["samples"], "finished jobs untouched")
    # a plugin's crash: blamed on it, kept failed by resume, run again only
    # with --retry-failed
    b = e.bench(name="abort.toml", backends=['name = "ab"\nplugin = "hd-signal"\nsignal = "abort"\nafter_images = 2',
                                             "cpu"])
    rc, err, out = e.run(b, out="crashed")
    ab = jobs_by_backend(e.results(out))["ab"]
    check(rc == EXIT_JOB_FAILED and ab["status"] == "failed" and "crashed (signal 6" in ab["error"]
          and "backend plugin 'hd-signal'" in ab["error"], "an abort() in a plugin: a crash blamed on it",
          rc, ab["status"], ab["error"])
    before = e.results(out)["jobs"]
    r = srambench("resume", "-q", "--no-charts", out, environ=off)
    check(r.returncode == EXIT_JOB_FAILED and e.results(out)["jobs"] == before,
          "resume keeps a crashed job failed: exit %d, want 1" % r.returncode, r.stderr)
    r = srambench("resume", "-q", "--no-charts", "--retry-failed", out, environ=off)
    ab = jobs_by_backend(e.results(out))["ab"]
    check(r.returncode == EXIT_OK and ab["status"] == "ok" and ab["n_images"] == 6,
          "resume --retry-failed runs it again: exit %d, want 0" % r.returncode, ab["status"], r.stderr)


# --- issue 19: items 3, 10a-e (class names, BOM, split index, names, paths, odd images) ---


def case_paths_checked_before_any_job(e):
    """A model or dataset `path` that does not exist, or is a device, was a
    failed job with a results folder (exit 1); docs/errors.md promises a
    config error: exit 3, the bench.toml line, nothing run or written."""
    problems = []
    for name, models, dataset, words in [
            ("model-missing", ['name = "m"\nplugin = "sbm"\npath = "no-such.sbm"'], None,
             ["[[model]] 'm': path = \"no-such.sbm\": %s/no-such.sbm: No such file or directory" % e.tmp]),
            ("model-device", ['name = "m"\nplugin = "sbm"\npath = "/dev/null"'], None,
             ["path = \"/dev/null\": /dev/null: not a regular file or folder"]),
            ("dataset-missing", None, 'plugin = "ham10000"\npath = "gone"\n',
             ["[dataset] 'ham10000': path = \"gone\": %s/gone: No such file or directory" % e.tmp])]:
        b = e.bench(name=name + ".toml", models=models, dataset=dataset)
        rc, err, out = e.run(b, out="out-" + name)
        where = re.search(re.escape(b) + r":\d+:\d+: ", err)
        if rc != EXIT_CONFIG or not where or any(w not in err for w in words) or os.path.exists(out):
            problems.append("%s: rc %d (want 3, the line, %r, no %s), stderr %r"
                            % (name, rc, words, out, err.strip()[:400]))
    check(not problems, "paths checked before any job", *problems)


ISIC_ORDER = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
DERMAMNIST = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def classes_model(e, name, classes):
    """The fuzz-seed model with other class names in its header."""
    _raw, header, data = sbm_parts(TINY)
    header["classes"] = classes
    path = os.path.join(e.tmp, name + ".sbm")
    sbm_write(path, header, data)
    return path


def case_class_names_checked(e):
    """A model exported in ISIC's column order was scored against DermaMNIST's
    labels (only the count was compared): wrong accuracy, exit 0. Every
    command that pairs a model with a dataset refuses it (exit 3, both lists,
    nothing run); names that are aliases of the dataset's are accepted."""
    path = classes_model(e, "isic", ISIC_ORDER)
    b = e.bench(name="isic.toml", models=['name = "isic"\nplugin = "sbm"\npath = "%s"' % path])
    want = ("model 'isic' classes [%s] are not dataset 'ham10000' classes [%s]: class 0 is 'MEL' in the model, "
            "'akiec' in the dataset" % (", ".join(ISIC_ORDER), ", ".join(DERMAMNIST)))
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    problems = []
    for cmd in ("run", "batch", "compare", "flow", "infer"):
        out = os.path.join(e.tmp, "cls-" + cmd)
        argv = [e.exe, cmd, "-q", "--output-dir", out]
        argv += [b] if cmd == "run" else ["--config", b] + (["ham10000:0"] if cmd == "infer" else ["--no-charts"])
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        if p.returncode != EXIT_CONFIG or want not in p.stderr or not re.search(re.escape(b) + r":\d+:\d+: ", p.stderr) \
                or os.path.exists(out):
            problems.append("%s: rc %d (want 3, the bench.toml line, both lists, no %s), stderr %r"
                            % (cmd, p.returncode, out, p.stderr.strip()[:500]))
    # DermaMNIST's long names and ISIC's upper-case codes, in the dataset's order: the same classes
    for name, classes in [("long", ["actinic keratoses", "basal cell carcinoma", "benign keratosis-like lesions",
                                    "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"]),
                          ("upper", [c.upper() for c in DERMAMNIST])]:
        path = classes_model(e, name, classes)
        b = e.bench(name=name + ".toml", models=['name = "%s"\nplugin = "sbm"\npath = "%s"' % (name, path)])
        rc, err, out = e.run(b, out="cls-ok-" + name)
        if rc != EXIT_OK:
            problems.append("%s names: rc %d, want 0: %r" % (name, rc, err.strip()[:400]))
    check(not problems, "class names", *problems)


def case_crash_while_classes_checked(e):
    """The class check opens datasets and loads models before any job: a
    model plugin that crashes there still fails only its own job, and the
    run goes on (docs/errors.md, Plugins that crash), with a warning."""
    b = e.bench(name="crashload.toml", models=['name = "crash"\nplugin = "hd-crashload"',
                                               'name = "tiny"\nplugin = "sbm"\npath = "%s"' % TINY])
    rc, err, out = e.run(b)
    check(rc == EXIT_JOB_FAILED, "exit %d, want 1 (a job failed)" % rc, err)
    check("'hd-crashload' (model 'crash'), loading it crashed (signal %d" % signal.SIGSEGV in err
          and "running without that check" in err, "the crash during the check is said", err)
    jobs = {j["model"]: j for j in e.results(out)["jobs"]}
    check(jobs["crash"]["status"] == "failed" and "loading it" in (jobs["crash"]["error"] or ""),
          "the crashing model's job failed, naming the plugin", jobs["crash"])
    check(jobs["tiny"]["status"] == "ok", "the other model's job ran", jobs["tiny"])


# --- issue 19: planted temp links (item 6), FIFOs as inputs (item 8) ---


def sb_env(e):
    return dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)


def unblock(fifo):
    """A process blocked opening `fifo` for reading gets a writer, then EOF."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def run_fifo(e, argv, fifo, timeout=15):
    """srambench ARGV; a FIFO that blocks it makes the timeout the failure.
    Returns (exit code, or None when it hung; stderr)."""
    try:
        p = subprocess.run([e.exe] + argv, env=sb_env(e), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=timeout)
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        return None, "still running after %d s: blocked on the FIFO" % timeout
    finally:
        unblock(fifo)


def case_fifo_inputs(e):
    """A FIFO where a file is expected (bench.toml, a model, the dataset's
    metadata, a technology config, an infer image, results.json) is refused
    at once, 'is not a regular file (a FIFO)', instead of blocking in open()
    for ever (under the supervisor, the child stayed behind it)."""
    problems = []
    fifo_dir = os.path.join(e.tmp, "fifos")
    os.mkdir(fifo_dir)

    def fifo(name):
        path = os.path.join(fifo_dir, name)
        os.mkfifo(path)
        return path

    def expect(what, argv, path, want_rc, words, kind=": is not a regular file (a FIFO)"):
        rc, err = run_fifo(e, argv, path)
        words = words + [path + kind]
        if rc not in want_rc or any(w not in err for w in words):
            problems.append("%s: rc %s (want %s), stderr %r lacks %r" % (what, rc, want_rc, err[-600:], words))

    def run_argv(bench, out):
        return ["run", "-q", "--no-charts", "--output-dir", os.path.join(e.tmp, out), bench]

    toml = fifo("bench.toml")
    expect("bench.toml", run_argv(toml, "o-toml"), toml, [EXIT_CONFIG], ["expected a bench.toml file"])
    sbm = fifo("model.sbm")
    b = e.bench(name="fifo-model.toml", models=['name = "m"\nplugin = "sbm"\npath = "%s"\n' % sbm])
    # refused with the other paths before any job (case paths_checked_before_any_job)
    expect("model path", run_argv(b, "o-model"), sbm, [EXIT_CONFIG], [],
           kind=": not a regular file or folder (a device, FIFO or socket)")
    d = mini_copy(e, "fifo-meta")
    meta = os.path.join(d, "HAM10000_metadata.csv")
    os.unlink(meta)
    os.mkfifo(meta)
    b = e.bench(name="fifo-meta.toml", dataset='plugin = "ham10000"\npath = "%s"\nlimit = 6\n' % d)
    expect("dataset metadata", run_argv(b, "o-meta"), meta, [EXIT_JOB_FAILED], ["expected a file"])
    tech = fifo("tech.toml")
    b = e.bench(name="fifo-tech.toml", backends=['plugin = "sram"\nconfig = "%s"' % tech])
    expect("sram config", run_argv(b, "o-tech"), tech, [EXIT_CONFIG], ["expected a TOML file"])
    img = fifo("image.jpg")
    b = e.bench(name="fifo-infer.toml")
    expect("infer image", ["infer", "-q", "--config", b, "--output-dir", os.path.join(e.tmp, "o-inf"), img], img,
           [EXIT_JOB_FAILED, EXIT_CONFIG], [])
    rdir = os.path.join(e.tmp, "o-fifo-results")
    os.mkdir(rdir)
    res = os.path.join(rdir, "results.json")
    os.mkfifo(res)
    expect("results.json", ["report", rdir], res, [EXIT_CONFIG], ["expected the results.json file of a run"])
    check(not problems, "FIFOs", *problems)


def case_fifo_reference(e):
    """A FIFO among the recorded runs of `report --reference DIR` is skipped,
    as any file that is not one; the report is written."""
    b = e.bench(name="ref.toml")
    rc, err, out = e.run(b, out="o-ref")
    check(rc == EXIT_OK, "the run: exit %d, want 0" % rc, err)
    ref = os.path.join(e.tmp, "reference")
    os.mkdir(ref)
    os.mkfifo(os.path.join(ref, "gpu.json"))
    rc, err = run_fifo(e, ["report", "--no-charts", "--reference", ref, out], os.path.join(ref, "gpu.json"))
    check(rc == EXIT_OK, "report with a FIFO in --reference: exit %s, want 0" % rc, err)


def case_planted_temp_links(e):
    """Links planted at the predictable temporary names (<file>.tmp.<pid>)
    and at the final names of the files a run writes: the run writes regular
    files in their place and the link targets (the victims) keep their
    bytes. The pid is known: sh plants the links and execs srambench
    --in-process, which keeps the shell's pid."""
    b = e.bench(name="links.toml")
    rc, err, first = e.run(b, out="o-first")
    check(rc == EXIT_OK, "the first run: exit %d, want 0" % rc, err)
    names = sorted(os.listdir(first))
    victim = os.path.join(e.tmp, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious")
    out = os.path.join(e.tmp, "o-links")
    os.mkdir(out)
    # the charts (gnuplot's pictures) at their final names too
    finals = [n for n in names if n.endswith((".png", ".svg"))]
    for n in finals:
        os.symlink(victim, os.path.join(out, n))
    plant = " ".join("ln -s %s %s/%s.tmp.$$;" % (victim, out, n) for n in names)
    argv = [e.exe, "run", "-q", "--in-process", "--output-dir", out, b]
    p = subprocess.run(["sh", "-c", plant + ' exec "$@"', "sh"] + argv, env=sb_env(e), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    with open(victim) as f:
        kept = f.read()
    check(kept == "precious", "the victim was overwritten through a planted link", kept[:200], p.stderr)
    check(p.returncode == EXIT_OK, "the run with planted links: exit %d, want 0" % p.returncode, p.stderr)
    for n in names:
        check(os.path.isfile(os.path.join(out, n)) and not os.path.islink(os.path.join(out, n)),
              "%s: a regular file in place of the link" % n, os.listdir(out))


# --- issue 19: item 10 (b-e): results writes batched, image formats, --reference, batch --from ---


def case_results_writes_batched(e):
    """Issue 19: 300 one-image jobs rewrote and fsync()ed results.json 301
    times; now at most once a second (and at the end), with every job in it."""
    n = 300
    ds = 'plugin = "ham10000"\npath = "%s"\nlimit = 1\n' % MINI
    backends = ['name = "c%d"\nplugin = "cpu"' % i for i in range(n)]
    b = e.bench(name="many.toml", dataset=ds, backends=backends)
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache, SRAMBENCH_DEBUG="1")
    out = os.path.join(e.tmp, "many")
    t0 = time.monotonic()
    p = subprocess.run([e.exe, "run", "-q", "--no-charts", "--output-dir", out, b], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    elapsed_s = time.monotonic() - t0
    check(p.returncode == EXIT_OK, "exit %d, want 0" % p.returncode, p.stderr[-2000:])
    m = re.search(r"results.json written (\d+) times for (\d+) jobs", p.stderr)
    check(m is not None, "SRAMBENCH_DEBUG reports the number of writes", p.stderr[-2000:])
    writes = int(m.group(1))
    # the first write, one a second, the last: bounded by the run's own time
    check(writes <= elapsed_s + 3 and writes < n // 2, "%d writes for %d jobs in %.1f s: expected at most "
          "one a second" % (writes, n, elapsed_s), p.stderr[-2000:])
    jobs = e.results(out)["jobs"]
    check(len(jobs) == n and all(j["status"] == "ok" and j["n_images"] == 1 for j in jobs),
          "results.json has every job, finished", [j["status"] for j in jobs][:5])


def case_sigint_twice(e):
    """Issue 19: Ctrl-C twice (quit at once, _exit) right after a job ended:
    that job was not yet written (writes are batched) and must still be kept."""
    b = e.bench(backends=["cpu", 'name = "sig"\nplugin = "hd-signal"\nsignal = "int2"\nafter_images = 3',
                          'name = "cpu2"\nplugin = "cpu"'])
    rc, err, out = e.run(b)
    check(rc == EXIT_INTERRUPTED, "exit %d, want 130" % rc, err)
    res = e.results(out)
    jobs = jobs_by_backend(res)
    check("interrupted again" in err, "the second Ctrl-C quit at once", err)
    check(res["interrupted"] is True, "results.json says interrupted", res.get("interrupted"))
    check(jobs["cpu"]["status"] == "ok" and len(jobs["cpu"]["samples"]) == 6,
          "the job finished just before the signals is in results.json", jobs["cpu"]["status"])
    # A hangup (the terminal closed) still ends the run at once, as it did,
    # and the job finished just before it is written first.
    b = e.bench(name="hup.toml", backends=["cpu", 'name = "sig"\nplugin = "hd-signal"\nsignal = "hup"\n'
                                           'after_images = 3', 'name = "cpu2"\nplugin = "cpu"'])
    rc, err, out = e.run(b, out="hup")
    jobs = jobs_by_backend(e.results(out))
    check(rc == EXIT_INTERRUPTED and e.results(out)["interrupted"] is True, "SIGHUP: exit %d, want 130" % rc, err)
    check(jobs["cpu"]["status"] == "ok" and len(jobs["cpu"]["samples"]) == 6,
          "SIGHUP: the job finished just before it is in results.json", jobs["cpu"]["status"], err)


def _view(e, *argv):
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    p = subprocess.run([e.exe] + list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    return p.returncode, p.stderr


def case_reference_folder(e):
    """Issue 19: `--reference /nonexistent` showed no recorded rows and said
    nothing. A missing or non-folder --reference is refused (exit 3, naming
    it) before anything is rendered; a folder of any name is read (it went
    through a shell's quotes)."""
    rc, err, out = e.run(e.bench())
    check(rc == EXIT_OK, "the run to render: exit %d" % rc, err)
    missing = os.path.join(e.tmp, "no-such-ref")
    a_file = os.path.join(e.tmp, "bench.toml")
    for argv in (["compare", "--from", out], ["batch", "--from", out], ["report", out]):
        for ref, says in ((missing, "no such folder"), (a_file, "not a folder")):
            rc, err = _view(e, *(argv + ["-q", "--no-charts", "--reference", ref]))
            check(rc == EXIT_CONFIG and ref in err and says in err and "recorded GPU runs" in err,
                  "%s --reference %s: exit 3 naming it (%s)" % (argv[0], says, rc), err)
    check(not os.path.exists(os.path.join(out, "compare.md")), "nothing rendered with a bad --reference")
    rc, err = _view(e, "flow", "--from", out, "-q", "--no-charts", "--reference", out)
    check(rc == 2 and "--reference" in err, "flow shows no recorded runs: --reference refused (%d)" % rc, err)
    ref = os.path.join(e.tmp, "ref 'quoted'")
    os.mkdir(ref)
    rec = {"format": "srambench-recorded-gpu", "format_version": 1, "model_name": "tiny", "gpu": "HD-TEST-GPU",
           "date": "2026-12-08", "srambench_gpu_int8": [{"batch": 1, "latency_per_image_ns": 1e6}]}
    with open(os.path.join(ref, "run.json"), "w") as f:
        json.dump(rec, f)
    rc, err = _view(e, "compare", "--from", out, "-q", "--no-charts", "--reference", ref)
    check(rc == EXIT_OK and "HD-TEST-GPU" in open(os.path.join(out, "compare.md")).read(),
          "a --reference folder with a quote in its name is read (exit %d)" % rc, err)


def case_batch_from_options(e):
    """Issue 19: `batch --from DIR --split test` ignored --split. With --from
    a selection option must agree with the stored run (else exit 2 naming
    both), and the options that only say what to run are refused."""
    b = e.bench(name="val.toml", dataset='plugin = "ham10000"\npath = "%s"\nsubset = "val"\n' % MINI)
    out = os.path.join(e.tmp, "stored")
    rc, err = _view(e, "batch", "--config", b, "--split", "val", "--output-dir", out, "-q", "--no-charts")
    check(rc == EXIT_OK, "batch --split val: exit %d" % rc, err)
    rc, err = _view(e, "batch", "--from", out, "--split", "val", "-q", "--no-charts")
    check(rc == EXIT_OK, "--split as the stored run's: accepted (exit %d)" % rc, err)
    rc, err = _view(e, "batch", "--from", out, "--split", "test", "-q", "--no-charts")
    check(rc == 2 and "--split test" in err and "subset 'val'" in err and out in err,
          "--split test on a val run: exit 2 naming both (%d)" % rc, err)
    rc, err = _view(e, "batch", "--from", out, "--per-class", "3", "-q", "--no-charts")
    check(rc == 2 and "--per-class 3" in err and "per_class = 0" in err,
          "--per-class 3 on a run without it: exit 2 naming both (%d)" % rc, err)
    rc, err = _view(e, "batch", "--from", out, "--split", "val", "--per-class", "3", "-q", "--no-charts")
    check(rc == 2 and "--per-class 3" in err, "--split val --per-class 3 on a whole-subset run: exit 2 (%d)" % rc, err)
    lim = 'plugin = "ham10000"\npath = "%s"\nsubset = "test"\nlimit = 6\n' % MINI
    rc, err, small = e.run(e.bench(name="lim.toml", dataset=lim), out="limited")
    rc, err = _view(e, "batch", "--from", small, "--split", "test", "-q", "--no-charts")
    check(rc == 2 and "limit = 6" in err, "--split on a run of 6 images (limit): exit 2 (%d)" % rc, err)
    rc, err = _view(e, "batch", "--from", e.tmp + "/no-such-run", "--split", "val", "-q", "--no-charts")
    check(rc == EXIT_CONFIG and "results.json" in err, "--from a folder without a run: exit 3 as before", err)
    for opt in (["--config", b], ["--workers", "2"], ["--output-dir", out], ["--model", "tiny"],
                ["--backend", "cpu"]):
        rc, err = _view(e, *(["batch", "--from", out] + opt + ["-q", "--no-charts"]))
        check(rc == 2 and opt[0] + " with --from" in err, "batch --from %s: refused, exit 2 (%d)" % (opt[0], rc), err)
    rc, err = _view(e, "flow", "--from", out, "--model", "tiny", "-q", "--no-charts")
    check(rc == EXIT_OK, "flow --from --model filters the view: accepted (exit %d)" % rc, err)


IMAGE_MAGIC = {"PNG": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "GIF": b"GIF89a\x08\0\x08\0",
               "BMP": b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0", "WebP": b"RIFF\x24\0\0\0WEBPVP8 ",
               "TIFF": b"II*\0\x08\0\0\0"}


def case_image_not_jpeg(e):
    """Issue 19: a PNG given to infer (or in the HAM10000 folder) was a
    "corrupt JPEG: Not a JPEG file"; the format is now named."""
    b = e.bench(name="img.toml")
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    problems = []
    for fmt, magic in IMAGE_MAGIC.items():
        path = os.path.join(e.tmp, "photo-%s.jpg" % fmt)
        with open(path, "wb") as f:
            f.write(magic + b"\0" * 64)
        p = subprocess.run([e.exe, "infer", "-q", "--config", b, "--output-dir", os.path.join(e.tmp, "inf"), path],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=120)
        want = "%s: is a %s image: only JPEG is supported" % (path, fmt)
        if p.returncode != EXIT_CONFIG or want not in p.stderr or "corrupt JPEG" in p.stderr:
            problems.append("%s: rc %d (want 3), stderr %r, want %r" % (fmt, p.returncode, p.stderr[:300], want))
    check(not problems, "infer on images that are not JPEG", *problems)
    d = mini_copy(e, "png")
    img = os.path.join(d, "HAM10000_images", "SYN_0000003.jpg")
    with open(img, "wb") as f:
        f.write(IMAGE_MAGIC["PNG"] + b"\0" * 64)
    rc, text = ds_run(e, "png", d)
    check(rc == EXIT_JOB_FAILED and "SYN_0000003: %s: is a PNG image: only JPEG is supported" % img in text,
          "ham10000: a PNG named .jpg fails its job naming the format (rc %d)" % rc, text[:600])


# --- issue 19: items 1 (window sizes past int32) and 7 (non-finite float tensors) ---


def _sbm_with(e, name, edit, src=TINY):
    """A copy of a seed model with `edit(header, data) -> data` applied."""
    raw, header, data = sbm_parts(src)
    h = json.loads(json.dumps(header))
    data = edit(h, bytearray(data))
    path = os.path.join(e.tmp, name + ".sbm")
    sbm_write(path, h, bytes(data))
    return path


def _run_and_infer(e, path, name):
    """`srambench run` (exit 1, the job's error) and `infer` (exit 3) on one
    model: (rc_run, message, rc_infer, stderr of infer)."""
    b, rc, err, msg = run_model_job(e, name, path)
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    p = subprocess.run([e.exe, "infer", "-q", "--config", b, "--output-dir", os.path.join(e.tmp, "inf-" + name),
                        "ham10000:0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    return rc, err + msg, p.returncode, p.stderr


def case_window_overflow(e):
    """dilation 65536 x (kernel 32770 - 1) passed int32 in the output-size
    formula: validation accepted 32768 output rows and the fast depthwise
    kernel read past its plane (infer died with exit 139). Now refused at
    load, naming the op: run fails the job (exit 1), infer exits 3."""
    kh = 32770

    def edit(h, data):
        off = (len(data) + 63) // 64 * 64
        data += b"\0" * (off - len(data)) + bytes((i * 7) % 256 for i in range(kh * 4))
        h["tensors"][6].update(shape=[1, kh, 1, 4], offset=off, nbytes=kh * 4)
        h["ops"][1].update(kernel=[kh, 1], stride=[65536, 1], dilation=[65536, 1], padding=[0, 0, 0, 0])
        for t, shape in [(8, [1, 32768, 4, 4]), (12, [1, 32768, 4, 4]), (13, [1, 16384, 2, 4])]:
            h["tensors"][t]["shape"] = shape
        return data
    path = _sbm_with(e, "dilation", edit)
    rc, text, rc_inf, err_inf = _run_and_infer(e, path, "dilation")
    want = "op 1 (dwconv2d 'd'): height: kernel 32770 with dilation 65536 spans 2147549185 positions"
    check(rc == EXIT_JOB_FAILED and want in text and path in text, "run: rc %d (want 1), message %r" % (rc, text[:400]))
    check(rc_inf == EXIT_CONFIG and want in err_inf, "infer: rc %d (want 3), stderr %r" % (rc_inf, err_inf[:400]))


def case_float_tensors(e):
    """NaN, Inf and 1e30 in a float tensor, 1e10 in a float-mode scale, were
    accepted (constant predictions, job ok; an undefined float->int
    conversion in add): refused at load naming the op, tensor and index."""
    tiny_float = os.path.join(ROOT, "tests", "fuzz", "corpus", "sbm", "tiny_float.sbm")
    problems = []
    for i, (val, shown) in enumerate([(float("nan"), "nan"), (float("inf"), "inf"), (1e30, "1e+30")]):
        def edit(h, data, val=val):
            off = h["tensors"][4]["offset"]       # f4: conv 'c' scale_f32, [4]
            data[off + 8:off + 12] = struct.pack("<f", val)
            return data
        path = _sbm_with(e, "float%d" % i, edit, tiny_float)
        rc, text, rc_inf, err_inf = _run_and_infer(e, path, "float%d" % i)
        want = "ops[0] 'c'.scale_f32: tensor 4 'f4'[2] = %s: expected a finite float32 0.." % shown
        if rc != EXIT_JOB_FAILED or want not in text or rc_inf != EXIT_CONFIG or want not in err_inf:
            problems.append("%s: run rc %d, infer rc %d, %r" % (shown, rc, rc_inf, (text + err_inf)[:400]))

    def gap(h, data):
        h["ops"][4]["scale_f32"] = 1e10
        return data
    path = _sbm_with(e, "float-gap", gap, tiny_float)
    rc, text, rc_inf, err_inf = _run_and_infer(e, path, "float-gap")
    want = "ops[4] 'g'.scale_f32: 1e+10: expected a finite float32 0.."
    if rc != EXIT_JOB_FAILED or want not in text or rc_inf != EXIT_CONFIG:
        problems.append("gavgpool 1e10: run rc %d, infer rc %d, %r" % (rc, rc_inf, (text + err_inf)[:400]))
    check(not problems, "float tensors", *problems)


# ------------------------------------------------------- issue 24: papers


def case_override_source(e):
    """Issue 24 item 1: an inline value over a sourced figure of the config
    file kept the file's source. With its own _source it is recorded with
    that; without, as "user override, unsourced (FILE:LINE)", and the
    simulated figures say so."""
    b = e.bench(backends=[sram_backend("sram.read_energy_pj = 1.0"),
                          sram_backend('sram.write_energy_pj = 2.0\n'
                                       'sram.write_energy_pj_source = "my own measurement"').replace(
                                           'name = "s"', 'name = "own"')])
    rc, err, out = e.run(b)
    check(rc == EXIT_OK, "overrides run (rc %d)" % rc, err)
    jobs = jobs_by_backend(e.results(out))
    line = open(b).read().splitlines().index("sram.read_energy_pj = 1.0") + 1
    opts = jobs["s"]["backend_report"]["hardware"]["options"]
    want = "user override, unsourced (%s:%d)" % (b, line)
    check(opts["sram.read_energy_pj"] == 1.0 and opts["sram.read_energy_pj_source"] == want,
          "the unsourced override is recorded as such", opts.get("sram.read_energy_pj_source"))
    check("15.81" in opts["sram.write_energy_pj_source"], "the keys not overridden keep the file's source",
          opts["sram.write_energy_pj_source"])
    check(jobs["s"]["unsourced_overrides"] == {"sram.read_energy_pj": want}, "the job lists its unsourced overrides",
          jobs["s"]["unsourced_overrides"])
    note = jobs["s"]["metrics"]["energy_mj_per_image"]["note"] or ""
    check(note.startswith("simulated (with unsourced overrides: sram.read_energy_pj)"),
          "the energy figure says it rests on an unsourced override", note)
    own = jobs["own"]["backend_report"]["hardware"]["options"]
    check(own["sram.write_energy_pj_source"] == "my own measurement" and jobs["own"]["unsourced_overrides"] == {},
          "an override with its own _source is recorded with it", own["sram.write_energy_pj_source"])
    check("unsourced" not in (jobs["own"]["metrics"]["energy_mj_per_image"]["note"] or ""),
          "a sourced override adds no note", jobs["own"]["metrics"]["energy_mj_per_image"]["note"])
    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    check("tiny x s: simulated (with unsourced overrides: sram.read_energy_pj)" in table and "x own: simulated" not in table,
          "the table's notes name the unsourced override", table)
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    inf = os.path.join(e.tmp, "inf")
    p = subprocess.run([e.exe, "infer", "-q", "--config", b, "--output-dir", inf, "ham10000:0"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "infer runs (rc %d)" % p.returncode, p.stderr)
    jobs = jobs_by_backend(e.results(inf))
    note = jobs["s"]["metrics"]["energy_mj_per_image"]["note"] or ""
    check(jobs["s"]["unsourced_overrides"] == {"sram.read_energy_pj": want} and
          note.startswith("simulated (with unsourced overrides: sram.read_energy_pj)") and
          jobs["own"]["unsourced_overrides"] == {}, "infer records the unsourced override and notes it", note)


def case_measured_timing(e):
    """Issue 24 item 3: a measured latency was one cold run. Warm-up runs
    (not counted) and repeats are recorded per job with the median and
    spread; the host's load and CPU governor in the environment."""
    b = e.bench(backends=['name = "rep"\nplugin = "cpu"\nwarmup = 2\nrepeats = 3', "cpu",
                          sram_backend("repeats = 2")])
    rc, err, out = e.run(b)
    check(rc == EXIT_OK, "runs with warmup and repeats (rc %d)" % rc, err)
    res = e.results(out)
    env = res["environment"]
    check("load_avg" in env and isinstance(env.get("cpu_governor"), str) and env["cpu_governor"],
          "the environment records the load and the CPU governor", env)
    jobs = jobs_by_backend(res)
    t = jobs["rep"]["timing"]
    check(t and t["warmup"] == 2 and t["repeats"] == 3 and t["n_timed"] == 6 * 3,
          "a job with repeats records its warm-up and every counted run", t)
    check(t["latency_ms_p5"] <= t["latency_ms_median"] <= t["latency_ms_p95"] and "note" in t,
          "median and spread are recorded", t)
    d = jobs["cpu"]["timing"]
    check(d and d["warmup"] == 3 and d["repeats"] == 1 and d["n_timed"] == 6, "run defaults: 3 warm-up runs, 1 repeat", d)
    check(jobs["s"]["timing"] is None, "a simulated latency is not repeated", jobs["s"]["timing"])
    img = os.path.join(MINI, "HAM10000_images", "SYN_0000001.jpg")
    env_vars = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    cfg = e.bench(name="inf.toml")
    inf = os.path.join(e.tmp, "inf")
    p = subprocess.run([e.exe, "infer", "-q", "--config", cfg, "--output-dir", inf, img], env=env_vars,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    check(p.returncode == EXIT_OK, "infer runs (rc %d)" % p.returncode, p.stderr)
    res = e.results(inf)
    t = res["jobs"][0]["timing"]
    check(t and t["warmup"] == 3 and t["repeats"] == 20 and t["n_timed"] == 20,
          "infer of one image: warm runs by default (3 warm-up, median of 20)", t)
    check("cpu_governor" in res["environment"], "infer records the host's state", res.get("environment"))
    # A fake measured latency (hd-signal fake_latency): 1e9 ns for the three
    # warm-up runs, then 10000 every third run, else 1000.
    b = e.bench(name="fake.toml", run="workers = 1",
                backends=['plugin = "hd-signal"\nafter_images = 0\nfake_latency = true\nrepeats = 5',
                          'name = "once"\nplugin = "hd-signal"\nafter_images = 0\nfake_latency = true'])
    rc, err, out = e.run(b, out="out-fake")
    check(rc == EXIT_OK, "fake latency runs (rc %d)" % rc, err)
    once = jobs_by_backend(e.results(out))["once"]
    lat = [s["metrics"]["latency_ns"] for s in once["samples"]]
    check(lat == [10000, 1000, 1000, 10000, 1000, 1000] and once["timing"]["n_timed"] == 6,
          "one run per image after 3 uncounted warm-up runs", lat)
    job = e.results(out)["jobs"][0]
    t = job["timing"]
    check(t["warmup"] == 3 and t["n_timed"] == 30 and t["latency_ms_p95"] == 0.01, "warm-up runs are not counted", t)
    lat = [s["metrics"]["latency_ns"] for s in job["samples"]]
    check(lat == [1000] * 6, "each image's latency is the median of its repeats", lat)
    check(t["note"] and "large spread: p95 / median = 10.00" in t["note"], "a large spread is noted", t)
    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    check("x hd-signal: latency: large spread" in table, "the table notes the large spread", table)
    b = e.bench(name="rep0.toml", backends=['plugin = "cpu"\nrepeats = 0'])
    rc, err, out = e.run(b, out="out-rep0")
    check(rc == EXIT_CONFIG and re.search(re.escape(b) + r":\d+:\d+: .*'repeats' = 0: expected 1..1000", err),
          "repeats = 0 is refused naming the line (rc %d)" % rc, err)


def case_preparing_once(e):
    # On a terminal (script(1) gives one), the progress line says
    # "preparing" for the first job only: three backends that each take
    # 1.2 s to prepare, over several 0.5 s progress ticks each.
    if not shutil.which("script"):
        print("SKIP: no script(1) to run srambench on a terminal")
        return
    slow = 'plugin = "hd-signal"\nafter_images = 0\nprepare_ms = 1200\n'
    b = e.bench(name="prep.toml", backends=['name = "a"\n' + slow, 'name = "b"\n' + slow, 'name = "c"\n' + slow])
    env = dict(os.environ, SRAMBENCH_PLUGIN_PATH=e.plugins, SRAMBENCH_CACHE_DIR=e.cache)
    cmd = "'%s' run --no-charts --output-dir '%s' '%s' >/dev/null" % (e.exe, os.path.join(e.tmp, "out-prep"), b)
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, errors="replace", timeout=120)
    check(p.returncode == EXIT_OK, "the run goes through (rc %d)" % p.returncode, p.stdout)
    check("job 3/3 ham10000 x tiny x c: ok" in p.stdout, "the terminal shows the jobs", p.stdout)
    check(p.stdout.count("preparing") == 1 and "job 1/3 tiny x a: preparing" in p.stdout,
          "\"preparing\" once a run, for the first job", p.stdout)


# --- issue 19: item 9's class in the results folder ---


def case_stale_results_temp(e):
    """A writer killed mid-write (SIGKILL) leaves results.json.tmp.<pid>; the
    next run that locks the folder removes a dead process's temp file, keeps
    a live process's one and never follows a link."""
    b = e.bench()
    rc, err, out = e.run(b, out="temps")
    check(rc == EXIT_OK, "first run: exit %d" % rc, err)
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid names no process now
    stale = os.path.join(out, "results.json.tmp.%d" % dead.pid)
    live = os.path.join(out, "report.html.tmp.%d" % os.getpid())
    victim = os.path.join(e.tmp, "victim")
    for path in (stale, live, victim):
        with open(path, "w") as f:
            f.write("x")
    linked = os.path.join(out, "table.md.tmp.%d" % dead.pid)
    os.symlink(victim, linked)
    rc, err, _ = e.run(b, out="temps")
    check(rc == EXIT_OK, "second run into the folder: exit %d" % rc, err)
    check(not os.path.exists(stale), "the dead writer's temp file is still there", os.listdir(out))
    check(os.path.exists(live), "a live process's temp file was removed", os.listdir(out))
    check(os.path.islink(linked) and os.path.exists(victim), "a link was followed or removed", os.listdir(out))


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srambench", required=True)
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    e = Env(args)
    try:
        CASES[args.case](e)
    except Fail as x:
        print("FAIL %s: %s" % (args.case, x))
        return 1
    finally:
        if not os.environ.get("SB_KEEP_TMP"):
            shutil.rmtree(e.tmp, ignore_errors=True)
    print("ok %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
