package devenv

import (
	"net/url"
	"path/filepath"
	"strings"
)

// DevNATSStoreDir says where `consulta dev` keeps the files of its
// in-process NATS server, so that they last as long as the database whose
// outbox they relay:
//
//   - dataDir set (the -data-dir flag): dataDir/nats, as asked;
//   - a throwaway Postgres: "" (a temporary directory, removed at exit),
//     since the data the events came from goes with it;
//   - otherwise: dataHome/nats/<host>-<port>-<database>, one store per
//     database, so that events published but not yet consumed survive a
//     Ctrl-C or a kill, and two databases never share a stream.
func DevNATSStoreDir(dataDir, dataHome, databaseURL string, throwawayPostgres bool) string {
	switch {
	case dataDir != "":
		return filepath.Join(dataDir, "nats")
	case throwawayPostgres:
		return ""
	}
	return filepath.Join(dataHome, "nats", storeName(databaseURL))
}

// storeName is a directory name for the database at databaseURL: its host,
// port and name, with anything but letters, digits, dots and dashes
// replaced. Credentials are left out.
func storeName(databaseURL string) string {
	name := "default"
	if u, err := url.Parse(databaseURL); err == nil && u.Host != "" {
		port := u.Port()
		if port == "" {
			port = "5432"
		}
		name = u.Hostname() + "-" + port + "-" + strings.TrimPrefix(u.Path, "/")
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, name)
}
