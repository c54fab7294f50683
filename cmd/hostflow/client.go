package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// client is what hostflow top and hostflow query share: a collector's
// HTTP API v1 and a token.
type client struct {
	server, token string
	http          http.Client
}

// get fetches path with query q; API errors come back as their message.
func (c *client) get(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	u := strings.TrimSuffix(c.server, "/") + "/api/v1/" + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("%s: %s: %s", c.server, resp.Status, e.Error)
	}
	return resp.Body, nil
}

// clientFlags are the flags of both commands.
func clientFlags(fs *flag.FlagSet, since string) (c *client, filter, start, end *string) {
	c = &client{http: http.Client{Timeout: time.Minute}}
	fs.StringVar(&c.server, "server", "http://localhost:8080", "the collector's console URL")
	fs.StringVar(&c.token, "token", os.Getenv("HOSTFLOW_TOKEN"), "API token (default $HOSTFLOW_TOKEN)")
	filter = fs.String("filter", "", "filter expression (docs/filter.md), e.g. \"ProcessName = 'nginx'\"")
	start = fs.String("start", since, "start of the range: RFC 3339, Unix seconds, now or now-DURATION")
	end = fs.String("end", "now", "end of the range")
	return c, filter, start, end
}

// runQuery prints raw flows matching a filter as a table or CSV.
func runQuery(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hostflow query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, filter, start, end := clientFlags(fs, "now-1h")
	columns := fs.String("columns", "TimeReceived,HostName,ProcessName,SrcAddr,SrcPort,DstAddr,DstPort,Proto,Bytes,Packets", "columns to show")
	limit := fs.Int("limit", 50, "flows to show, newest first")
	csv := fs.Bool("csv", false, "print CSV (every matching flow up to the server's export limit) instead of a table")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	q := url.Values{"start": {*start}, "end": {*end}, "filter": {*filter}, "columns": {*columns}}
	if *csv {
		q.Set("format", "csv")
	} else {
		q.Set("limit", strconv.Itoa(*limit))
	}
	body, err := c.get(context.Background(), "flows", q)
	if err != nil {
		fmt.Fprintf(stderr, "hostflow query: %v\n", err)
		return 1
	}
	defer body.Close()
	if *csv {
		if _, err := io.Copy(stdout, body); err != nil {
			fmt.Fprintf(stderr, "hostflow query: %v\n", err)
			return 1
		}
		return 0
	}
	var page struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		fmt.Fprintf(stderr, "hostflow query: %s: %v\n", c.server, err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(page.Columns, "\t"))
	for _, r := range page.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	if len(page.Rows) == 0 {
		fmt.Fprintln(stderr, "no flows match (try a longer -start or another -filter)")
	}
	return 0
}

// runTop prints the top talkers by the given dimensions, once or every
// -watch interval until interrupted.
func runTop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hostflow top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, filter, start, end := clientFlags(fs, "now-5m")
	dims := fs.String("dimensions", "ProcessName", "comma-separated dimensions, e.g. HostName,DstAS")
	limit := fs.Int("limit", 10, "rows before \"Other\"")
	unit := fs.String("unit", "l3bps", "l3bps, l2bps, pps or flows")
	watch := fs.Duration("watch", 0, "refresh every this long (0: print once)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := url.Values{"start": {*start}, "end": {*end}, "filter": {*filter}, "dimensions": {*dims},
		"limit": {strconv.Itoa(*limit)}, "unit": {*unit}}
	for {
		if err := printTop(ctx, c, q, stdout); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintf(stderr, "hostflow top: %v\n", err)
			return 1
		}
		if *watch <= 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*watch):
		}
		fmt.Fprintln(stdout)
	}
}

func printTop(ctx context.Context, c *client, q url.Values, w io.Writer) error {
	body, err := c.get(ctx, "topn", q)
	if err != nil {
		return err
	}
	defer body.Close()
	var top struct {
		Start, End time.Time
		Table      string
		Unit       string
		Dimensions []string
		Rows       []struct {
			Labels  []string
			Other   bool
			Value   float64
			Percent float64
		}
	}
	if err := json.NewDecoder(body).Decode(&top); err != nil {
		return fmt.Errorf("%s: %w", c.server, err)
	}
	fmt.Fprintf(w, "%s → %s (%s, from %s)\n", top.Start.Format(time.RFC3339), top.End.Format(time.RFC3339), top.Unit, top.Table)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(top.Dimensions, "\t")+"\t"+top.Unit+"\t%\t")
	for _, r := range top.Rows {
		labels := r.Labels
		if r.Other {
			labels = []string{"Other"}
			for range len(top.Dimensions) - 1 {
				labels = append(labels, "")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t\n", strings.Join(labels, "\t"), rate(r.Value), r.Percent)
	}
	if len(top.Rows) == 0 {
		fmt.Fprintln(tw, "(no traffic in the range)\t")
	}
	return tw.Flush()
}

// rate prints a value with an SI prefix (1.2M).
func rate(v float64) string {
	for _, p := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= p.div {
			return strconv.FormatFloat(v/p.div, 'f', 1, 64) + p.suffix
		}
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// cell prints one JSON value of a flows row.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
