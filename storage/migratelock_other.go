//go:build !unix

package storage

// lockMigrations is a no-op where flock is missing: one process per database
// must then start first.
func lockMigrations(string) (func(), error) { return func() {}, nil }
