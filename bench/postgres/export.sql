-- Per-distributor unilevel totals, `id,unilevel`, byte order of ids, currency_decimals digits
-- (round() to the scale only fixes the display: the totals are sums of already-rounded lines).
-- psql variable: decimals. Writes CSV to stdout.
\set ON_ERROR_STOP on
COPY (
  SELECT id, round(unilevel, :decimals) AS unilevel
  FROM upline_bench.ul_totals
  ORDER BY id COLLATE "C"
) TO STDOUT (FORMAT csv, HEADER true);
