-- Unilevel bonus with compression (COMP_PLAN_SPEC.md §3, §4), for a plan whose ranks have no
-- unilevel_levels limit. psql variables (all required):
--   period_start, period_end  dates, both inclusive
--   min_pv                    activity.min_pv (numeric literal)
--   levels                    numeric[] literal, e.g. {0.05,0.05,0.04,0.03,0.02}
--   nlevels                   number of levels
--   compression               true | false
--   decimals                  currency_decimals
-- Produces upline_bench.ul_lines (recipient, source, level, amount), one row per paid line, and
-- upline_bench.ul_totals (id, unilevel) for every distributor, and prints
-- "query_seconds <s>": server-side wall time of everything between the two clock readings.
\set ON_ERROR_STOP on
SET search_path = upline_bench;
SET client_min_messages = warning;
DROP TABLE IF EXISTS ul_node, ul_lines, ul_totals;

SELECT clock_timestamp() AS ul_t0 \gset

-- Step 1: period volume and activity, one row per distributor. A real table with a primary key
-- and statistics (not a CTE) so that the planner knows `id` is unique: with a CTE it guesses a
-- billions-row join and picks a merge join that re-reads all 1M nodes at every tree level
-- (measured 37 s instead of ~20 s on the 1M network).
CREATE UNLOGGED TABLE ul_node AS
SELECT d.id, d.sponsor_id,
       (d.status = 'active' AND coalesce(v.pv, 0) >= :min_pv) AS active,
       coalesce(v.cv, 0) AS cv
FROM distributors d
LEFT JOIN (
  -- Only paid orders dated inside the period count.
  SELECT o.distributor_id AS id, sum(o.pv) AS pv, sum(o.cv) AS cv
  FROM orders o
  WHERE o.status = 'paid' AND o.date BETWEEN :'period_start'::date AND :'period_end'::date
  GROUP BY o.distributor_id
) v ON v.id = d.id;
ALTER TABLE ul_node ADD PRIMARY KEY (id);
ANALYZE ul_node;

-- Step 2: walk up from every source. One row per (source, ancestor visited); `up` is the next
-- ancestor to look at, `level` the number of levels used so far. With compression an inactive
-- ancestor uses no level. A source's walk ends at the root or once every level is used. The
-- amount is computed once, in the step that reaches an active ancestor (NULL elsewhere).
CREATE UNLOGGED TABLE ul_lines AS
WITH RECURSIVE walk (source, cv, up, level, recipient, amount) AS (
  SELECT n.id, n.cv, n.sponsor_id, 0, NULL::text COLLATE "C", NULL::numeric
  FROM ul_node n
  WHERE n.cv > 0 AND n.sponsor_id IS NOT NULL
  UNION ALL
  SELECT w.source, w.cv, n.sponsor_id, s.level, n.id,
         CASE WHEN n.active
              THEN round_half_even((:'levels'::numeric[])[s.level] * w.cv, :decimals) END
  FROM walk w
  JOIN ul_node n ON n.id = w.up
  CROSS JOIN LATERAL (
    SELECT w.level + CASE WHEN n.active OR NOT :compression THEN 1 ELSE 0 END AS level
  ) s
  WHERE w.level < :nlevels
)
SELECT recipient, source, level, amount
FROM walk
WHERE amount > 0;

-- Step 3: per-recipient totals (sum of rounded lines), 0 for everyone else.
CREATE UNLOGGED TABLE ul_totals AS
SELECT n.id, coalesce(t.total, 0) AS unilevel
FROM ul_node n
LEFT JOIN (SELECT recipient, sum(amount) AS total FROM ul_lines GROUP BY recipient) t
       ON t.recipient = n.id;

SELECT 'query_seconds ' || round(extract(epoch FROM clock_timestamp() - :'ul_t0'::timestamptz), 3) AS t \gset
\echo :t
