package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestStop_ExecuteDuringShutdown keeps calling Execute while the service
// stops: every call is answered 200 (or the connection is refused once the
// service no longer listens), never 500, and every job it accepted ends
// Canceled with the stop message.
func TestStop_ExecuteDuringShutdown(t *testing.T) {
	e := newEnv(t, options{schema: schemaBulk, maxQueued: 10000})
	s := e.start(t)
	first := s.execute(t)
	s.waitPhase(t, first.ID, "data", 60*time.Second)

	var (
		mu       sync.Mutex
		accepted = []string{first.ID}
		bad      []string
	)
	running := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		for n := 0; ; n++ {
			if n == 20 {
				close(running)
			}
			code, st, err := postExecute(client, s.base)
			if err != nil {
				if n < 20 {
					close(running)
				}
				return // the service no longer listens
			}
			mu.Lock()
			if code == http.StatusOK && st.Status == "Queued" {
				accepted = append(accepted, st.ID)
			} else {
				bad = append(bad, fmt.Sprintf("HTTP %d %+v", code, st))
			}
			mu.Unlock()
		}
	}()
	<-running
	if code := s.stop(t, 60*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit code %d", code)
	}
	<-done
	if len(bad) > 0 {
		t.Errorf("%d Execute calls during the shutdown were not answered Queued, e.g. %s", len(bad), bad[0])
	}
	t.Logf("%d jobs accepted before the service stopped listening", len(accepted))
	assertEmpty(t, e.tempDir)
	assertEmpty(t, e.backupDir)

	s = e.start(t)
	for _, id := range accepted {
		want := status{ID: id, Status: "Canceled", Message: "The service was stopped."}
		if got := s.status(t, id); got != want {
			t.Errorf("after the restart: %+v, want %+v", got, want)
		}
	}
}

func postExecute(client *http.Client, base string) (int, status, error) {
	var st status
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/api/Backup/Execute", nil)
	if err != nil {
		return 0, st, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return resp.StatusCode, st, err
}
