package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestThrowawayDiesWithOwner kills a process that started a throwaway Postgres
// and Redis, as a crashed test binary would be, and checks that the servers die
// too and that the next start removes their directories.
func TestThrowawayDiesWithOwner(t *testing.T) {
	if os.Getenv("DEVENV_TEST_OWNER") == "1" {
		runOwner()
		return
	}
	t.Parallel()
	if _, err := findPostgresBinaries(""); err != nil {
		t.Skipf("skipping: cannot start a throwaway Postgres here: %v", err)
	}
	if _, err := findRedisServer(); err != nil {
		t.Skipf("skipping: cannot start a throwaway Redis here: %v", err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestThrowawayDiesWithOwner$")
	cmd.Env = append(os.Environ(), "DEVENV_TEST_OWNER=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{} // kind -> addr, dir
	sc := bufio.NewScanner(out)
	for len(got) < 2 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && (f[0] == "postgres" || f[0] == "redis") {
			got[f[0]] = [2]string{f[1], f[2]}
		}
	}
	if len(got) < 2 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("owner process did not start both servers (got %v)", got)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	ctx := t.Context()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pgConn, pgErr := connectPostgres(ctx, postgresURL(got["postgres"][0], "postgres"), time.Second)
		if pgErr == nil {
			pgConn.Close(context.Background())
		}
		redisErr := pingRedis(ctx, got["redis"][0], time.Second)
		if pgErr != nil && redisErr != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers outlived their owner: postgres up %v, redis up %v", pgErr == nil, redisErr == nil)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The postmaster may take a moment to go after it stops listening.
	for {
		sweepRunDirs("consulta-pg-")
		sweepRunDirs("consulta-redis-")
		_, pgErr := os.Stat(got["postgres"][1])
		_, redisErr := os.Stat(got["redis"][1])
		if errors.Is(pgErr, os.ErrNotExist) && errors.Is(redisErr, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("abandoned directories not swept: postgres %v, redis %v", pgErr, redisErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runOwner starts the servers, reports them on stdout, and waits to be killed.
func runOwner() {
	ctx := context.Background()
	pg, err := startPostgres(ctx, orDiscard(nil), PostgresOptions{Database: "postgres"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rs, err := startRedis(ctx, orDiscard(nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("postgres", hostOf(pg.url), pg.dir)
	fmt.Println("redis", hostOf(rs.url), rs.dir)
	select {}
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	return u.Host
}
