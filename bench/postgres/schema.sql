-- Tables for the unilevel baseline, as a company's warehouse would hold them.
-- Ids are text COLLATE "C": the spec compares ids as byte strings, and "C" btrees are cheap.
-- UNLOGGED: this is a scratch copy of the period's input (fsync is off anyway).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS upline_bench CASCADE;
CREATE SCHEMA upline_bench;
SET search_path = upline_bench;

CREATE UNLOGGED TABLE distributors (
  id           text COLLATE "C" NOT NULL,
  sponsor_id   text COLLATE "C",
  placement_id text COLLATE "C",
  leg          text,
  joined_on    date NOT NULL,
  status       text NOT NULL CHECK (status IN ('active', 'terminated'))
);

CREATE UNLOGGED TABLE orders (
  order_id       text COLLATE "C" NOT NULL,
  distributor_id text COLLATE "C" NOT NULL,
  date           date NOT NULL,
  pv             numeric NOT NULL CHECK (pv >= 0),
  cv             numeric NOT NULL CHECK (cv >= 0),
  status         text NOT NULL CHECK (status IN ('paid', 'refunded'))
);

-- round(numeric, d) rounds half away from zero; the spec wants half-even. With t = trunc(x, d)
-- and r = round(x, d), x is a tie exactly when it lies midway (2x = r + t, r <> t); then the
-- neighbour whose last digit is even wins (t / (r - t) is t in units of 10^-d). Plain numeric
-- ops only (power() on numeric is slow), and not STRICT so that the planner inlines it.
CREATE FUNCTION round_half_even(x numeric, d int) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE
    WHEN round(x, d) <> trunc(x, d) AND 2 * x = round(x, d) + trunc(x, d)
      THEN CASE WHEN mod(trunc(x, d) / (round(x, d) - trunc(x, d)), 2) = 0
                THEN trunc(x, d) ELSE round(x, d) END
    ELSE round(x, d)
  END;
