#!/usr/bin/env python3
"""plan_params.py DIR: print the unilevel parameters of DIR's plan.json and period as
`name=value` lines for the shell (values never contain spaces or quotes).

Numbers are kept as their JSON text (parse_float=str): never through a binary float.
Refuses plans the SQL baseline does not implement (rank depth limits)."""
import datetime
import json
import re
import sys


def die(msg):
    sys.exit(f"plan_params.py: {msg}")


def period_bounds(p):
    m = re.fullmatch(r"(\d{4})-(\d{2})", p)
    if m:
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            die(f"period {p!r} does not exist")
        start = datetime.date(y, mo, 1)
        nxt = datetime.date(y + (mo == 12), mo % 12 + 1, 1)
        return start, nxt - datetime.timedelta(days=1)
    m = re.fullmatch(r"(\d{4})-W(\d{2})", p)
    if m:
        try:
            start = datetime.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            die(f"period {p!r} does not exist")
        return start, start + datetime.timedelta(days=6)
    die(f"period {p!r} is neither YYYY-MM nor YYYY-Www")


def main():
    if len(sys.argv) != 2:
        die("usage: plan_params.py DIR")
    d = sys.argv[1]
    with open(f"{d}/plan.json") as f:
        plan = json.load(f, parse_float=str, parse_int=str)
    with open(f"{d}/period") as f:
        period = f.read().strip()
    start, end = period_bounds(period)
    uni = plan.get("bonuses", {}).get("unilevel")
    if uni is None:
        die("plan has no bonuses.unilevel")
    limited = [r["name"] for r in plan.get("ranks", []) if "unilevel_levels" in r]
    if limited:
        die(f"ranks {limited} limit unilevel depth (unilevel_levels); the SQL baseline "
            "computes no ranks, so this plan is not comparable")
    levels = [str(x) for x in uni["levels"]]
    for x in levels + [str(plan.get("activity", {}).get("min_pv", "0"))]:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", x):
            die(f"unsupported number {x!r}")
    compression = uni.get("compression", False)
    decimals = str(plan.get("currency_decimals", "2"))
    if not re.fullmatch(r"[0-9]+", decimals):
        die(f"bad currency_decimals {decimals!r}")
    print(f"period={period}")
    print(f"period_start={start.isoformat()}")
    print(f"period_end={end.isoformat()}")
    print(f"min_pv={plan.get('activity', {}).get('min_pv', '0')}")
    print(f"levels={{{','.join(levels)}}}")
    print(f"nlevels={len(levels)}")
    print(f"compression={'true' if compression is True else 'false'}")
    print(f"decimals={decimals}")


if __name__ == "__main__":
    main()
