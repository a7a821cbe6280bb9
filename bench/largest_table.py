#!/usr/bin/env python3
"""Prints a Markdown table of each kernel at its largest measured size from a
`fastpath bench --json` report, for BENCHMARKS.md.

    python3 bench/largest_table.py REPORT.json [--backend cpu|gpu]
"""
import argparse
import json


def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("--backend", choices=["cpu", "gpu"], default=None)
    args = ap.parse_args()
    rep = json.load(open(args.report))
    rows = [r for r in rep["rows"] if args.backend in (None, r["backend"])]
    largest = {}
    for r in rows:
        key = (r["kernel"], r["backend"])
        if key not in largest or r["n"] > largest[key]["n"]:
            largest[key] = r
    peers = sorted({p["peer"] for r in largest.values() for p in r.get("peers", [])})
    head = ["kernel", "n", "backend", "median", "GB/s", "of ceiling"] + [f"vs {p}" for p in peers]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    for (kernel, backend), r in sorted(largest.items(), key=lambda kv: (kv[1]["domain"], kv[0])):
        by_peer = {p["peer"]: p for p in r.get("peers", [])}
        cells = [
            kernel,
            f"2^{r['n'].bit_length() - 1}" if r["n"] & (r["n"] - 1) == 0 else str(r["n"]),
            backend,
            fmt_time(r["median_s"]),
            f"{r['gbps']:.0f}",
            f"{r['pct_of_ceiling']:.0f}% {r['ceiling']}",
        ]
        for p in peers:
            ratio = by_peer.get(p, {}).get("ratio")
            cells.append(f"{ratio:.2f}×" if ratio else "—")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
