package testenv_test

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// checkMigrated checks that the database has every service schema and the
// data the migrations insert.
func checkMigrated(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := t.Context()
	rows, err := pool.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname IN ('consultation', 'submission', 'summary') ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"consultation", "submission", "summary"}; !slices.Equal(schemas, want) {
		t.Errorf("schemas = %v, want %v", schemas, want)
	}
	var eu, lac int
	err = pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE region = 'EU'), count(*) FILTER (WHERE region = 'LAC') FROM submission.countries").Scan(&eu, &lac)
	if err != nil {
		t.Fatal(err)
	}
	if eu != 27 || lac == 0 {
		t.Errorf("submission.countries has %d EU and %d LAC countries, want 27 and some", eu, lac)
	}
}

// TestParallelDatabases runs two tests in parallel and checks that each gets
// a migrated database of its own.
func TestParallelDatabases(t *testing.T) {
	var mu sync.Mutex
	names := map[string]string{}
	t.Run("group", func(t *testing.T) {
		for _, test := range []string{"a", "b"} {
			t.Run(test, func(t *testing.T) {
				t.Parallel()
				pool := testenv.Pool(t)
				checkMigrated(t, pool)
				ctx := t.Context()
				var db string
				if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[test] = db
				mu.Unlock()
				if _, err := pool.Exec(ctx, "INSERT INTO submission.countries (code, region) VALUES ('XX', 'OTHER')"); err != nil {
					t.Fatalf("insert: %v", err)
				}
			})
		}
	})
	if len(names) != 2 || names["a"] == names["b"] {
		t.Fatalf("databases = %v, want two different ones", names)
	}
	for _, db := range names {
		if !regexp.MustCompile(`^t_[0-9a-f]{16}$`).MatchString(db) {
			t.Errorf("database name %q, want t_ and 16 hex digits", db)
		}
	}
	// Both inserted the same key: had they shared a database, one would
	// have failed.

	// The databases are gone with their tests.
	var left int
	if err := testenv.Pool(t).QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", []string{names["a"], names["b"]}).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d test databases left after their tests ended", left)
	}
}

func TestWritesInvisibleElsewhere(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	one, two := testenv.Pool(t), testenv.Pool(t)
	if _, err := one.Exec(ctx, "DELETE FROM submission.countries WHERE code = 'FR'"); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Exec(ctx, "INSERT INTO submission.countries (code, region) VALUES ('XY', 'OTHER')"); err != nil {
		t.Fatal(err)
	}
	var fr, xy bool
	err := two.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM submission.countries WHERE code = 'FR'), EXISTS (SELECT 1 FROM submission.countries WHERE code = 'XY')").Scan(&fr, &xy)
	if err != nil {
		t.Fatal(err)
	}
	if !fr || xy {
		t.Errorf("the other database sees the writes: FR present %v (want true), XY present %v (want false)", fr, xy)
	}
	checkMigrated(t, two)
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM consultation.thematic_areas").Scan(&n); err != nil {
		t.Fatal(err)
	}
}

func TestNATS(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CONSULTA", Subjects: []string{"consulta.>"}})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "consulta.submission.received", []byte("s1"), jetstream.WithMsgID("e1")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: testenv.UniqueName(t), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for msg := range batch.Messages() {
		got = append(got, msg.Subject()+" "+string(msg.Data()))
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"consulta.submission.received s1"}; !slices.Equal(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
}

// TestNATSSeparateServers checks that two tests never share a server.
func TestNATSSeparateServers(t *testing.T) {
	t.Parallel()
	if a, b := testenv.NATS(t), testenv.NATS(t); a == b {
		t.Errorf("two servers with one URL %s", a)
	}
}

func TestRedisURL(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	key := testenv.UniqueName(t)
	if err := rdb.Set(t.Context(), key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(context.Background(), key)
	if v, err := rdb.Get(t.Context(), key).Result(); err != nil || v != "v" {
		t.Errorf("GET = %q, %v; want v", v, err)
	}
}

func TestUniqueName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for _, sub := range []string{"Plain", "With Spaces & Symbols!", "123 digits first", "ÜñíçødéAndAVeryLongNameThatGoesOnAndOnAndOn"} {
		t.Run(sub, func(t *testing.T) {
			for range 3 {
				n := testenv.UniqueName(t)
				if !valid.MatchString(n) || len(n) > 40 {
					t.Errorf("UniqueName = %q, want a short [a-z0-9_] name starting with a letter", n)
				}
				if seen[n] {
					t.Errorf("UniqueName = %q twice", n)
				}
				seen[n] = true
			}
		})
	}
}
