#!/usr/bin/env python3
"""Hostile-input fuzzing harness for the xbarsim command line (Python standard library only).

Builds a fixed, seeded list of cases and runs each in a child process with a timeout:

- command-line values for every subcommand (eval, golden, info, sweep, bench, spice, report):
  boundary integers, 1e308, NaN, inf, -0, empty strings, unknown enum words, malformed tiles
  and sweep ranges (tiny steps, huge spans);
- dataset files: truncated, empty, padded or relabelled copies of the CIFAR-10 batch files in
  a temporary folder given with --data, a missing $XBARSIM_DATA;
- model files: truncations and random bit flips of a copy of the default model.

A case fails when the child dies of a signal (a trap, an abort, a segfault), runs past its
timeout (a hang), exits 0 where an error is due, or exits non-zero without a message on
stderr. Prints the counts and exits non-zero on any failure.

    python3 scripts/fuzz.py --binary .build/debug/xbarsim --seed 17 --budget 210
"""

import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Values every count flag (must be >= 1) has to reject.
BAD_COUNTS = ["-1", "0", "-0", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
              "99999999999999999999999", "1e3", "1.5", "nan", "inf", "-inf", "", "abc", "0x10", " "]
# Values every bounded real chip parameter has to reject.
BAD_REALS = ["nan", "-nan", "inf", "-inf", "1e308", "-1e308", "1.7976931348623157e308", "1e155", "1e400", "",
             "abc", "1e", "--", "0x1p1024"]
# Values that name nothing.
BAD_WORDS = ["", "bogus", "ANALOG", "0", "-1", "nan", "é", "a" * 300]
BAD_TILES = ["0x0", "1x1", "1x128", "-1x5", "100000x100000", "65537x2", "9223372036854775807x2",
             "2x9223372036854775808", "x", "", "axb", "128x", "x128", "2x2x2", "nanxnan", "1e3x1e3", "-0x-0"]
BAD_CONDUCTANCES = ["nan", "inf", "-inf", "1e308", "1e308S", "-1uS", "1e400uS", "", "uS", "abc", "1e3kS"]

# Real chip parameters (flag, extra bad values that are in "number" form but out of the physical range).
REAL_CHIP_FLAGS = [
    ("--variation", ["10", "-0.1", "1.5"]),
    ("--read-noise", ["2", "-0.01", "1e20"]),
    ("--stuck-on", ["1.5", "-0.5"]),
    ("--stuck-off", ["2"]),
    ("--headroom", ["11", "-1"]),
    ("--drift-time", ["10", "1e11", "-5"]),
    ("--drift-nu", ["-0.1", "5"]),
    ("--drift-nu-sigma", ["-1", "3"]),
    ("--rail", ["-1", "1e5"]),
    ("--opamp-gain", ["0.5", "-3", "1e13"]),
    ("--input-voltage", ["0", "-0", "-1", "100", "1e-9"]),
    ("--limiter-offset", ["5", "-5"]),
    ("--multiplier-gain-error", ["-1", "0.9", "-2"]),
    ("--wire-resistance", ["-1", "1e-12", "1e5"]),
    ("--row-wire-resistance", ["-1", "1e9"]),
    ("--column-wire-resistance", ["-2", "1e9"]),
    ("--source-resistance", ["-1", "1e7"]),
    ("--ir-drop-tolerance", ["0", "1", "-0.5", "1e-300"]),
    ("--write-verify-tolerance", ["0", "-0.1", "2", "1e-9"]),
]
INT_CHIP_FLAGS = [
    ("--levels", ["1", "-1", "9223372036854775807", "2000000"]),
    ("--dac-bits", ["1", "25", "-1", "9223372036854775807"]),
    ("--adc-bits", ["1", "64", "-8"]),
    ("--calibration-images", ["0", "-1", "10001", "60000", "9223372036854775807"]),
    ("--ir-compensation", ["-1", "51", "9223372036854775807"]),
    ("--write-verify", ["-1", "65", "9223372036854775807"]),
]
ENUM_CHIP_FLAGS = ["--preset", "--mapping", "--mode", "--variation-distribution", "--stuck-scope",
                   "--drift-compensation", "--ir-drop", "--ir-compensation-window"]


