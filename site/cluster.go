package site

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// IsPostgres reports whether a --database value names a PostgreSQL server
// (postgres:// or postgresql://): the site then runs in cluster mode.
func IsPostgres(database string) bool {
	d, err := storage.ParseDatabase(database)
	return err == nil && d.Dialect == storage.Postgres
}

// CheckCluster returns, for a site on PostgreSQL (cluster mode: any number
// of nodes serve it), what the configuration lacks for that: a media store
// every node shares, and the sealing key from the environment with a key id
// (a secret.key in one node's data folder cannot open what another node
// sealed). Every problem is named at once, with what to set. It opens
// nothing, so `pilcrow serve` calls it before it touches the database. (Open
// does not: test sites on PostgreSQL run on local media and a key file.)
func CheckCluster(cfg Config) error {
	if !IsPostgres(cfg.Database) {
		return nil
	}
	var errs []error
	media, err := storage.ParseBlobLocation(cfg.Media.Location, cfg.DataDir)
	if err != nil {
		errs = append(errs, err)
	} else if media.S3 == nil {
		errs = append(errs, errors.New("cluster mode (--database postgres://…) needs a media store every node shares: set --media (PILCROW_MEDIA) to s3://BUCKET[/PREFIX]?endpoint=URL&region=R; a local folder is one node's disk"))
	}
	if err := CheckClusterKey(cfg.Database); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckClusterKey is CheckCluster's check of the sealing key alone (what
// `pilcrow secrets rotate` needs: it must seal with the nodes' key, never
// with a key file of its own).
func CheckClusterKey(database string) error {
	if !IsPostgres(database) {
		return nil
	}
	v := strings.TrimSpace(os.Getenv(plugins.EnvSecretKey))
	if v == "" {
		return fmt.Errorf("cluster mode (--database postgres://…) needs %s=ID:BASE64, the same on every node (e.g. %s=k1:$(openssl rand -base64 32)); a secret.key in one node's data folder cannot open what another node sealed", plugins.EnvSecretKey, plugins.EnvSecretKey)
	}
	k, err := plugins.ParseSecretKey(v)
	if err != nil {
		return fmt.Errorf("%s: %w", plugins.EnvSecretKey, err)
	}
	if k.ID == "" {
		return fmt.Errorf("cluster mode (--database postgres://…) needs a key id in %s, written ID:BASE64 (e.g. k1:…), so keys can be rotated; values sealed with the key as it is now still open when its bare base64 is listed in %s", plugins.EnvSecretKey, plugins.EnvPreviousSecretKeys)
	}
	return nil
}

// openSealer loads the site's sealing keys. When they come from the
// environment, a secret.key left in the data folder is not used: the log
// says so unless that key is among the configured ones, since what it
// sealed opens only if it is.
func openSealer(dataDir string, log *slog.Logger) (*plugins.Sealer, error) {
	keys, err := plugins.LoadSecretKeys(dataDir)
	if err != nil {
		return nil, err
	}
	if keys.FromEnv {
		path := filepath.Join(dataDir, plugins.SecretKeyFile)
		if b, err := os.ReadFile(path); err == nil {
			if fk, err := plugins.ParseSecretKey(string(b)); err == nil && !slices.ContainsFunc(keys.Keys, func(k plugins.SecretKey) bool {
				return string(k.Key) == string(fk.Key)
			}) {
				log.Warn("secret.key in the data folder is not used because "+plugins.EnvSecretKey+" is set; values it sealed open only once it is listed in "+plugins.EnvPreviousSecretKeys, "file", path)
			}
		}
	}
	sealer, err := plugins.NewSealer(keys.Keys...)
	if err != nil {
		return nil, err
	}
	log.Debug("secrets are sealed with key "+orLegacy(sealer.CurrentKeyID()), "from", keys.Source, "keys", len(keys.Keys))
	return sealer, nil
}

func orLegacy(id string) string {
	if id == "" {
		return "(legacy, no id)"
	}
	return id
}

// ResealSecrets moves every sealed value (plugins' secret settings, webhooks'
// signing secrets) to the current key, so older keys can be retired. It is
// safe while other nodes serve: a value changed meanwhile is kept.
func (s *Site) ResealSecrets(ctx context.Context) (plugins.Resealed, error) {
	var r plugins.Resealed
	if err := s.Plugins.ResealSecrets(ctx, &r); err != nil {
		return r, err
	}
	err := s.Webhooks.ResealSecrets(ctx, r.Add)
	return r, err
}

// SecretKeyID is the id of the key new secrets are sealed with ("" for the
// legacy key without id).
func (s *Site) SecretKeyID() string { return s.sealer.CurrentKeyID() }
