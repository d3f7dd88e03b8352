-- The unilevel lines, `recipient,source,level,amount`, sorted like lines.csv (§5).
\set ON_ERROR_STOP on
COPY (
  SELECT recipient, source, level, round(amount, :decimals) AS amount
  FROM upline_bench.ul_lines
  ORDER BY recipient COLLATE "C", source COLLATE "C", level
) TO STDOUT (FORMAT csv, HEADER true);
