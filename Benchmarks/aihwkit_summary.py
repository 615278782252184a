#!/usr/bin/env python3
"""Medians of `Benchmarks/aihwkit_compare.sh` output (JSON lines on stdin): noisy vectors/s and
programming time per tile size for XbarSim and for aihwkit with each read-noise model, and the ratios.

    bash Benchmarks/aihwkit_compare.sh 3 | tee /tmp/aihwkit.jsonl | python3 Benchmarks/aihwkit_summary.py
"""
import json
import statistics
import sys

runs = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
table = {}   # (tool, size) -> list of tiles
for r in runs:
    tool = r["tool"] if r["tool"] == "xbarsim" else f"aihwkit/{r['result'].get('noise', 'additive')}"
    for t in r["result"]["tiles"]:
        table.setdefault((tool, t["rows"]), []).append(t)
sizes = sorted({size for _, size in table})
print("| tile | XbarSim vectors/s | aihwkit additive | aihwkit PCM_READ | XbarSim / additive | XbarSim / PCM_READ "
      "| program: XbarSim / aihwkit | rel. RMS error: XbarSim / additive / PCM_READ |")
print("|---|---|---|---|---|---|---|---|")
for n in sizes:
    def med(tool, key):
        v = [t[key] for t in table.get((tool, n), [])]
        return statistics.median(v) if v else float("nan")
    x, a, p = med("xbarsim", "vectorsPerSecond"), med("aihwkit/additive", "vectorsPerSecond"), med("aihwkit/pcm-read", "vectorsPerSecond")
    print(f"| {n}x{n} | {x:,.0f} | {a:,.0f} | {p:,.0f} | **{x / a:.1f}x** | **{x / p:.1f}x** | "
          f"{med('xbarsim', 'programSeconds') * 1e3:.1f} ms / {med('aihwkit/additive', 'programSeconds') * 1e3:.0f} ms | "
          f"{med('xbarsim', 'relativeRMSError'):.3f} / {med('aihwkit/additive', 'relativeRMSError'):.3f} / "
          f"{med('aihwkit/pcm-read', 'relativeRMSError'):.3f} |")
print(f"\n{len(runs)} runs; per size the median over runs")
