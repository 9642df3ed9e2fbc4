package postgres

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// render is pg_restore --verbose output of a pre-data section (shortened):
// preamble, setup lines, entries whose SQL holds semicolons that end no
// statement, an entry whose body imitates a header, and the trailer.
const render = `--
-- PostgreSQL database dump
--

\restrict abc

-- Dumped from database version 15.18

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;

--
-- TOC entry 12 (class 2615 OID 2200)
-- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
-- Data Pos: 0
--

CREATE SCHEMA public;


ALTER SCHEMA public OWNER TO pg_database_owner;

--
-- TOC entry 300 (class 1255 OID 16400)
-- Dependencies: 12
-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres
-- Data Pos: 0
--

CREATE FUNCTION public.f() RETURNS integer
    LANGUAGE sql
    BEGIN ATOMIC
 SELECT 1;
 SELECT 2;
END;


ALTER FUNCTION public.f() OWNER TO postgres;

--
-- TOC entry 301 (class 1255 OID 16401)
-- Name: g(); Type: FUNCTION; Schema: public; Owner: postgres
--

CREATE FUNCTION public.g() RETURNS text
    LANGUAGE sql
    AS $$ SELECT '
--
-- TOC entry 999 (class 1259 OID 1)
-- Name: fake; Type: TABLE; Schema: public; Owner: postgres
--

DROP TABLE x;' $$;

SET default_tablespace = '';

SET default_table_access_method = heap2;

--
-- TOC entry 302 (class 1259 OID 16402)
-- Name: odd; Type: Name; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public."odd; Type: Name" (a integer);

SET default_table_access_method = heap;

--
-- TOC entry 303 (class 1259 OID 16403)
-- Name: plain; Type: TABLE; Schema: public; Owner: postgres; Tablespace: ts
--

CREATE TABLE public.plain (a integer);

--
-- TOC entry 304 (class 2618 OID 16404)
-- Name: plain r; Type: RULE; Schema: public; Owner: postgres
--

CREATE RULE r AS
    ON INSERT TO public.plain DO ( INSERT INTO public.plain (a) VALUES (1);
 UPDATE public.plain SET a = 2;
);


-- Completed on 2026-11-30 10:00:00 UTC

--
-- PostgreSQL database dump complete
--

\unrestrict abc
`

const renderList = `;
; Archive created at 2026-11-30 10:00:00 UTC
;
12; 2615 2200 SCHEMA - public pg_database_owner
300; 1255 16400 FUNCTION public f() postgres
301; 1255 16401 FUNCTION public g() postgres
302; 1259 16402 TABLE public odd; Type: Name postgres
303; 1259 16403 TABLE public plain postgres
304; 2618 16404 RULE public plain r postgres
`

func TestParseSection(t *testing.T) {
	s, err := parseSection(render, renderList)
	if err != nil {
		t.Fatal(err)
	}
	wantPreamble := "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\nSET check_function_bodies = false;"
	if s.Preamble != wantPreamble {
		t.Errorf("Preamble = %q", s.Preamble)
	}
	type entry struct {
		ID                                    int
		Type, Name, Schema, Owner, Setup, SQL string
	}
	var got []entry
	for _, e := range s.Entries {
		got = append(got, entry{e.ID, e.Type, e.Name, e.Schema, e.Owner, e.Setup, e.SQL})
	}
	want := []entry{
		{12, "SCHEMA", "public", "", "pg_database_owner", "", "CREATE SCHEMA public;\n\n\nALTER SCHEMA public OWNER TO pg_database_owner;"},
		{300, "FUNCTION", "f()", "public", "postgres", "",
			"CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT 1;\n SELECT 2;\nEND;\n\n\nALTER FUNCTION public.f() OWNER TO postgres;"},
		{301, "FUNCTION", "g()", "public", "postgres", "",
			"CREATE FUNCTION public.g() RETURNS text\n    LANGUAGE sql\n    AS $$ SELECT '\n--\n-- TOC entry 999 (class 1259 OID 1)\n-- Name: fake; Type: TABLE; Schema: public; Owner: postgres\n--\n\nDROP TABLE x;' $$;"},
		{302, "TABLE", "odd; Type: Name", "public", "postgres", "SET default_tablespace = '';\nSET default_table_access_method = heap2;",
			`CREATE TABLE public."odd; Type: Name" (a integer);`},
		{303, "TABLE", "plain", "public", "postgres", "SET default_tablespace = '';\nSET default_table_access_method = heap;",
			"CREATE TABLE public.plain (a integer);"},
		{304, "RULE", "plain r", "public", "postgres", "",
			"CREATE RULE r AS\n    ON INSERT TO public.plain DO ( INSERT INTO public.plain (a) VALUES (1);\n UPDATE public.plain SET a = 2;\n);"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if got := s.Entries[3].String(); got != "TABLE public.odd; Type: Name" {
		t.Errorf("String() = %q", got)
	}

	text := s.textCreatingIfMissing("public")
	if !strings.Contains(text, "\nCREATE SCHEMA IF NOT EXISTS public;\n") || strings.Contains(text, "\nCREATE SCHEMA public;") ||
		len(text) != len(render)+len("IF NOT EXISTS ") {
		t.Errorf("textCreatingIfMissing changed more than the CREATE SCHEMA:\n%s", text)
	}
}

func TestParseSection_Refuses(t *testing.T) {
	tests := []struct{ name, text, list string }{
		{"an entry the list does not name is missing", render, renderList + "305; 0 0 COMMENT public TABLE plain postgres\n"},
		{"a body imitates a listed entry's header", strings.Replace(render, "TOC entry 999", "TOC entry 303", 1), renderList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseSection(tt.text, tt.list); err == nil {
				t.Error("parseSection() accepted it")
			}
		})
	}
}
