package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestNewServer(t *testing.T) {
	h, _ := testHandler(t)
	s := NewServer(":5000", h)
	if s.Addr != ":5000" || s.Handler == nil || s.ReadHeaderTimeout != 10*time.Second || s.ReadTimeout != 30*time.Second ||
		s.WriteTimeout != 60*time.Second || s.IdleTimeout != 120*time.Second || s.MaxHeaderBytes != 64<<10 {
		t.Errorf("NewServer = %+v", s)
	}
}

// TestServer_ConcurrentStatus fires 500 Status calls at once over real
// connections; every one must answer 200 with the Status JSON.
func TestServer_ConcurrentStatus(t *testing.T) {
	h, _ := testHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()

	const n = 500
	start := make(chan struct{})
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			resp, err := client.Get(srv.URL + "/api/Backup/Status?id=" + knownID)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer func() { _ = resp.Body.Close() }()
			var s StatusResponse
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &s) != nil || s.Status != "Queued" {
				errs <- resp.Status + " " + string(body)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