class Case:
    def __init__(self, name, argv, must_fail, env=None, timeout=None, setup=None):
        self.name = name
        self.argv = argv
        self.must_fail = must_fail
        self.env = env or {}
        self.timeout = timeout
        self.setup = setup  # callable(tmpdir) -> extra argv substitutions


def value_cases(tmp):
    """Command-line values, every subcommand."""
    cases = []
    spice_out = os.path.join(tmp, "spice-out")
    # A cheap command that validates every chip flag: a random 4x4 tile netlist.
    spice_tile = ["spice", "--tile", "4x4", "--out", os.path.join(spice_out, "t.cir")]

    for flag, extra in REAL_CHIP_FLAGS:
        for v in BAD_REALS + extra:
            cases.append(Case(f"spice {flag} {v!r}", spice_tile + [flag, v], True))
    for flag, extra in INT_CHIP_FLAGS:
        for v in ["nan", "inf", "", "abc", "1e3", "99999999999999999999", "-9223372036854775808"] + extra:
            cases.append(Case(f"spice {flag} {v!r}", spice_tile + [flag, v], True))
    for flag in ENUM_CHIP_FLAGS:
        for v in BAD_WORDS:
            cases.append(Case(f"spice {flag} {v!r}", spice_tile + [flag, v], True))
    for flag in ["--g-min", "--g-max", "--pooling-conductance"]:
        for v in BAD_CONDUCTANCES:
            cases.append(Case(f"spice {flag} {v!r}", spice_tile + [flag, v], True))
    for v in ["0", "-1", "nan", "inf", "1e308", "-0", "bogus", "", "1e-300"]:
        cases.append(Case(f"spice --scaling {v!r}", spice_tile + ["--scaling", v], True))
    cases.append(Case("spice --g-min above --g-max", spice_tile + ["--g-min", "1e-3", "--g-max", "1e-4"], True))
    # spice's own values.
    for v in BAD_TILES:
        cases.append(Case(f"spice --tile {v!r}", ["spice", "--tile", v, "--out", os.path.join(spice_out, "u.cir")], True))
    for flag in ["--batch", "--threads"]:
        for v in BAD_COUNTS:
            cases.append(Case(f"spice {flag} {v!r}", spice_tile + [flag, v], True))
    for v in ["1", "0", "-1", "9223372036854775807", "nan", ""]:
        cases.append(Case(f"spice --points {v!r}", ["spice", "--modules", "--points", v], True))
    for v in ["-1", "9223372036854775807", "-9223372036854775808", "nan", "", "1e3"]:
        cases.append(Case(f"spice --image {v!r}", ["spice", "--op", "0", "--image", v], True))
    for flag in ["--channels", "--positions"]:
        for v in ["0", "-1", "9223372036854775807", "nan", "", "alll"]:
            cases.append(Case(f"spice {flag} {v!r}", ["spice", "--op", "0", flag, v], True))
    for v in ["-1", "18446744073709551616", "nan", ""]:
        cases.append(Case(f"spice --seed {v!r}", spice_tile + ["--seed", v], True))
    cases.append(Case("spice: no mode", ["spice"], True))
    cases.append(Case("spice --op and --modules", ["spice", "--op", "0", "--modules"], True))
    cases.append(Case("spice --op bogus", ["spice", "--op", "no-such-op", "--out", spice_out], True))
    cases.append(Case("spice --op 100000", ["spice", "--op", "100000", "--out", spice_out], True))
    cases.append(Case("spice --op -1", ["spice", "--op", "-1", "--out", spice_out], True))
    # Valid boundary values of spice (any clean outcome).
    cases.append(Case("spice --tile 2x2", ["spice", "--tile", "2x2", "--out", os.path.join(spice_out, "ok.cir")], False))
    cases.append(Case("spice --tile 2x2 -0 values", spice_tile + ["--variation", "-0", "--read-noise", "-0",
                                                                    "--limiter-offset", "-0"], False))

    # eval: the shared flags and the chip flags (values that are due to fail before any work).
    ev = ["eval", "--limit", "2"]
    for flag in ["--threads", "--chips", "--batch", "--limit"]:
        for v in BAD_COUNTS:
            cases.append(Case(f"eval {flag} {v!r}", ev + [flag, v], True))
    for flag, extra in REAL_CHIP_FLAGS[::2]:
        for v in ["nan", "1e308", "-inf"] + extra[:1]:
            cases.append(Case(f"eval {flag} {v!r}", ev + [flag, v], True))
    for v in ["100000x100000", "1x1", "9223372036854775807x9223372036854775807"]:
        cases.append(Case(f"eval --tile {v!r}", ev + ["--tile", v], True))
    cases.append(Case("eval --calibration-images 60000", ev + ["--calibration-images", "60000"], True))
    cases.append(Case("eval --float --profile --json 1 image", ["eval", "--float", "--limit", "1", "--json", "--profile"], False))
    cases.append(Case("eval --float --limit 1 --batch 65536", ["eval", "--float", "--limit", "1", "--batch", "65536"], False))

    # golden / info.
    for v in ["-1", "nan", "inf", "-inf", "", "abc", "-0.5", "1e400"]:
        cases.append(Case(f"golden --tolerance {v!r}", ["golden", "--tolerance", v], True))
    for v in BAD_COUNTS[:8]:
        cases.append(Case(f"golden --threads {v!r}", ["golden", "--threads", v], True))
    cases.append(Case("golden --tolerance 0", ["golden", "--tolerance", "0"], True))
    for path in ["", "/nonexistent/model.h5", "/dev/null", tmp, os.path.join(ROOT, "README.md")]:
        cases.append(Case(f"info --model {path!r}", ["info", "--model", path], True))

    # sweep: specs and counts.
    sw_out = os.path.join(tmp, "sweep")
    sw = ["sweep", "--images", "2", "--out", sw_out]
    specs = ["variation=0:1:1e-300", "variation=0:1e308:1e-308", "variation=-1e308:1e308:1", "variation=0:1:0",
             "variation=1:0:0.1", "variation=nan:1:0.1", "variation=0:inf:1", "variation=", "=1", "variation",
             "bogus=1", "levels=1.5", "levels=4,4", "levels=0:9223372036854775807:1", "variation=0,,1",
             "tile=1x1", "tile=100000x100000", "mode=bogus", "variation=0:1:1e-5", "read-noise=1e308",
             "drift-time=1e308", "g-max=1e308", "scaling=1e308", "calibration-images=60000", "levels=9223372036854775807",
             "variation=" + ",".join(["0.1"] * 3), "variation=0:0.2:0.02:1", "variation=" + ",".join(str(i) for i in range(20000))]
    for spec in specs:
        cases.append(Case(f"sweep --vary {spec[:40]!r}", sw + ["--vary", spec], True))
    for flag in ["--chips", "--images", "--batch", "--threads"]:
        for v in BAD_COUNTS[:10]:
            cases.append(Case(f"sweep {flag} {v!r}", ["sweep", "--out", sw_out, "--vary", "variation=0,0.1", flag, v], True))
    for v in ["", "1/0", "2/2", "-1/4", "9223372036854775807/9223372036854775807", "a/b", "0/-1", "1"]:
        cases.append(Case(f"sweep --shard {v!r}", sw + ["--vary", "variation=0,0.1", "--shard", v], True))
    cases.append(Case("sweep: no --vary", sw, True))
    cases.append(Case("sweep --preset-sweep bogus", sw + ["--preset-sweep", "bogus"], True))
    cases.append(Case("sweep merge nothing", ["sweep", "merge", "--out", sw_out], True))
    cases.append(Case("sweep merge missing", ["sweep", "merge", "/nonexistent-folder", "--out", sw_out], True))

    # bench.
    for flag in ["--images", "--chips", "--batch", "--tile-batch", "--tile-repeats", "--threads"]:
        for v in BAD_COUNTS[:9]:
            cases.append(Case(f"bench {flag} {v!r}", ["bench", "--tile-only", flag, v], True))
    for v in ["", "1", "0", "-128", "100000", "9223372036854775807", "128,,256", "a,b", "65537", "nan"]:
        cases.append(Case(f"bench --tile-sizes {v!r}", ["bench", "--tile-only", "--tile-sizes", v], True))
    cases.append(Case("bench --tile-only --no-tile", ["bench", "--tile-only", "--no-tile"], True))

    # report.
    for flag in ["--images", "--batch", "--threads"]:
        for v in BAD_COUNTS[:9]:
            cases.append(Case(f"report {flag} {v!r}", ["report", flag, v], True))
    for v in ["", "bogus", "opAmpStaticPowerWatts", "opAmpStaticPowerWatts=nan", "opAmpStaticPowerWatts=-1",
              "opAmpStaticPowerWatts=1e308", "=1"]:
        cases.append(Case(f"report --tech-set {v!r}", ["report", "--images", "1", "--tech-set", v], True))
    for v in ["/nonexistent.json", "/dev/null", os.path.join(ROOT, "README.md")]:
        cases.append(Case(f"report --tech {v!r}", ["report", "--images", "1", "--tech", v], True))
    for v in BAD_WORDS[:4]:
        cases.append(Case(f"report --layout {v!r}", ["report", "--layout", v], True))
        cases.append(Case(f"report --schedule {v!r}", ["report", "--schedule", v], True))

    # Unknown subcommands and flags.
    cases.append(Case("unknown subcommand", ["bogus"], True))
    cases.append(Case("unknown flag", ["eval", "--bogus"], True))
    cases.append(Case("flag without value", ["eval", "--limit"], True))
    return cases


