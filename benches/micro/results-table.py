#!/usr/bin/env python3
"""Prints the sniff micro-benchmark results as the Markdown table of RESULTS.md.

usage: benches/micro/results-table.py [criterion-dir]   (default: target/criterion)

Reads the estimates criterion wrote for `cargo bench -p vaxel-adapter --bench sniff`
(group = message size, function = sniff / quick_xml_full_read / roxmltree_dom). The
time shown is criterion's point estimate (the middle number it prints: the slope of
the linear fit, or the mean when it sampled flat), with the median beside it, because
on a shared two-core machine the median is the number least moved by other load.
"""
import json
import sys
from pathlib import Path

SIZES = [("1KB", 1024), ("100KB", 100 * 1024), ("1MB", 1024**2), ("10MB", 10 * 1024**2)]
FUNCTIONS = ["sniff", "quick_xml_full_read", "roxmltree_dom"]


def estimate(root: Path, group: str, function: str):
    data = json.loads((root / group / function / "new" / "estimates.json").read_text())
    point = (data.get("slope") or data["mean"])["point_estimate"]
    return point, data["median"]["point_estimate"]


def human(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    rows = {}
    for group, size in SIZES:
        rows[group] = {f: estimate(root, group, f) for f in FUNCTIONS}
    print("| message | sniff (median) | full quick-xml read (median) | roxmltree DOM (median) "
          "| full read / sniff | DOM / sniff |")
    print("| --- | --- | --- | --- | --- | --- |")
    for group, size in SIZES:
        r = rows[group]
        cells = [f"{human(p)} ({human(m)})" for p, m in (r[f] for f in FUNCTIONS)]
        sniff_median = r["sniff"][1]
        ratios = [r[f][1] / sniff_median for f in FUNCTIONS[1:]]
        print(f"| {group} ({size} B) | " + " | ".join(cells) + " | "
              + " | ".join(f"{x:,.1f}×" if x < 10 else f"{x:,.0f}×" for x in ratios) + " |")
    small, large = rows["1KB"]["sniff"], rows["10MB"]["sniff"]
    print()
    print(f"sniff 10MB / sniff 1KB: {large[0] / small[0]:.2f} (point estimates), "
          f"{large[1] / small[1]:.2f} (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
