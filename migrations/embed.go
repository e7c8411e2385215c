// Package migrations holds the SQL migrations of every service schema,
// embedded in the binary. Each directory is one service and one Postgres schema
// of the same name; pkg/dbmigrate applies them.
package migrations

import "embed"

// FS holds <service>/<version>_<name>.sql for every service.
//
//go:embed */*.sql
var FS embed.FS
