#!/usr/bin/env python3
"""Synthetic unilevel network for the PostgreSQL baseline: synth.py N SEED OUTDIR.

Writes OUTDIR/{plan.json,distributors.csv,orders.csv,period}, valid per COMP_PLAN_SPEC.md §1.
Deterministic for a given (N, SEED). Used only until `upline generate` exists.

Shape: each newcomer's sponsor is picked by preferential attachment (70%: a few leaders
recruit thousands, heavy-tailed fan-out) or among the last 5000 joiners (30%: fresh recruits
recruit, which makes the tree deep, as real downlines are). About 1.5 orders per distributor,
~8% refunded and ~15% dated outside 2026-11, so refunds and the period filter matter.
Amounts use 0-4 fractional digits so that half-even ties occur.
"""
import datetime
import os
import random
import sys


def money(units, digits):
    """units / 10**digits as an exact plain decimal string."""
    if digits == 0:
        return str(units)
    q, r = divmod(units, 10 ** digits)
    return f"{q}.{r:0{digits}d}"


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: synth.py N SEED OUTDIR")
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if n < 1:
        sys.exit("N must be >= 1")
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)

    with open(os.path.join(out, "plan.json"), "w") as f:
        f.write('{"name":"synthetic-unilevel","currency":"USD","currency_decimals":2,'
                '"activity":{"min_pv":100},"ranks":[{"name":"Member"}],'
                '"bonuses":{"unilevel":{"levels":[0.05,0.05,0.04,0.03,0.02],"compression":true}}}\n')
    with open(os.path.join(out, "period"), "w") as f:
        f.write("2026-11\n")

    first_join = datetime.date(2020, 1, 1).toordinal()
    last_join = datetime.date(2026, 11, 30).toordinal()
    ids = [f"d{i}" for i in range(n)]
    targets = [0]  # node i appears once, plus once per recruit: preferential attachment
    with open(os.path.join(out, "distributors.csv"), "w", newline="\n") as f:
        w = f.write
        w("id,sponsor_id,placement_id,leg,joined_on,status\n")
        w(f"{ids[0]},,,,{datetime.date.fromordinal(first_join).isoformat()},active\n")
        for i in range(1, n):
            if rng.random() < 0.7:
                s = targets[rng.randrange(len(targets))]
            else:
                s = rng.randrange(max(0, i - 5000), i)
            targets.append(s)
            targets.append(i)
            joined = first_join + (last_join - first_join) * i // n
            status = "terminated" if rng.random() < 0.05 else "active"
            w(f"{ids[i]},{ids[s]},,,{datetime.date.fromordinal(joined).isoformat()},{status}\n")
    del targets

    nov1 = datetime.date(2026, 11, 1).toordinal()
    pv_choices = [0, 20, 40, 50, 60, 75, 100, 100, 100, 120, 150, 200]
    counts = [0] * 25 + [1] * 30 + [2] * 25 + [3] * 15 + [4] * 5  # mean 1.45
    oid = 0
    with open(os.path.join(out, "orders.csv"), "w", newline="\n") as f:
        w = f.write
        w("order_id,distributor_id,date,pv,cv,status\n")
        for i in range(n):
            for _ in range(counts[rng.randrange(100)]):
                oid += 1
                r = rng.random()
                if r < 0.07:
                    day = nov1 - 1 - rng.randrange(30)     # October
                elif r < 0.15:
                    day = nov1 + 30 + rng.randrange(31)    # December
                else:
                    day = nov1 + rng.randrange(30)
                pv = rng.choice(pv_choices) * 100 + rng.choice([0, 0, 0, 50, 99])
                digits = rng.choice([0, 1, 2, 2, 2, 4])
                cv = (pv * 10 ** digits // 100) * rng.randrange(80, 130) // 100 + rng.randrange(10 ** digits)
                status = "refunded" if rng.random() < 0.08 else "paid"
                w(f"o{oid},{ids[i]},{datetime.date.fromordinal(day).isoformat()},"
                  f"{money(pv, 2)},{money(cv, digits)},{status}\n")


if __name__ == "__main__":
    main()
