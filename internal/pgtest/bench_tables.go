package pgtest

import "strings"

// benchTable describes one table of the bench dataset: its share of the
// target size and the SELECT list that generates row i (column i from
// generate_series, array w of words, array u of user names).
type benchTable struct {
	name  string
	share float64 // fraction of the target bytes
	group int     // rows per group: {hN} is a per-group pseudo-random number in [0,1)
	ddl   string  // column list
	cols  string  // SELECT expressions in column order
	post  string  // constraints and indexes, built after the load like a restore would
}

// Planning data: codes drawn from a few thousand values with skew, amounts
// log-distributed with cents, dates on period boundaries, short descriptions
// combined from a word list, some NULLs. Under gzip -6 its COPY text form
// compresses about 4:1, like real rows.
var benchTables = []benchTable{
	{
		// A budget line (account, cost center, ...) spans 12 consecutive monthly rows.
		name: "gl_budget", share: 0.40, group: 12,
		ddl: `id bigint NOT NULL, version_id smallint NOT NULL, entity_code text NOT NULL, account_code text NOT NULL,
			cost_center text, project_code text, period date NOT NULL, amount numeric(18,2) NOT NULL, currency char(3) NOT NULL,
			quantity numeric(12,1), description text, created_by text NOT NULL, updated_at timestamptz NOT NULL, approved boolean NOT NULL`,
		cols: `i, 1 + floor(12 * {h1} ^ 3)::int, 'E' || lpad((1 + floor(20 * {h2}))::int::text, 2, '0'),
			(4000 + floor(3000 * {h3} ^ 2))::int::text,
			CASE WHEN {h4} < 0.05 THEN NULL ELSE 'CC' || (1000 + floor(400 * {h5} ^ 1.5))::int END,
			CASE WHEN {h6} < 0.6 THEN NULL ELSE 'P' || (100 + floor(900 * {h7}))::int END,
			make_date(2019 + floor(8 * {h8})::int, 1 + (i % 12)::int, 1),
			CASE WHEN {h9} < 0.25 THEN round((exp({h10} * 11) * (0.8 + 0.4 * random()))::numeric, -1)
				ELSE round(((exp({h10} * 11) - 1) * (0.8 + 0.4 * random()) * CASE WHEN {h11} < 0.12 THEN -1 ELSE 1 END)::numeric, 2) END,
			CASE WHEN {h12} < 0.8 THEN 'EUR' WHEN {h12} < 0.9 THEN 'USD' ELSE 'CHF' END,
			CASE WHEN {h13} < 0.7 THEN NULL ELSE round((random() * 200)::numeric, 1) END,
			w[1 + floor({h14} * wn)::int] || ' ' || w[1 + floor(random() * wn)::int]
				|| CASE WHEN random() < 0.5 THEN ' ' || w[1 + floor(random() * wn)::int] ELSE '' END,
			u[1 + floor(un * random() ^ 2)::int],
			date_trunc('second', timestamptz '2023-01-01 00:00:00+00' + (i / 2400) * interval '97 minutes' + random() * interval '1 day'),
			{h19} < 0.7`,
		post: `PRIMARY KEY (id); CREATE INDEX ON {t} (account_code, period)`,
	},
	{
		name: "ap_budget", share: 0.10,
		ddl: `id bigint NOT NULL, vendor_id integer NOT NULL, account_code text NOT NULL, period date NOT NULL,
			amount numeric(14,2), invoice_ref text, note text`,
		cols: `i, 10000 + floor(2500 * random() ^ 2)::int, (5000 + floor(800 * random() ^ 2))::int::text,
			make_date(2021 + floor(5 * random())::int, 1 + floor(12 * random())::int, 1),
			CASE WHEN random() < 0.03 THEN NULL ELSE round((exp(random() * 9))::numeric, 2) END,
			'INV-' || (2021 + floor(5 * random())::int) || '-' || lpad(floor(random() * 100000)::int::text, 5, '0'),
			CASE WHEN random() < 0.5 THEN NULL ELSE w[1 + floor(random() * wn)::int] || ' ' || w[1 + floor(random() * wn)::int] END`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "is_generic", share: 0.08,
		ddl: `id bigint NOT NULL, line_code text NOT NULL, entity_code text NOT NULL, period date NOT NULL, value numeric(18,2), label text`,
		cols: `i, 'IS' || lpad(floor(300 * random() ^ 2)::int::text, 3, '0'), 'E' || lpad((1 + floor(20 * random()))::int::text, 2, '0'),
			make_date(2019 + floor(8 * random())::int, 1 + floor(12 * random())::int, 1),
			round(((exp(random() * 13) - 1) * CASE WHEN random() < 0.2 THEN -1 ELSE 1 END)::numeric, 2),
			initcap(w[1 + floor(random() * wn)::int]) || ' ' || w[1 + floor(random() * wn)::int]`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "isbpayroll", share: 0.07,
		ddl: `employee_id integer NOT NULL, period date NOT NULL, cost_center text NOT NULL, grade text, fte numeric(4,2) NOT NULL,
			gross numeric(12,2) NOT NULL, employer_cost numeric(12,2) NOT NULL, hours numeric(6,2)`,
		cols: `100000 + i / 96, make_date((2019 + (i % 96) / 12)::int, (1 + i % 12)::int, 1), 'CC' || (1000 + floor(400 * random() ^ 1.5))::int,
			CASE WHEN random() < 0.1 THEN NULL ELSE 'G' || (1 + floor(12 * random()))::int END,
			(ARRAY[1.0, 1.0, 1.0, 0.8, 0.6, 0.5])[1 + floor(6 * random())::int],
			round((3500 + random() * 9000)::numeric, 2), round((4200 + random() * 11000)::numeric, 2),
			round((120 + random() * 60)::numeric, 2)`,
		post: `PRIMARY KEY (employee_id, period)`,
	},
	{
		name: "bs_generic", share: 0.04,
		ddl: `id bigint NOT NULL, line_code text NOT NULL, entity_code text NOT NULL, period date NOT NULL, balance numeric(18,2)`,
		cols: `i, 'BS' || lpad(floor(200 * random() ^ 2)::int::text, 3, '0'), 'E' || lpad((1 + floor(20 * random()))::int::text, 2, '0'),
			make_date(2019 + floor(8 * random())::int, 1 + floor(12 * random())::int, 1), round((exp(random() * 15) - 1)::numeric, 2)`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "cf_generic", share: 0.03,
		ddl: `id bigint NOT NULL, line_code text NOT NULL, period date NOT NULL, value double precision`,
		cols: `i, 'CF' || lpad(floor(120 * random() ^ 2)::int::text, 3, '0'), make_date(2019 + floor(8 * random())::int, 1 + floor(12 * random())::int, 1),
			round((exp(random() * 12) - 1)::numeric, 2)::float8`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "activity_log", share: 0.14,
		ddl: `id bigint NOT NULL, activity_id integer NOT NULL, logged_at timestamptz NOT NULL, level text NOT NULL, message text`,
		cols: `i, 1 + i / 40, timestamptz '2022-01-01 00:00:00+00' + i * interval '7 seconds' + floor(random() * 7) * interval '1 second',
			CASE WHEN random() < 0.85 THEN 'INFO' WHEN random() < 0.7 THEN 'WARN' ELSE 'ERROR' END,
			(ARRAY['Imported', 'Calculated', 'Exported', 'Validated', 'Skipped', 'Locked'])[1 + floor(6 * random())::int] || ' '
				|| floor(exp(random() * 9))::int || ' rows of ' || w[1 + floor(random() * wn)::int] || ' for period '
				|| (2019 + floor(8 * random())::int) || '-' || lpad((1 + floor(12 * random()))::int::text, 2, '0')`,
		post: `PRIMARY KEY (id); CREATE INDEX ON {t} (activity_id)`,
	},
	{
		name: "activity_history", share: 0.07,
		ddl: `id bigint NOT NULL, activity_id integer NOT NULL, changed_at timestamptz NOT NULL, changed_by text NOT NULL,
			old_state text, new_state text NOT NULL`,
		cols: `i, 1 + floor(random() * 200000)::int, timestamptz '2022-01-01 00:00:00+00' + i * interval '23 seconds',
			u[1 + floor(un * random() ^ 2)::int],
			CASE WHEN random() < 0.2 THEN NULL ELSE (ARRAY['new', 'queued', 'running', 'failed'])[1 + floor(4 * random())::int] END,
			(ARRAY['queued', 'running', 'done', 'failed', 'cancelled'])[1 + floor(5 * random())::int]`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "activity_detail", share: 0.04,
		ddl: `activity_id integer NOT NULL, key text NOT NULL, value text`,
		cols: `1 + i / 6, (ARRAY['source', 'target', 'rows', 'duration_ms', 'user', 'scenario'])[1 + i % 6],
			CASE i % 6 WHEN 2 THEN floor(exp(random() * 10))::int::text WHEN 3 THEN floor(random() * 600000)::int::text
				WHEN 4 THEN u[1 + floor(un * random() ^ 2)::int] ELSE w[1 + floor(random() * wn)::int] END`,
		post: `PRIMARY KEY (activity_id, key)`,
	},
	{
		name: "activity", share: 0.02,
		ddl: `id integer NOT NULL, name text NOT NULL, owner text NOT NULL, state text NOT NULL, created_at timestamptz NOT NULL,
			finished_at timestamptz`,
		cols: `i, initcap(w[1 + floor(random() * wn)::int]) || ' ' || w[1 + floor(random() * wn)::int] || ' ' || (i % 1000),
			u[1 + floor(un * random() ^ 2)::int], (ARRAY['done', 'done', 'done', 'failed', 'running'])[1 + floor(5 * random())::int],
			timestamptz '2022-01-01 00:00:00+00' + i * interval '5 minutes',
			CASE WHEN random() < 0.1 THEN NULL ELSE timestamptz '2022-01-01 00:00:00+00' + i * interval '5 minutes' + random() * interval '2 hours' END`,
		post: `PRIMARY KEY (id)`,
	},
	{
		name: "activity_status", share: 0.01,
		ddl: `activity_id integer NOT NULL, status text NOT NULL, progress numeric(5,2) NOT NULL, updated_at timestamptz NOT NULL`,
		cols: `i, (ARRAY['ok', 'ok', 'ok', 'failed'])[1 + floor(4 * random())::int], round((random() * 100)::numeric, 2),
			date_trunc('second', timestamptz '2022-01-01 00:00:00+00' + random() * interval '1000 days')`,
		post: `PRIMARY KEY (activity_id)`,
	},
}

