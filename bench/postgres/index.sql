-- Constraints and indexes after COPY (faster than maintaining them row by row), then ANALYZE
-- so the planner knows the real sizes. These are the indexes any production schema would have.
\set ON_ERROR_STOP on
SET search_path = upline_bench;
SET client_min_messages = warning;
ALTER TABLE distributors ADD PRIMARY KEY (id);
ALTER TABLE distributors ADD FOREIGN KEY (sponsor_id) REFERENCES distributors (id);
CREATE INDEX distributors_sponsor ON distributors (sponsor_id);
ALTER TABLE orders ADD PRIMARY KEY (order_id);
ALTER TABLE orders ADD FOREIGN KEY (distributor_id) REFERENCES distributors (id);
CREATE INDEX orders_distributor_date ON orders (distributor_id, date) INCLUDE (pv, cv, status);
CREATE INDEX orders_date ON orders (date);
ANALYZE distributors;
ANALYZE orders;
