package pgtest

// hubbleObjectsSQL adds the non-table objects of the Hubble-like schema.
// Function bodies never name the schema, so a restore under another schema
// name keeps them working.
const hubbleObjectsSQL = `
SELECT setval('{sreg}.doc_number_seq', 123455);

CREATE FUNCTION {s}.fmt_amount(numeric) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT to_char($1, 'FM999G999G990D00') $$;

CREATE FUNCTION {s}.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER gl_budget_set_updated_at BEFORE UPDATE ON {s}.gl_budget
	FOR EACH ROW EXECUTE FUNCTION {s}.set_updated_at();

CREATE VIEW {s}.v_gl_budget_by_account AS
	SELECT account_code, period, sum(amount) AS total, count(*) AS lines
	FROM {s}.gl_budget GROUP BY account_code, period;
CREATE VIEW {s}.v_gl_budget_named AS
	SELECT b.id, b.account_code, a.name AS account_name, a.account_type, {s}.fmt_amount(b.amount) AS amount_text
	FROM {s}.gl_budget b LEFT JOIN erp.gl_account a ON a.account_code = b.account_code;
CREATE VIEW {s}.v_activity_overview AS
	SELECT a.id, a.name, s.status, s.progress,
	       (SELECT count(*) FROM {s}.activity_log l WHERE l.activity_id = a.id) AS log_lines
	FROM {s}.activity a LEFT JOIN {s}.activity_status s ON s.activity_id = a.id;
CREATE VIEW {s}."GlBudget Summary" AS
	SELECT "AccountCode", sum("Amount") AS "Total" FROM {s}."GlBudget" GROUP BY "AccountCode";

CREATE MATERIALIZED VIEW {s}.mv_budget_totals AS
	SELECT version_id, currency, sum(amount) AS total, count(*) AS lines
	FROM {s}.gl_budget GROUP BY version_id, currency;
CREATE UNIQUE INDEX mv_budget_totals_key ON {s}.mv_budget_totals (version_id, currency);

COMMENT ON TABLE {s}.gl_budget IS 'General ledger budget lines — planning data';
COMMENT ON COLUMN {s}.gl_budget.amount IS 'Amount in currency, two decimals';
COMMENT ON VIEW {s}.v_gl_budget_named IS 'Budget lines with ERP account names';
COMMENT ON SEQUENCE {s}.doc_number_seq IS 'AP document numbers';
COMMENT ON FUNCTION {s}.fmt_amount(numeric) IS 'Formats an amount';

GRANT USAGE ON SCHEMA {s} TO hubble_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO hubble_reader;
GRANT USAGE ON SEQUENCE {s}.doc_number_seq TO hubble_reader;
`
