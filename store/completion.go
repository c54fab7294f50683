package store

import (
	"context"
	"sync"
	"time"
)

// completionPeriod is how often the exporters and interfaces tables are
// refreshed from the flows inserted meanwhile.
const completionPeriod = time.Minute

// window is the TimeReceived range of the flows inserted since the last
// completion refresh.
type window struct {
	mu       sync.Mutex
	min, max uint32
}

func (w *window) widen(lo, hi uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.max == 0 {
		w.min, w.max = lo, hi
		return
	}
	w.min, w.max = min(w.min, lo), max(w.max, hi)
}

// take returns and resets the window.
func (w *window) take() (lo, hi uint32, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	lo, hi, ok = w.min, w.max, w.max != 0
	w.min, w.max = 0, 0
	return lo, hi, ok
}

// refreshCompletion adds the exporters and interfaces of the flows inserted
// since the last call to their tables.
func (s *Store) refreshCompletion(ctx context.Context) {
	lo, hi, ok := s.seen.take()
	if !ok {
		return
	}
	params := map[string]string{
		"from": time.Unix(int64(lo), 0).UTC().Format(time.DateTime),
		"to":   time.Unix(int64(hi), 0).UTC().Format(time.DateTime),
	}
	for _, sql := range s.schema.CompletionRefresh() {
		if err := s.tr.Exec(ctx, sql, params); err != nil {
			s.m.completionErrors.Inc()
			s.r.Limited("completion", "cannot refresh the exporters/interfaces tables", "error", err)
			s.seen.widen(lo, hi) // retry this range next time
			return
		}
	}
}

// housekeeping refreshes the completion tables and enforces the size cap.
func (s *Store) housekeeping() {
	defer s.wg.Done()
	t := time.NewTicker(completionPeriod)
	defer t.Stop()
	for {
		select {
		case <-s.stopFlusher:
			return
		case <-t.C:
		}
		s.refreshCompletion(context.Background())
		if s.cfg.MaxDiskBytes > 0 {
			if err := s.enforceSize(context.Background()); err != nil {
				s.r.Limited("retention", "size cap check failed", "error", err)
			}
		}
	}
}
