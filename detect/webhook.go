package detect

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/daemon"
)

// WebhookPayload is the JSON body POSTed for each event.
type WebhookPayload struct {
	// Version of the payload format.
	Version int `json:"version"`
	// Event is "opened" (a new detection) or "updated" (found again within
	// the cool-down; sent only with sinks.webhook.updates).
	Event     string     `json:"event"`
	Detection *Detection `json:"detection"`
}

// PayloadVersion is WebhookPayload.Version.
const PayloadVersion = 1

// SignatureHeader carries "sha256=" + the hex HMAC-SHA256 of the body with
// sinks.webhook.secret, when a secret is configured.
const SignatureHeader = "X-Hostflow-Signature"

// webhook sends events from a bounded queue, one at a time, retrying
// failures with exponential backoff.
type webhook struct {
	cfg    WebhookSinkConfig
	r      *daemon.Reporter
	client *http.Client
	queue  chan []byte
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	sent    prometheus.Counter
	retries prometheus.Counter
	drops   *prometheus.CounterVec
	pending prometheus.Gauge
}

func newWebhook(cfg WebhookSinkConfig, r *daemon.Reporter, client *http.Client) *webhook {
	if client == nil {
		client = &http.Client{}
	}
	r = r.Sub("webhook")
	return &webhook{
		cfg: cfg, r: r, client: client, queue: make(chan []byte, cfg.Queue),
		sent:    r.Counter("sent_total", "Webhook events delivered (2xx answer)."),
		retries: r.Counter("retries_total", "Webhook attempts that failed and were retried."),
		drops:   r.CounterVec("drops_total", "Webhook events given up, by reason.", "reason"),
		pending: r.Gauge("queue_length", "Webhook events waiting to be sent."),
	}
}

func (w *webhook) start() {
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.done = make(chan struct{})
	go w.run()
}

// stop lets the sender finish the queue for at most one timeout, then
// abandons what is left (counted as reason "shutdown").
func (w *webhook) stop() {
	if w.cancel == nil {
		return
	}
	close(w.queue)
	select {
	case <-w.done:
	case <-time.After(time.Duration(w.cfg.Timeout)):
		w.cancel()
		<-w.done
	}
	w.cancel()
}

// enqueue never blocks: a full queue drops the event.
func (w *webhook) enqueue(event string, det *Detection) {
	body, err := json.Marshal(WebhookPayload{Version: PayloadVersion, Event: event, Detection: det})
	if err != nil {
		w.drops.WithLabelValues("encode").Inc()
		return
	}
	select {
	case w.queue <- body:
		w.pending.Inc()
	default:
		w.drops.WithLabelValues("queue_full").Inc()
		w.r.Limited("queue_full", "webhook queue full, detection event dropped", "rule", det.Rule, "id", det.ID)
	}
}

func (w *webhook) run() {
	defer close(w.done)
	for body := range w.queue {
		w.pending.Dec()
		if w.ctx.Err() != nil {
			w.drops.WithLabelValues("shutdown").Inc()
			continue
		}
		w.deliver(body)
	}
}

// deliver tries 1 + retries times. 4xx answers other than 408 and 429 are
// not retried: the receiver rejects the request itself.
func (w *webhook) deliver(body []byte) {
	backoff := time.Duration(w.cfg.Backoff)
	for attempt := 0; ; attempt++ {
		retry, err := w.post(body)
		if err == nil {
			w.sent.Inc()
			return
		}
		if w.ctx.Err() != nil {
			w.drops.WithLabelValues("shutdown").Inc()
			return
		}
		if !retry || attempt >= w.cfg.Retries {
			reason := "failed"
			if !retry {
				reason = "rejected"
			}
			w.drops.WithLabelValues(reason).Inc()
			w.r.Limited("failed", "webhook delivery failed, event dropped", "attempts", attempt+1, "error", err)
			return
		}
		w.retries.Inc()
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
			w.drops.WithLabelValues("shutdown").Inc()
			return
		}
		backoff = min(2*backoff, time.Duration(w.cfg.MaxBackoff))
	}
}

// post sends one attempt; retry tells whether a failure is worth another.
func (w *webhook) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(w.ctx, time.Duration(w.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hostflow-detect")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	if w.cfg.Secret != "" {
		mac := hmac.New(sha256.New, []byte(w.cfg.Secret))
		mac.Write(body)
		req.Header.Set(SignatureHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook: %s", resp.Status)
	}
	return false, fmt.Errorf("webhook: %s", resp.Status)
}
