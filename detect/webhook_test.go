package detect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The webhook tests run the sender against a real HTTP server whose
// handler answers as each case needs (failing, slow, blocked).

func webhookConfig(url string) WebhookSinkConfig {
	cfg := DefaultConfig().Sinks.Webhook
	cfg.URL, cfg.Timeout, cfg.Backoff, cfg.MaxBackoff = url, dur(500*time.Millisecond), dur(20*time.Millisecond), dur(80*time.Millisecond)
	return cfg
}

func startWebhook(t *testing.T, cfg WebhookSinkConfig) *webhook {
	w := newWebhook(cfg, testReporter(t).Sub("detect"), nil)
	w.start()
	return w
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timeout waiting for %s", what)
}

func TestWebhookDelivery(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := webhookConfig(srv.URL)
	cfg.Secret, cfg.Headers = "k", map[string]string{"Authorization": "Bearer t"}
	w := startWebhook(t, cfg)
	det := &Detection{ID: "abc", Rule: RulePortScan, Severity: "warning", Subject: Subject{Address: "10.0.0.5"},
		Summary: "s", Count: 1, Active: true, Values: map[string]float64{"ports": 200},
		Evidence: Evidence{Filter: "SrcAddr = 10.0.0.5", SQL: "SELECT 1"}}
	w.enqueue("opened", det)
	waitFor(t, "delivery", func() bool { return testutil.ToFloat64(w.sent) == 1 })
	w.stop()
	mu.Lock()
	defer mu.Unlock()
	r := got[0]
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer t" {
		t.Errorf("request: %s content-type %q authorization %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"))
	}
	var p WebhookPayload
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != PayloadVersion || p.Event != "opened" || p.Detection.ID != "abc" || p.Detection.Values["ports"] != 200 {
		t.Errorf("payload: %s", bodies[0])
	}
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write(bodies[0])
	if sig := r.Header.Get(SignatureHeader); sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q", sig)
	}
}

func TestWebhookRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	w := startWebhook(t, webhookConfig(srv.URL))
	defer w.stop()
	w.enqueue("opened", &Detection{ID: "x"})
	waitFor(t, "delivery after 2 failures", func() bool { return testutil.ToFloat64(w.sent) == 1 })
	if n := testutil.ToFloat64(w.retries); n != 2 || calls.Load() != 3 {
		t.Errorf("%v retries, %d calls; want 2 and 3", n, calls.Load())
	}
}

func TestWebhookGivesUp(t *testing.T) {
	for _, c := range []struct {
		name     string
		status   int
		delay    time.Duration
		calls    int32
		reason   string
		retries  int
		timeouts bool
	}{
		{name: "rejected", status: http.StatusBadRequest, calls: 1, reason: "rejected", retries: 3},
		{name: "server error", status: http.StatusInternalServerError, calls: 4, reason: "failed", retries: 3},
		{name: "too many requests", status: http.StatusTooManyRequests, calls: 2, reason: "failed", retries: 1},
		{name: "timeout", status: http.StatusOK, delay: time.Second, calls: 2, reason: "failed", retries: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				select {
				case <-time.After(c.delay):
				case <-r.Context().Done():
					return
				}
				w.WriteHeader(c.status)
			}))
			defer srv.Close()
			cfg := webhookConfig(srv.URL)
			cfg.Retries = c.retries
			w := startWebhook(t, cfg)
			w.enqueue("opened", &Detection{ID: "x"})
			waitFor(t, "give up", func() bool { return testutil.ToFloat64(w.drops.WithLabelValues(c.reason)) == 1 })
			w.stop()
			if calls.Load() != c.calls || testutil.ToFloat64(w.sent) != 0 {
				t.Errorf("%d calls (want %d), %v sent", calls.Load(), c.calls, testutil.ToFloat64(w.sent))
			}
		})
	}
}

func TestWebhookQueueFullAndShutdown(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := webhookConfig(srv.URL)
	cfg.Queue, cfg.Timeout = 2, dur(300*time.Millisecond)
	w := startWebhook(t, cfg)
	w.enqueue("opened", &Detection{ID: "1"})
	waitFor(t, "first request in flight", func() bool { return calls.Load() == 1 })
	for _, id := range []string{"2", "3", "4", "5"} { // 2 and 3 wait, 4 and 5 find the queue full
		w.enqueue("opened", &Detection{ID: id})
	}
	if n := testutil.ToFloat64(w.drops.WithLabelValues("queue_full")); n != 2 {
		t.Errorf("%v dropped as queue_full, want 2", n)
	}
	// Stop gives the queue one timeout: the blocked receiver never
	// answers, so what is left is dropped.
	start := time.Now()
	w.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v", d)
	}
	if n := testutil.ToFloat64(w.drops.WithLabelValues("shutdown")); n < 2 {
		t.Errorf("%v dropped at shutdown, want the 2 queued (and the one in flight)", n)
	}
}
