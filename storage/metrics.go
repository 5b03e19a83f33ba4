package storage

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// MetricPoint is one observation of a named metric (loss, rougeLsum, bytes_up, ...).
type MetricPoint struct {
	Round uint64
	Name  string
	Value float64
	Time  time.Time
}

const (
	metricMagic, metricVersion = "MLMP", 1
	maxMetricName              = 128
)

func checkMetricName(name string) error {
	if err := checkName("metric name", name, maxMetricName); err != nil {
		return err
	}
	if bytes.IndexByte([]byte(name), 0) >= 0 {
		return fmt.Errorf("%w: metric name %q contains NUL", ErrInvalid, name)
	}
	return nil
}

func encodeMetric(m *MetricPoint) []byte {
	e := encoder{}
	e.raw([]byte(metricMagic))
	e.u8(metricVersion)
	e.str8(m.Name)
	e.u64(m.Round)
	e.f64(m.Value)
	e.time(m.Time)
	return e.b
}

func decodeMetric(b []byte) (MetricPoint, error) {
	d := decoder{what: "metric point", b: b}
	d.header(metricMagic, metricVersion)
	m := MetricPoint{Name: d.str8("name", maxMetricName)}
	m.Round = d.u64("round")
	m.Value = d.f64("value")
	m.Time = d.time("time")
	return m, d.finish()
}

// AppendMetric records a point; points are never overwritten. A zero Time is set to now.
func (s *Store) AppendMetric(ctx context.Context, m MetricPoint) error {
	if err := ctxErr(ctx, "append metric"); err != nil {
		return err
	}
	if err := checkMetricName(m.Name); err != nil {
		return fmt.Errorf("append metric: %w", err)
	}
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	// The sequence number keeps two points with the same round and clock reading apart.
	k := key(prefixMetric, []byte(m.Name), []byte{0}, be64(m.Round), be64(uint64(m.Time.UnixNano())), be64(s.metricSeq.Add(1)))
	return s.putRecord("metric "+m.Name, k, encodeMetric(&m))
}

// Metrics returns the points of name ordered by round, then time.
func (s *Store) Metrics(ctx context.Context, name string) ([]MetricPoint, error) {
	if err := checkMetricName(name); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var out []MetricPoint
	err := s.scanPrefix(ctx, key(prefixMetric, []byte(name), []byte{0}), func(k, v []byte) error {
		m, err := decodeMetric(v)
		if err != nil {
			s.log.Warn("skip corrupt metric point", "metric", name, "err", err)
			return nil
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metrics %q: %w", name, err)
	}
	// Keys order by round then UnixNano; stable sort makes that explicit for equal rounds.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Round < out[j].Round })
	return out, nil
}

// MetricNames lists the names that have at least one point, sorted.
func (s *Store) MetricNames(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixMetric)})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			if err := ctx.Err(); err != nil {
				return err
			}
			rest := it.Item().Key()[len(prefixMetric):]
			i := bytes.IndexByte(rest, 0)
			if i <= 0 {
				it.Next()
				continue
			}
			names = append(names, string(rest[:i]))
			// Skip the rest of this name's points: seek past "<name>\x00...".
			it.Seek(key(prefixMetric, rest[:i], []byte{1}))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metric names: %w", err)
	}
	return names, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
