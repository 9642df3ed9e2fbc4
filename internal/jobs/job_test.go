package jobs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStatus_Terminal(t *testing.T) {
	tests := []struct {
		s    Status
		want bool
	}{
		{StatusSuccess, true},
		{StatusQueued, false},
		{StatusExecuting, false},
		{StatusCanceled, true},
		{StatusLimitReached, true},
		{StatusError, true},
	}
	for _, tt := range tests {
		if got := tt.s.Terminal(); got != tt.want {
			t.Errorf("%s.Terminal() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q, not 32 lower-case hex", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"b61a96c2134f4a59b91188c94e24aa57", true},
		{"B61A96C2134F4A59B91188C94E24AA57", false},
		{"b61a96c2134f4a59b91188c94e24aa5", false},
		{"b61a96c2134f4a59b91188c94e24aa577", false},
		{"g61a96c2134f4a59b91188c94e24aa57", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestJob_JSON(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	j := Job{ID: "b61a96c2134f4a59b91188c94e24aa57", Status: StatusQueued, Message: MsgQueued, Trigger: "api", CreatedAt: created,
		Result: Result{Message: "not stored here"}}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"b61a96c2134f4a59b91188c94e24aa57","status":"Queued","message":"Job was queued for execution.","trigger":"api","created_at":"2025-01-02T03:04:05Z","progress":{"done":0,"total":0,"bytes":0},"result":{}}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	if strings.Contains(string(b), "not stored here") {
		t.Error("Result.Message leaked into JSON")
	}
}