def dataset_cases(tmp, data, rng):
    """Mutated CIFAR-10 folders given with --data (and $XBARSIM_DATA)."""
    cases = []
    test = os.path.join(data, "test_batch.bin")
    train = os.path.join(data, "data_batch_1.bin")
    record = 3073

    def folder(name, test_bytes=None, train_bytes=None, test_missing=False):
        d = os.path.join(tmp, "data-" + name)
        os.makedirs(d, exist_ok=True)
        if not test_missing:
            with open(os.path.join(d, "test_batch.bin"), "wb") as f:
                f.write(test_bytes)
        if train_bytes is not None:
            with open(os.path.join(d, "data_batch_1.bin"), "wb") as f:
                f.write(train_bytes)
        return d

    with open(test, "rb") as f:
        head = f.read(record * 300)
    with open(train, "rb") as f:
        train_head = f.read(record * 20)

    def run_float(d):
        return ["eval", "--float", "--limit", "4", "--data", d]

    bad = {
        "empty": b"",
        "one-byte": head[:1],
        "one-record-less-1": head[:record - 1],
        "records-plus-5": head[:record * 2 + 5],
        "label-10": bytes([10]) + head[1:record * 4],
        "label-255": head[:record] + bytes([255]) + head[record + 1:record * 4],
    }
    for name, content in bad.items():
        cases.append(Case(f"data {name}: eval --float", run_float(folder(name, content)), True))
    for k in range(8):
        cut = rng.randrange(1, record * 8)
        if cut % record == 0:
            cut += 1
        d = folder(f"cut{k}", head[:cut])
        cases.append(Case(f"data truncated at {cut}: eval --float", run_float(d), True))
    cases.append(Case("data no test_batch.bin", run_float(folder("missing", test_missing=True)), True))
    # FIFOs where files are read whole: must be refused, never block.
    fifo_dir = folder("fifo", test_missing=True)
    os.mkfifo(os.path.join(fifo_dir, "test_batch.bin"))
    cases.append(Case("data test_batch.bin is a FIFO", run_float(fifo_dir), True))
    meta_dir = folder("fifo-meta", head[:record * 3])
    os.mkfifo(os.path.join(meta_dir, "batches.meta.txt"))
    cases.append(Case("data batches.meta.txt is a FIFO", run_float(meta_dir), False))
    fifo_model = os.path.join(tmp, "fifo-model.h5")
    os.mkfifo(fifo_model)
    cases.append(Case("model is a FIFO: info", ["info", "--model", fifo_model], True))
    cases.append(Case("model is a FIFO: eval", ["eval", "--float", "--limit", "1", "--model", fifo_model], True))
    fifo_tech = os.path.join(tmp, "fifo-tech.json")
    os.mkfifo(fifo_tech)
    cases.append(Case("report --tech FIFO", ["report", "--images", "1", "--tech", fifo_tech], True))
    cases.append(Case("data is a file", ["eval", "--float", "--limit", "2", "--data", test], True))
    cases.append(Case("data missing folder", ["eval", "--float", "--limit", "2", "--data", "/nonexistent-cifar"], True))
    cases.append(Case("XBARSIM_DATA missing", ["eval", "--float", "--limit", "2"], True,
                      env={"XBARSIM_DATA": "/nonexistent-cifar"}))
    # Fewer test images than asked: clean run on what is there.
    cases.append(Case("data 3 records, limit 10", ["eval", "--float", "--limit", "10", "--data",
                                                   folder("three", head[:record * 3])], False))
    # golden needs its 256 images: a short test file must be an error.
    cases.append(Case("data 3 records: golden", ["golden", "--data", folder("three-golden", head[:record * 3])], True))
    # Calibration from a truncated or short training file.
    ev = ["eval", "--preset", "ideal", "--limit", "1", "--calibration-images", "16"]
    cases.append(Case("train truncated: calibration", ev + ["--data", folder("train-cut", head[:record * 2],
                                                                            train_head[:record * 3 + 7])], True))
    cases.append(Case("train 5 records, calibration 16", ev + ["--data", folder("train-short", head[:record * 2],
                                                                              train_head[:record * 5])], True))
    return cases


