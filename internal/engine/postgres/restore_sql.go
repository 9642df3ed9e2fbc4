package postgres

import "strings"

// A small lexer for analysing (never executing) pg_dump's SQL: it finds the
// roles an entry names and the table an index is built on. It follows
// PostgreSQL's lexical rules for quoted strings (standard and E''), quoted
// identifiers, dollar-quoted bodies, line and nested block comments.

func lineEnd(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// blockCommentEnd returns the index after the (nested) comment at i.
func blockCommentEnd(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(s)
}

// skipToken returns the index after a quoted string, quoted identifier,
// dollar-quoted string or comment starting at i, or i when none starts there.
func skipToken(s string, i int) int {
	c := s[i]
	switch {
	case c == '\'':
		escapes := i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2]))
		return quotedEnd(s, i, '\'', escapes)
	case c == '"':
		return quotedEnd(s, i, '"', false)
	case c == '$':
		if tag, ok := dollarTag(s, i); ok {
			if k := strings.Index(s[i+len(tag):], tag); k >= 0 {
				return i + len(tag) + k + len(tag)
			}
			return len(s)
		}
	case strings.HasPrefix(s[i:], "--"):
		return lineEnd(s, i)
	case strings.HasPrefix(s[i:], "/*"):
		return blockCommentEnd(s, i)
	}
	return i
}

// quotedEnd returns the index after the quoted token at i; a doubled quote
// is part of it, and so is a backslash-escaped character in E” strings.
func quotedEnd(s string, i int, q byte, escapes bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case escapes && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// dollarTag reads a $tag$ opening at i; $1 (a parameter) is none.
func dollarTag(s string, i int) (string, bool) {
	if i > 0 && isIdentChar(s[i-1]) {
		return "", false // part of an identifier such as a$b
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[i : j+1], true
		}
		if !(isIdentChar(c) && !(j == i+1 && c >= '0' && c <= '9')) {
			return "", false
		}
	}
	return "", false
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || c == '$'
}

// token is a lexical token of one statement.
type token struct {
	kind byte   // 'w' word (folded to lower case), 'i' quoted identifier, 's' string, 'p' punctuation
	text string // for 'i' the identifier unquoted, for 's' the raw body
}

// tokenize splits a statement into tokens, dropping comments and spaces.
func tokenize(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '"':
			j := quotedEnd(s, i, '"', false)
			toks = append(toks, token{'i', strings.ReplaceAll(strings.TrimSuffix(s[i+1:j], `"`), `""`, `"`)})
			i = j
		case c == '\'' || c == '$' || strings.HasPrefix(s[i:], "--") || strings.HasPrefix(s[i:], "/*"):
			j := skipToken(s, i)
			if j == i { // a lone '$'
				toks = append(toks, token{'p', "$"})
				i++
				continue
			}
			if c == '\'' || c == '$' {
				toks = append(toks, token{'s', s[i:j]})
			}
			i = j
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			// E'...' strings: the prefix belongs to the string token.
			if j < len(s) && s[j] == '\'' && j-i == 1 && (c == 'E' || c == 'e') {
				k := skipToken(s, j)
				toks = append(toks, token{'s', s[j:k]})
				i = k
				continue
			}
			toks = append(toks, token{'w', strings.ToLower(s[i:j])})
			i = j
		default:
			toks = append(toks, token{'p', string(c)})
			i++
		}
	}
	return toks
}

// isName reports whether t is an identifier (quoted, or a word).
func (t token) isName() bool { return t.kind == 'w' || t.kind == 'i' }

// rolesNamed returns the roles the statements of sql name as owner or
// grantee.
func rolesNamed(sql string) []string {
	var roles []string
	toks := tokenize(sql)
	for len(toks) > 0 {
		end := 0
		for depth := 0; end < len(toks); end++ {
			if t := toks[end]; t.kind == 'p' {
				if t.text == "(" {
					depth++
				} else if t.text == ")" {
					depth--
				} else if t.text == ";" && depth == 0 {
					break
				}
			}
		}
		roles = append(roles, statementRoles(toks[:end])...)
		toks = toks[min(end+1, len(toks)):]
	}
	return roles
}

// statementRoles returns the roles one statement names as owner or grantee.
func statementRoles(toks []token) []string {
	var roles []string
	add := func(t token) {
		if !t.isName() {
			return
		}
		if t.kind == 'w' {
			switch t.text {
			case "public", "current_user", "session_user", "current_role", "group":
				return
			}
		}
		roles = append(roles, t.text)
	}
	// list reads "name [, name ...]" from position i.
	list := func(i int) {
		for i < len(toks) {
			if toks[i].kind == 'w' && toks[i].text == "group" {
				i++
				continue
			}
			add(toks[i])
			if i+1 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].text == "," {
				i += 2
				continue
			}
			return
		}
	}
	word := func(i int, w string) bool { return i < len(toks) && toks[i].kind == 'w' && toks[i].text == w }
	first := ""
	if len(toks) > 0 && toks[0].kind == 'w' {
		first = toks[0].text
	}
	depth := 0
	lastTo, lastFrom := -1, -1
	for i, t := range toks {
		switch {
		case t.kind == 'p' && t.text == "(":
			depth++
		case t.kind == 'p' && t.text == ")":
			depth--
		case depth == 0 && word(i, "owner") && word(i+1, "to"):
			list(i + 2)
		case depth == 0 && word(i, "granted") && word(i+1, "by"):
			list(i + 2)
		case depth == 0 && word(i, "for") && (word(i+1, "role") || word(i+1, "user")):
			list(i + 2)
		case depth == 0 && word(i, "to"):
			lastTo = i
		case depth == 0 && word(i, "from"):
			lastFrom = i
		}
	}
	if first == "alter" && word(1, "default") && word(2, "privileges") {
		// ALTER DEFAULT PRIVILEGES ... GRANT ... TO / REVOKE ... FROM.
		for i := range toks {
			if word(i, "grant") || word(i, "revoke") {
				first = toks[i].text
				break
			}
		}
	}
	switch {
	case first == "grant" && lastTo >= 0:
		list(lastTo + 1)
	case first == "revoke" && lastFrom >= 0:
		list(lastFrom + 1)
	case first == "create" && word(1, "policy") && lastTo >= 0:
		list(lastTo + 1)
	}
	return roles
}

// namesSchema reports whether a function definition's quoted strings (its
// body, its SET options) name schema as a qualifier: schema. or "schema".
func namesSchema(sql, schema string) bool {
	lower := strings.ToLower(schema) + "."
	quoted := quoteIdent(schema) + "."
	for _, t := range tokenize(sql) {
		if t.kind != 's' {
			continue
		}
		if strings.Contains(t.text, quoted) {
			return true
		}
		body := strings.ToLower(t.text)
		for i := 0; ; {
			k := strings.Index(body[i:], lower)
			if k < 0 {
				break
			}
			if at := i + k; at == 0 || !isIdentChar(body[at-1]) {
				return true
			}
			i += k + 1
		}
	}
	return false
}
