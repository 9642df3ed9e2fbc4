package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     procStat
		err      bool
	}{
		{name: "backend", in: "4242 (postgres) S 1919 4242 4242 0 -1 4194560 900 0 0 0 120 35 7 3 20 0 1 0 2000 230000000 5000",
			want: procStat{state: 'S', ppid: 1919, cpu: (120 + 35 + 7 + 3) * clockTick}},
		{name: "name with spaces and parentheses", in: "7 (a) b (c)) Z 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0",
			want: procStat{state: 'Z', ppid: 1, cpu: 10 * clockTick}},
		{name: "truncated", in: "7 (x) S 1 7", err: true},
		{name: "no name", in: "7 x S 1", err: true},
		{name: "bad number", in: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 a 2 3 4 20 0", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("parseStat = %+v, %v; want %+v, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestServerCPU_self(t *testing.T) {
	// This process has used some CPU: the reading is positive and does
	// not go down.
	a, err := serverCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for x, i := 0, 0; i < 20_000_000; i++ {
		x += i
		_ = x
	}
	b, err := serverCPU(os.Getpid())
	if err != nil || b < a {
		t.Errorf("serverCPU: %v then %v (%v)", a, b, err)
	}
}

func TestIsBackend(t *testing.T) {
	tests := map[string]bool{
		"postgres: postgres bench_dst 127.0.0.1(51234) COPY": true,
		"postgres: hubble db [local] idle":                   true,
		"postgres: checkpointer":                             false,
		"postgres: parallel worker for PID 42":               false,
		"postgres: autovacuum worker bench":                  false,
		"":                                                   false,
	}
	for title, want := range tests {
		if got := isBackend(title); got != want {
			t.Errorf("isBackend(%q) = %v, want %v", title, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{3}, spread{3, 3, 3}},
		{[]float64{5, 1, 3}, spread{3, 1, 5}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	s := func(secs ...float64) []sample {
		var out []sample
		for _, v := range secs {
			out = append(out, sample{wall: time.Duration(v * float64(time.Second))})
		}
		return out
	}
	r, ok := ratio(s(8, 9, 10), s(10, 10, 20), metrics[0])
	if !ok || r.med != 0.9 || r.lo != 0.5 || r.hi != 0.9 {
		t.Errorf("ratio = %+v, %v; want median 9/10, pairs 0.5-0.9", r, ok)
	}
	if _, ok := ratio(s(1), s(0), metrics[0]); ok {
		t.Error("a ratio over zero")
	}
}

func TestParseDataset(t *testing.T) {
	tests := []struct {
		in      string
		mb      int64
		big, ok bool
	}{
		{"1024", 1024, false, true},
		{"big1200", 1200, true, true},
		{"big", 0, true, false},
		{"-5", 0, false, false},
		{"1GB", 0, false, false},
	}
	for _, tt := range tests {
		d, err := parseDataset(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (d.mb != tt.mb || d.big != tt.big || d.db != "bench_src_"+tt.in)) {
			t.Errorf("parseDataset(%q) = %+v, %v", tt.in, d, err)
		}
	}
}

func TestList(t *testing.T) {
	if got := list(" 256, ,1024,big1200 "); len(got) != 3 || got[0] != "256" || got[2] != "big1200" {
		t.Errorf("list = %q", got)
	}
	if got := list(""); got != nil {
		t.Errorf("list(\"\") = %q", got)
	}
}