def model_cases(tmp, model, rng, count_truncations, count_flips):
    """Truncations and bit flips of a copy of the default model file."""
    cases = []
    with open(model, "rb") as f:
        original = f.read()
    size = len(original)
    cuts = [0, 1, 8, 512, 2048, size // 2, size - 1] + [rng.randrange(1, size) for _ in range(count_truncations)]
    for i, cut in enumerate(cuts):
        path = os.path.join(tmp, f"cut-{i}.h5")
        with open(path, "wb") as f:
            f.write(original[:cut])
        cases.append(Case(f"model truncated at {cut}: info", ["info", "--model", path], True))
        if i % 3 == 0:
            cases.append(Case(f"model truncated at {cut}: eval", ["eval", "--float", "--limit", "2", "--model", path], True))
    # Bit flips: most in the first 64 KiB (superblock, object headers, attributes), some anywhere.
    for i in range(count_flips):
        data = bytearray(original)
        flips = rng.choice([1, 1, 2, 8])
        where = []
        for _ in range(flips):
            pos = rng.randrange(0, 65536) if rng.random() < 0.7 else rng.randrange(0, size)
            data[pos] ^= 1 << rng.randrange(8)
            where.append(pos)
        path = os.path.join(tmp, f"flip-{i}.h5")
        with open(path, "wb") as f:
            f.write(data)
        # A flipped bit may land where it changes nothing: any clean outcome is accepted.
        cases.append(Case(f"model bit flips at {where}: eval", ["eval", "--float", "--limit", "2", "--model", path], False))
    return cases


def run_case(binary, case, timeout, workdir):
    env = dict(os.environ)
    env.pop("XBARSIM_DATA", None)
    env.update(case.env)
    start = time.monotonic()
    try:
        p = subprocess.run([binary] + case.argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=case.timeout or timeout,
                           start_new_session=True)
    except subprocess.TimeoutExpired as e:
        return "hang", None, (e.stderr or b"").decode("utf-8", "replace"), time.monotonic() - start
    seconds = time.monotonic() - start
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        try:
            name = signal.Signals(-p.returncode).name
        except ValueError:
            name = str(-p.returncode)
        return "crash", name, err, seconds
    if p.returncode == 0:
        return ("wrong-exit-0" if case.must_fail else "ok"), 0, err, seconds
    first = next((line.strip() for line in err.splitlines() if line.strip()), "")
    if not first:
        return "no-message", p.returncode, err, seconds
    # Swift runtime traps print "Fatal error" and exit by signal; a non-signal exit with such a
    # message (or a backtrace) is a crash all the same.
    if "Fatal error" in err or "Stack dump" in err or "Current stack trace" in err:
        return "crash", p.returncode, err, seconds
    return "clean-error", p.returncode, err, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/debug/xbarsim"))
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--budget", type=float, default=210, help="seconds for the whole run (cases left are counted as not run)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per case")
    ap.add_argument("--data", default=None, help="CIFAR-10 folder to mutate (default: the one xbarsim finds)")
    ap.add_argument("--model", default=os.path.join(ROOT, "Weights/mobilenetv3_cifar10.h5"))
    ap.add_argument("--flips", type=int, default=32, help="bit-flipped model copies")
    ap.add_argument("--truncations", type=int, default=8, help="random truncations of the model (plus 7 fixed)")
    ap.add_argument("--json", default=None, help="write the counts and failures to this file")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once")
    ap.add_argument("--only", choices=["values", "data", "model"], default=None, help="run one class of cases")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"fuzz: {binary}: not an executable (build first)", file=sys.stderr)
        return 2
    data = args.data
    if data is None:
        for candidate in [os.environ.get("XBARSIM_DATA", ""), os.path.join(ROOT, "Datasets/cifar-10-batches-bin"),
                          os.path.join(ROOT, "../shared/cifar10/cifar-10-batches-bin")]:
            if candidate and os.path.isfile(os.path.join(candidate, "test_batch.bin")):
                data = candidate
                break
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="xbarsim-fuzz-")
    try:
        values = value_cases(tmp) if args.only in (None, "values") else []
        cases = []
        if data:
            data_cases = dataset_cases(tmp, data, rng)  # always built: the model cases' random draws follow
            if args.only in (None, "data"):
                cases += data_cases
        else:
            print("fuzz: no CIFAR-10 folder found: dataset cases left out", file=sys.stderr)
        if args.only in (None, "model"):
            cases += model_cases(tmp, args.model, rng, args.truncations, args.flips)
        # Files first (fewer, slower cases), then the command-line values in a seeded order, so
        # that a budget cut on a slow machine leaves out a sample of values, not a whole class.
        random.Random(args.seed).shuffle(values)
        cases += values
        # The working directory holds the default model and, beside the repository, ../shared.
        counts = {"cases": 0, "clean-error": 0, "ok": 0, "crash": 0, "hang": 0, "wrong-exit-0": 0, "no-message": 0,
                  "not-run": 0}
        failures = []
        start = time.monotonic()

        def attempt(case):
            if time.monotonic() - start > args.budget:
                return None
            return run_case(binary, case, args.timeout, ROOT)

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(attempt, cases))
        for case, result in zip(cases, results):
            if result is None:
                counts["not-run"] += 1
                continue
            verdict, code, err, seconds = result
            counts["cases"] += 1
            counts[verdict] += 1
            first = next((line.strip() for line in err.splitlines() if line.strip()), "")
            if args.verbose:
                print(f"{verdict:13s} {seconds:6.2f}s {case.name}: {first[:160]}")
            if verdict in ("crash", "hang", "wrong-exit-0", "no-message"):
                failures.append({"case": case.name, "argv": case.argv, "env": case.env, "verdict": verdict,
                                 "code": code, "stderr": err[-2000:]})
                print(f"FAIL {verdict} ({code}) {case.name}\n  argv: {' '.join(case.argv)}\n  {err.strip()[-600:]}",
                      file=sys.stderr)
        elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = (f"fuzz (seed {args.seed}): {counts['cases']} cases in {elapsed:.0f} s: {counts['clean-error']} clean errors, "
               f"{counts['ok']} clean runs, {counts['crash']} crashes, {counts['hang']} hangs, "
               f"{counts['wrong-exit-0']} exit 0 where an error was due, {counts['no-message']} errors without a message"
               + (f", {counts['not-run']} not run (budget)" if counts["not-run"] else ""))
    print(summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": args.seed, "seconds": elapsed, "counts": counts, "failures": failures}, f, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
