package postgres

import (
	"net/url"
	"strings"
)

// secretKeys are connection parameters that must never be shown or put on a
// command line.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// RedactDSN returns dsn without its secrets (the password in a URL's user
// information, password= and sslpassword= parameters), for messages and for
// the --dbname argument of the vendor tools. It accepts both the URL and
// the key=value forms; text it cannot parse is reduced to what is safe.
func RedactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return redactURL(dsn)
	}
	pairs, ok := parseKeyValues(dsn)
	if !ok {
		return "(unparsable connection string)"
	}
	var b strings.Builder
	for _, kv := range pairs {
		if secretKeys[kv[0]] {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(quoteValue(kv[1]))
	}
	return b.String()
}

// redactURL drops the password of the user information and the secret query
// parameters. It works on the text rather than through url.Parse, which
// refuses the multi-host form (postgres://h1:5432,h2:5432/db) libpq accepts.
func redactURL(dsn string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	authority, tail := rest[:authEnd], rest[authEnd:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, _ := strings.Cut(authority[:at], ":")
		authority = user + "@" + authority[at+1:]
	}
	path, query, hasQuery := strings.Cut(tail, "?")
	if hasQuery {
		query, fragment, hasFragment := strings.Cut(query, "#")
		var kept []string
		for _, part := range strings.Split(query, "&") {
			key, _, _ := strings.Cut(part, "=")
			if k, err := url.QueryUnescape(key); err == nil && secretKeys[k] {
				continue
			}
			if part != "" {
				kept = append(kept, part)
			}
		}
		tail = path
		if len(kept) > 0 {
			tail += "?" + strings.Join(kept, "&")
		}
		if hasFragment {
			tail += "#" + fragment
		}
	}
	return scheme + "://" + authority + tail
}

// parseKeyValues splits a libpq key=value connection string into ordered
// pairs, honouring single quotes and backslash escapes as libpq does.
func parseKeyValues(s string) ([][2]string, bool) {
	var pairs [][2]string
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return pairs, true
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		skipSpace()
		if key == "" || i >= len(s) || s[i] != '=' {
			return nil, false
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, false
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		pairs = append(pairs, [2]string{key, val.String()})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// quoteValue quotes a key=value connection string value when it needs it.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
