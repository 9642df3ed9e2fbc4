package pgtest

import (
	"context"
	"fmt"
)

// CreateObjectRich creates schema with one of every object kind a schema
// backup must round-trip: enum, domain with a check, composite type used by a
// column, a range-partitioned table with two partitions and a default one
// (rows in each), an inheritance parent and child (rows in both), generated
// and identity columns, check/unique/exclusion (gist over tsrange)
// constraints, circular deferrable foreign keys added with ALTER, a function
// and an AFTER INSERT trigger that writes an audit row (fires twice if a
// restore creates triggers before loading data), a view over a view, a
// populated materialized view, comments on several object kinds, grants
// (also column-level) to AppRole, a sequence OWNED BY a column at a
// non-initial value, and a view over erp.gl_account (CreateERP is run first).
// The schema must not exist yet.
func CreateObjectRich(ctx context.Context, dsn, schema string) error {
	if err := CreateERP(ctx, dsn); err != nil {
		return err
	}
	if err := Exec(ctx, dsn, expand(objectRichSQL, schema, 0)); err != nil {
		return fmt.Errorf("create object-rich schema %s: %w", schema, err)
	}
	return nil
}

const objectRichSQL = `
CREATE SCHEMA {s};
COMMENT ON SCHEMA {s} IS 'Object-rich round-trip fixture';
DO $$ BEGIN CREATE ROLE hubble_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;

CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN {s}.positive_amount AS numeric(12,2) CHECK (VALUE > 0);
CREATE TYPE {s}.money_pair AS (amount numeric(12,2), currency char(3));
COMMENT ON TYPE {s}.mood IS 'How it went';
COMMENT ON DOMAIN {s}.positive_amount IS 'Strictly positive amount';

CREATE TABLE {s}.measurements (
	id integer NOT NULL,
	logdate date NOT NULL,
	value numeric,
	feeling {s}.mood,
	PRIMARY KEY (id, logdate)
) PARTITION BY RANGE (logdate);
CREATE TABLE {s}.measurements_2023 PARTITION OF {s}.measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE {s}.measurements_2024 PARTITION OF {s}.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE {s}.measurements_other PARTITION OF {s}.measurements DEFAULT;
CREATE INDEX measurements_value_idx ON {s}.measurements (value);
INSERT INTO {s}.measurements
SELECT i, date '2022-07-01' + i * 3, i * 0.5, (ARRAY['sad','ok','happy']::{s}.mood[])[1 + i % 3]
FROM generate_series(1, 400) i;

CREATE TABLE {s}.cities (name text PRIMARY KEY, population integer);
CREATE TABLE {s}.capitals (state char(2) NOT NULL) INHERITS ({s}.cities);
INSERT INTO {s}.cities VALUES ('Zürich', 443037), ('Geneva', 203856), ('Basel', 177654);
INSERT INTO {s}.capitals VALUES ('Bern', 134794, 'BE'), ('Lausanne', 140202, 'VD');

CREATE TABLE {s}.items (
	id integer GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 10) PRIMARY KEY,
	sku text NOT NULL UNIQUE,
	price {s}.positive_amount NOT NULL,
	qty integer NOT NULL CHECK (qty >= 0),
	total numeric GENERATED ALWAYS AS (price * qty) STORED,
	pair {s}.money_pair,
	feeling {s}.mood DEFAULT 'ok'
);
CREATE TABLE {s}.items_audit (item_id integer, sku text, at timestamptz DEFAULT now());

-- No schema name in the body: it resolves the audit table through the trigger's schema.
CREATE FUNCTION {s}.audit_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('INSERT INTO %I.items_audit (item_id, sku, at) VALUES ($1, $2, $3)', TG_TABLE_SCHEMA)
		USING NEW.id, NEW.sku, timestamptz '2024-01-01 00:00:00+00';
	RETURN NULL;
END $$;
CREATE TRIGGER items_audit_trg AFTER INSERT ON {s}.items FOR EACH ROW EXECUTE FUNCTION {s}.audit_item();
COMMENT ON FUNCTION {s}.audit_item() IS 'Writes one audit row per new item';
COMMENT ON TRIGGER items_audit_trg ON {s}.items IS 'Audit trail';

INSERT INTO {s}.items (sku, price, qty, pair, feeling)
SELECT 'SKU-' || i, i * 1.25, i % 7, ROW(i * 2.5, 'CHF')::{s}.money_pair, (ARRAY['sad','ok','happy']::{s}.mood[])[1 + i % 3]
FROM generate_series(1, 60) i;

CREATE TABLE {s}.bookings (
	id serial PRIMARY KEY,
	room integer NOT NULL,
	during tsrange NOT NULL,
	seats int4range,
	CONSTRAINT bookings_valid CHECK (NOT isempty(during)),
	CONSTRAINT bookings_room_id UNIQUE (room, id),
	CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
);
INSERT INTO {s}.bookings (room, during, seats)
SELECT 1 + i % 4, tsrange(timestamp '2024-01-01' + i * interval '2 hours', timestamp '2024-01-01' + i * interval '2 hours' + interval '90 minutes'),
       int4range(1, 2 + i % 10)
FROM generate_series(0, 99) i;
COMMENT ON CONSTRAINT bookings_no_overlap ON {s}.bookings IS 'No double booking';

CREATE TABLE {s}.dept (id integer PRIMARY KEY, name text NOT NULL, manager_id integer);
CREATE TABLE {s}.emp (id integer PRIMARY KEY, name text NOT NULL, dept_id integer NOT NULL);
ALTER TABLE {s}.dept ADD CONSTRAINT dept_manager_fk FOREIGN KEY (manager_id) REFERENCES {s}.emp (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE {s}.emp ADD CONSTRAINT emp_dept_fk FOREIGN KEY (dept_id) REFERENCES {s}.dept (id) DEFERRABLE INITIALLY DEFERRED;
INSERT INTO {s}.dept VALUES (1, 'Finance', 10), (2, 'IT', 20), (3, 'Empty', NULL);
INSERT INTO {s}.emp VALUES (10, 'Ada', 1), (11, 'Bob', 1), (20, 'Grace', 2);

CREATE SEQUENCE {s}.ticket_seq START 100;
CREATE TABLE {s}.tickets (id integer NOT NULL DEFAULT nextval('{sreg}.ticket_seq') PRIMARY KEY, subject text);
ALTER SEQUENCE {s}.ticket_seq OWNED BY {s}.tickets.id;
INSERT INTO {s}.tickets (subject) SELECT 'ticket ' || i FROM generate_series(1, 25) i;
SELECT setval('{sreg}.ticket_seq', 777);

CREATE VIEW {s}.v_items AS SELECT id, sku, price, qty, total, feeling FROM {s}.items;
CREATE VIEW {s}.v_items_expensive AS SELECT * FROM {s}.v_items WHERE total > 100;
CREATE VIEW {s}.v_accounts AS SELECT account_code, name FROM erp.gl_account WHERE active;
CREATE MATERIALIZED VIEW {s}.mv_measurements_monthly AS
	SELECT date_trunc('month', logdate)::date AS month, count(*) AS n, sum(value) AS total
	FROM {s}.measurements GROUP BY 1;
CREATE INDEX mv_measurements_monthly_month ON {s}.mv_measurements_monthly (month);
COMMENT ON VIEW {s}.v_items_expensive IS 'View over a view';
COMMENT ON MATERIALIZED VIEW {s}.mv_measurements_monthly IS 'Monthly totals';
COMMENT ON COLUMN {s}.items.total IS 'Generated: price * qty';
COMMENT ON INDEX {s}.measurements_value_idx IS 'Partitioned index';

GRANT USAGE ON SCHEMA {s} TO hubble_app;
GRANT SELECT, INSERT ON {s}.items TO hubble_app;
GRANT SELECT (id, name) ON {s}.emp TO hubble_app;
GRANT SELECT ON {s}.v_items_expensive, {s}.mv_measurements_monthly TO hubble_app;
GRANT USAGE ON SEQUENCE {s}.ticket_seq TO hubble_app;
GRANT EXECUTE ON FUNCTION {s}.audit_item() TO hubble_app;
REVOKE EXECUTE ON FUNCTION {s}.audit_item() FROM PUBLIC;
`
