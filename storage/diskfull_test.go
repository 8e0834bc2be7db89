package storage_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/tmpfstest"
)

func TestIsDiskFull(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"sentinel", fmt.Errorf("save: %w", storage.ErrDiskFull), true},
		{"ENOSPC from a file", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{"EDQUOT from a file", fmt.Errorf("put: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}), true},
		{"other errno", &fs.PathError{Op: "write", Path: "x", Err: syscall.EIO}, false},
		{"plain", errors.New("disk full"), false},
		// PostgreSQL's disk_full (SQLSTATE 53100), as pgx returns it through
		// database/sql, and another server error that is not.
		{"PostgreSQL disk_full", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "53100", Message: "could not extend file"}), true},
		{"PostgreSQL unique violation", &pgconn.PgError{Code: "23505"}, false},
	}
	for _, tt := range tests {
		if got := storage.IsDiskFull(tt.err); got != tt.want {
			t.Errorf("%s: IsDiskFull(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// A full filesystem turns both blob writes and database writes into
// ErrDiskFull, leaves no temporary file behind, keeps reads working, and
// recovers by itself once space is freed.
func TestDiskFullLocalAndSQLite(t *testing.T) {
	ctx := context.Background()
	dir := tmpfstest.Mount(t, "2m")
	db, err := storage.Open(ctx, filepath.Join(dir, "pilcrow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := storage.NewLocalStore(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE t (v BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "before.bin", bytes.NewReader([]byte("kept")), storage.PutOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(dir, "filler")
	tmpfstest.Fill(t, filler)

	big := bytes.Repeat([]byte("x"), 256<<10)
	_, err = store.Put(ctx, "after.bin", bytes.NewReader(big), storage.PutOptions{Size: int64(len(big))})
	if !errors.Is(err, storage.ErrDiskFull) {
		t.Fatalf("Put on a full disk: %v, want ErrDiskFull", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "media"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left after a failed put", e.Name())
		}
	}
	// The WAL may have room for a few rows; a bounded number of large rows
	// must run into the wall.
	var txErr error
	for i := 0; i < 40 && txErr == nil; i++ {
		txErr = db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, big)
			return err
		})
	}
	if !errors.Is(txErr, storage.ErrDiskFull) {
		t.Fatalf("insert on a full disk: %v, want ErrDiskFull", txErr)
	}
	// Reads go on.
	var n int
	if err := db.Read().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatalf("read on a full disk: %v", err)
	}
	if r, err := store.Open(ctx, "before.bin"); err != nil {
		t.Fatalf("blob read on a full disk: %v", err)
	} else {
		r.Close()
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, []byte("small"))
		return err
	}); err != nil {
		t.Fatalf("insert after freeing space: %v", err)
	}
	if _, err := store.Put(ctx, "after.bin", bytes.NewReader(big), storage.PutOptions{Size: int64(len(big))}); err != nil {
		t.Fatalf("Put after freeing space: %v", err)
	}
}

// --sync reaches SQLite on both pools: PRAGMA synchronous is 1 for NORMAL and
// 2 for FULL; anything else is refused before a file is opened.
func TestOpenSyncMode(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		mode storage.SyncMode
		want int
	}{{"", 1}, {storage.SyncNormal, 1}, {storage.SyncFull, 2}} {
		db, err := storage.OpenWith(ctx, filepath.Join(t.TempDir(), "p.db"), storage.Options{Sync: tt.mode})
		if err != nil {
			t.Fatal(err)
		}
		for name, pool := range map[string]*sql.DB{"write": db.Write(), "read": db.Read()} {
			var got int
			if err := pool.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil || got != tt.want {
				t.Errorf("sync %q, %s pool: synchronous = %d, %v; want %d", tt.mode, name, got, err, tt.want)
			}
		}
		db.Close()
	}
	if _, err := storage.OpenWith(ctx, filepath.Join(t.TempDir(), "p.db"), storage.Options{Sync: "off"}); err == nil {
		t.Error("sync mode off accepted")
	}
}
