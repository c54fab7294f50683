package console

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hostflow/hostflow/internal/config"
)

// params reads query-string parameters, collecting the first error so a
// handler can parse everything and then answer one 400.
type params struct {
	v   url.Values
	now time.Time
	err error
}

func (p *params) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = &paramError{fmt.Errorf("parameter %s: %s", name, fmt.Sprintf(format, args...))}
	}
}

func (p *params) str(name, def string) string {
	if s := p.v.Get(name); s != "" {
		return s
	}
	return def
}

func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.v[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (p *params) integer(name string, def, lo, hi int) int {
	s := p.v.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, "want an integer between %d and %d, got %q", lo, hi, s)
		return def
	}
	return n
}

func (p *params) boolean(name string) bool {
	s := p.v.Get(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(name, "want true or false, got %q", s)
	}
	return b
}

// when parses a point in time: RFC 3339, Unix seconds, "now", or "now-24h"
// / "-24h" relative to now (durations accept a "d" suffix).
func (p *params) when(name string, def time.Time) time.Time {
	s := strings.TrimSpace(p.v.Get(name))
	if s == "" {
		return def
	}
	if s == "now" {
		return p.now
	}
	if rel, ok := strings.CutPrefix(s, "now"); ok {
		s = rel
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		d, err := config.ParseDuration(s[1:])
		if err == nil {
			if s[0] == '-' {
				d = -d
			}
			return p.now.Add(d)
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0)
	}
	p.fail(name, "want RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, now or now-24h, got %q", s)
	return def
}

// timeRange reads start and end (default: the last 24 hours) and checks
// them against maxRange.
func (p *params) timeRange(maxRange time.Duration) (time.Time, time.Time) {
	end := p.when("end", p.now)
	start := p.when("start", end.Add(-24*time.Hour))
	if p.err == nil {
		if !start.Before(end) {
			p.fail("start", "must be before end")
		} else if end.Sub(start) > maxRange {
			p.fail("start", "range %s is longer than the maximum %s", end.Sub(start), maxRange)
		}
	}
	return start, end
}

// previous reads the previous-period overlay: hour, day, week, 4weeks, year.
func (p *params) previous(name string) time.Duration {
	switch s := p.v.Get(name); s {
	case "", "none":
		return 0
	case "hour":
		return time.Hour
	case "day":
		return 24 * time.Hour
	case "week":
		return 7 * 24 * time.Hour
	case "4weeks":
		return 28 * 24 * time.Hour
	case "year":
		return 365 * 24 * time.Hour
	default:
		p.fail(name, "want none, hour, day, week, 4weeks or year, got %q", s)
		return 0
	}
}
