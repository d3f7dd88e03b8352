#!/usr/bin/env python3
"""compare.py PG_CSV SUMMARY_CSV DECIMALS: compare PostgreSQL's `id,unilevel` with the
`unilevel` column of upline's summary.csv, distributor by distributor.

Both sides are re-formatted with DECIMALS fractional digits (exact Decimal, half-even) before
the byte comparison, so only values can differ, not their spelling. Prints
`mismatches N` and the first few; exits 1 if N > 0."""
import sys
from decimal import Decimal, ROUND_HALF_EVEN


def fmt(text, q):
    return str(Decimal(text).quantize(q, rounding=ROUND_HALF_EVEN))


def read(path, col_name):
    with open(path, newline="") as f:
        header = f.readline().rstrip("\r\n").split(",")
        col = header.index(col_name)
        return [(p[0], p[col]) for p in (l.rstrip("\r\n").split(",") for l in f) if p != [""]]


def main():
    pg_csv, summary, decimals = sys.argv[1], sys.argv[2], int(sys.argv[3])
    q = Decimal(1).scaleb(-decimals)
    pg = read(pg_csv, "unilevel")
    up = read(summary, "unilevel")
    bad = []
    if [i for i, _ in pg] != [i for i, _ in up]:
        pg_ids, up_ids = {i for i, _ in pg}, {i for i, _ in up}
        for i in sorted(pg_ids - up_ids)[:5]:
            bad.append(f"  {i}: missing from summary.csv")
        for i in sorted(up_ids - pg_ids)[:5]:
            bad.append(f"  {i}: not in PostgreSQL's output")
        if not bad:
            bad.append("  same ids, different order")
        print(f"mismatches {max(len(pg_ids ^ up_ids), 1)} (id sets or order differ)")
        print("\n".join(bad))
        return 1
    n = 0
    for (i, a), (_, b) in zip(pg, up):
        fa, fb = fmt(a, q), fmt(b, q)
        if fa != fb:
            n += 1
            if len(bad) < 10:
                bad.append(f"  {i}: postgres {fa} upline {fb}")
    print(f"mismatches {n} (of {len(pg)} distributors)")
    if bad:
        print("\n".join(bad))
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
