package store

import (
	"context"
	"fmt"

	"github.com/hostflow/hostflow/store/schema"
)

// sizeVictims is the order in which tables give up their oldest partition
// when the database is over max-disk-bytes: raw data first (largest, and
// the rollups keep its aggregates), the coarsest rollup last.
var sizeVictims = []string{schema.Flows, schema.InterfaceCounters, schema.HostCounters, schema.Flows1m, schema.Flows5m, schema.Flows1h}

// enforceSize drops oldest partitions until the active parts of the
// database fit in max-disk-bytes. A table keeps at least its newest
// partition. Returns after at most one pass over the victims list.
func (s *Store) enforceSize(ctx context.Context) error {
	res, err := s.tr.Query(ctx, `SELECT table, partition_id, sum(bytes_on_disk) AS bytes
		FROM system.parts WHERE database = {db:String} AND active
		GROUP BY table, partition_id ORDER BY table, partition_id`, map[string]string{"db": s.cfg.Database})
	if err != nil {
		return err
	}
	var total int64
	parts := map[string][]string{} // table → partition ids, oldest first
	sizes := map[string]int64{}    // table/partition → bytes
	for _, r := range res.Rows {
		table, id, bytes := r[0].(string), r[1].(string), int64(r[2].(uint64))
		parts[table] = append(parts[table], id)
		sizes[table+"/"+id] = bytes
		total += bytes
	}
	s.m.diskBytes.Set(float64(total))
	for _, table := range sizeVictims {
		for total > int64(s.cfg.MaxDiskBytes) && len(parts[table]) > 1 {
			id := parts[table][0]
			parts[table] = parts[table][1:]
			if err := s.tr.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION ID '%s'", s.cfg.Database, table, id), nil); err != nil {
				return err
			}
			total -= sizes[table+"/"+id]
			s.m.partsDropped.WithLabelValues(table).Inc()
			s.r.Logger().Warn("dropped oldest partition to respect max-disk-bytes", "table", table, "partition", id,
				"bytes", sizes[table+"/"+id], "max_disk_bytes", int64(s.cfg.MaxDiskBytes))
		}
	}
	if total > int64(s.cfg.MaxDiskBytes) {
		s.r.Limited("size-cap", "database still over max-disk-bytes with one partition per table left", "bytes", total)
	}
	return nil
}
