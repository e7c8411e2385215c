package app

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkOpenDataExport exports the public submissions of one consultation
// from a database holding CONSULTA_BENCH_ROWS of them (default 1,000,000),
// as CSV and as NDJSON, to io.Discard, and reports the peak of the Go heap
// while it runs: the export streams, so the peak does not grow with the
// rows. Run it with `make bench-export`.
//
// The rows are inserted once, by one INSERT ... SELECT generate_series, with
// every kind of answer but files; one in ten is anonymous.
func BenchmarkOpenDataExport(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("CONSULTA_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("CONSULTA_BENCH_ROWS=%q: want a positive number of rows", s)
		}
		rows = n
	}
	ctx := context.Background()
	e := newRightsEnv(b)
	c := e.consultation(false)
	start := time.Now()
	tag, err := e.pool.Exec(ctx, `
		INSERT INTO submission.submissions
		  (id, consultation_id, stakeholder_type, country, region, organisation_name, person_name,
		   transparency_register_id, contact_email, language, answers, publication, status, version, created_at, updated_at)
		SELECT gen_random_uuid(), $1,
		       (ARRAY['academia', 'civil_society', 'private_sector', 'tech_community'])[1 + i % 4],
		       (ARRAY['MX', 'BR', 'FR', 'ES'])[1 + i % 4], CASE WHEN i % 4 < 2 THEN 'LAC' ELSE 'EU' END,
		       'Organisation number ' || i, 'Person ' || i, '123456789012-34', 'person' || i || '@example.org', 'es',
		       jsonb_build_array(
		         jsonb_build_object('question_id', 'vision', 'kind', 'text', 'text',
		           'Respuesta ' || i || ': ' || repeat('datos abiertos, "cooperación" birregional; ', 4)),
		         jsonb_build_object('question_id', 'temas', 'kind', 'choice', 'options', jsonb_build_array('datos', 'talento')),
		         jsonb_build_object('question_id', 'acuerdo', 'kind', 'scale', 'scale', 1 + i % 5),
		         jsonb_build_object('question_id', 'orden', 'kind', 'ranking', 'options', jsonb_build_array('b', 'a'))),
		       CASE WHEN i % 10 = 0 THEN 'public_anonymous' ELSE 'public_named' END, 'active', 1,
		       $2::timestamptz + i * interval '1 millisecond', $2::timestamptz + i * interval '1 millisecond'
		FROM generate_series(1, $3::int) AS i`, c.ID, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rows)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `ANALYZE submission.submissions`); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d rows in %s", tag.RowsAffected(), time.Since(start).Round(time.Millisecond))

	for _, format := range []OpenDataFormat{OpenDataCSV, OpenDataNDJSON} {
		b.Run(string(format), func(b *testing.B) {
			var out countingWriter
			runtime.GC()
			baseline := heapBytes()
			peak := sampleHeap()
			b.ResetTimer()
			for b.Loop() {
				out.n = 0
				if err := e.app.ExportOpenData(ctx, c.ID, format, &out); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			max := peak()
			b.SetBytes(out.n)
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(max), "peak-heap-bytes")
			b.ReportMetric(float64(baseline), "baseline-heap-bytes")
			b.Logf("%s: %d rows, %.1f MiB written per export; Go heap peaked at %.1f MiB (%.1f MiB before the export)",
				format, rows, float64(out.n)/(1<<20), float64(max)/(1<<20), float64(baseline)/(1<<20))
		})
	}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes is the memory of the heap's objects, live or not yet swept.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples heapBytes every 2 ms until the returned function is
// called, which returns the largest sample.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapBytes())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// countingWriter is io.Discard that counts.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return io.Discard.Write(p)
}
