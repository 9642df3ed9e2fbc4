package postgres

import "testing"

func TestRedactDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://hubble:s3cret@localhost:5432/db?sslmode=disable", "postgres://hubble@localhost:5432/db?sslmode=disable"},
		{"postgresql://hubble@localhost/db", "postgresql://hubble@localhost/db"},
		{"postgres://u:p%40ss@h1:5432,h2:5433/db?password=x&sslpassword=y&application_name=a", "postgres://u@h1:5432,h2:5433/db?application_name=a"},
		{"postgres://localhost/db", "postgres://localhost/db"},
		{"host=localhost port=5432 user=hubble password=s3cret dbname=db", "host=localhost port=5432 user=hubble dbname=db"},
		{"host=localhost password='se cret\\'x' dbname = 'my db'", "host=localhost dbname='my db'"},
		{"host=localhost password='unterminated", "(unparsable connection string)"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.dsn); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

func TestParseToolVersion(t *testing.T) {
	tests := []struct {
		out, want string
		major     int
	}{
		{"pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18", 15},
		{"pg_dump (PostgreSQL) 9.6.24\n", "9.6.24", 9},
		{"pg_dump (PostgreSQL) 17beta1\n", "17beta1", 17},
		{"something else", "", 0},
	}
	for _, tt := range tests {
		got := parseToolVersion(tt.out)
		if got != tt.want || majorOf(got) != tt.major {
			t.Errorf("parseToolVersion(%q) = %q (major %d), want %q (major %d)", tt.out, got, majorOf(got), tt.want, tt.major)
		}
	}
}
