package store

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostflow/hostflow/internal/daemon"
)

type metrics struct {
	rows             *prometheus.CounterVec // table, result
	blocks           *prometheus.CounterVec // table, result
	droppedRows      *prometheus.CounterVec // table, reason
	replayedRows     *prometheus.CounterVec
	replayedBlocks   *prometheus.CounterVec
	insertDuration   *prometheus.HistogramVec
	insertBlocks     *prometheus.HistogramVec
	insertErrors     prometheus.Counter
	queueFull        prometheus.Counter
	queryDuration    prometheus.Observer
	queryErrors      prometheus.Counter
	partsDropped     *prometheus.CounterVec
	completionErrors prometheus.Counter
	diskBytes        prometheus.Gauge
	rollupErrors     prometheus.Counter

	tables [nKinds]string
}

func newMetrics(r *daemon.Reporter, s *Store) *metrics {
	m := &metrics{
		rows: r.CounterVec("rows_total",
			"Rows handed over by appenders, by table and result (inserted live, or spooled).", "table", "result"),
		blocks: r.CounterVec("blocks_total",
			"Blocks handed over by appenders, by table and result (inserted, spooled).", "table", "result"),
		droppedRows: r.CounterVec("dropped_rows_total",
			"Rows lost, by table and reason (spool_full, too_large, spool_error, corrupt, stopped).", "table", "reason"),
		replayedRows:   r.CounterVec("replayed_rows_total", "Rows inserted from the spool.", "table"),
		replayedBlocks: r.CounterVec("replayed_blocks_total", "Blocks inserted from the spool.", "table"),
		insertDuration: r.HistogramVec("insert_duration_seconds", "Time of one insert (of one or more blocks).",
			[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "table"),
		insertBlocks: r.HistogramVec("insert_blocks", "Blocks per insert: when the writer is behind, the blocks of a table waiting in its queue go out together.",
			[]float64{1, 2, 3, 4, 6, 8, 12, 16}, "table"),
		insertErrors: r.Counter("insert_errors_total", "Failed block inserts (the block was spooled)."),
		queueFull:    r.Counter("queue_full_total", "Blocks sent straight to the spool because the writer queue was full."),
		queryDuration: r.HistogramVec("query_duration_seconds", "Query latency.",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}).WithLabelValues(),
		queryErrors:      r.Counter("query_errors_total", "Failed queries."),
		partsDropped:     r.CounterVec("partitions_dropped_total", "Partitions dropped to respect max-disk-bytes.", "table"),
		completionErrors: r.Counter("completion_errors_total", "Failed refreshes of the exporters/interfaces tables."),
		diskBytes:        r.Gauge("disk_bytes", "Bytes on disk of the store's tables (active parts), when max-disk-bytes is set."),
		rollupErrors:     r.Counter("rollup_errors_total", "Flows blocks inserted but not rolled up (unexpected block layout)."),
	}
	for i := range s.kinds {
		m.tables[i] = s.kinds[i].table
	}
	r.GaugeFunc("spool_bytes", "Bytes in the disk spool.", func() float64 {
		if s.spool == nil {
			return 0
		}
		return float64(s.spool.Bytes())
	})
	r.GaugeFunc("spool_blocks", "Blocks in the disk spool.", func() float64 {
		if s.spool == nil {
			return 0
		}
		return float64(s.spool.Len())
	})
	r.GaugeFunc("queue_blocks", "Blocks waiting for the writer.", func() float64 { return float64(len(s.queue)) })
	r.GaugeFunc("rollup_groups", "Rollup rows held by the writer, not yet written.", func() float64 {
		if s.rl == nil {
			return 0
		}
		return float64(s.rl.groups.Load())
	})
	r.GaugeFunc("rollup_bytes", "Memory the rollup rows held by the writer take (bounded by rollup-memory).", func() float64 {
		if s.rl == nil {
			return 0
		}
		return float64(s.rl.bytes.Load())
	})
	r.GaugeFunc("up", "1 when the last insert succeeded.", func() float64 {
		if s.ws.down.Load() {
			return 0
		}
		return 1
	})
	return m
}

func (m *metrics) written(it item, result string) {
	m.rows.WithLabelValues(m.tables[it.kind], result).Add(float64(it.block.Rows))
	m.blocks.WithLabelValues(m.tables[it.kind], result).Inc()
}

func (m *metrics) dropped(it item, reason string) {
	m.droppedRows.WithLabelValues(m.tables[it.kind], reason).Add(float64(it.block.Rows))
}