// benchLookups is the number of small lookup tables (a few KB each).
const benchLookups = 100

// benchWords are the words descriptions are made of.
var benchWords = strings.Fields(`budget forecast actual plan revenue cost salary travel rent utilities marketing
	software hardware license maintenance consulting training recruiting insurance tax depreciation amortization
	interest dividend capex opex accrual deferral provision reserve allocation transfer adjustment correction
	reclass intercompany elimination consolidation subsidiary region country branch store warehouse logistics
	freight fuel fleet vehicle lease office supplies printing postage telephone internet cloud hosting security
	audit legal advisory bank fees commission bonus overtime pension healthcare benefits holiday sick leave
	contractor temporary headcount promotion merit inflation scenario version draft approved rejected pending
	quarter month year monthly quarterly annual rolling baseline target stretch upside downside risk opportunity
	project phase milestone delivery customer product service subscription renewal churn acquisition retention
	campaign event sponsorship research development prototype patent royalty energy water waste recycling
	compliance quality safety inspection repair spare parts inventory purchase order invoice payment receipt
	credit debit refund discount rebate margin gross net ebitda cash flow working capital northern southern
	eastern western central alpine coastal urban rural domestic export import premium standard basic`)

// benchUsers are the user names rows were created by.
var benchUsers = func() []string {
	first := strings.Fields("anna ben clara david eva felix greta hans ines jonas karin lukas maria nico olga paul rita sven tina urs")
	var u []string
	for i, f := range first {
		u = append(u, f+"."+strings.Fields("meier keller weber huber schmid fischer brunner baumann frei zimmermann")[i%10])
		u = append(u, f[:1]+strings.Fields("mueller gerber steiner moser graf roth wyss kaufmann bieri suter")[i%10])
	}
	return append(u, "etl_batch", "sap_interface", "hubble_admin", "scheduler")
}()
