package plugins

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// SecretKeyFile is where a site keeps the key that seals secret plugin settings
// when PILCROW_SECRET_KEY is not set.
const SecretKeyFile = "secret.key"

// The environment variables that configure the sealing keys. The current key
// seals; previous keys only open, so values sealed before a rotation keep
// working until `pilcrow secrets rotate` has moved them to the current key
// (the shape of Django's SECRET_KEY_FALLBACKS and Laravel's APP_PREVIOUS_KEYS).
const (
	EnvSecretKey          = "PILCROW_SECRET_KEY"
	EnvPreviousSecretKeys = "PILCROW_PREVIOUS_SECRET_KEYS"
)

// keyIDPattern is what a key id may be: short, and free of the ':' that
// separates it from the key (or the sealed value) and of the ',' that
// separates keys.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// SecretKey is one sealing key. ID names it in every value it seals, so a
// site may hold several keys during a rotation; an empty ID is the legacy key
// of sites from before key ids, whose values carry no id.
type SecretKey struct {
	ID  string
	Key []byte
}

// SecretKeys are a site's sealing keys: the first seals, all open.
type SecretKeys struct {
	Keys []SecretKey
	// Source says where the current key came from ("PILCROW_SECRET_KEY" or
	// the key file's path), for start-up logs and error messages.
	Source string
	// FromEnv is true when the keys came from the environment, as every node
	// of a cluster needs (a key file is one node's).
	FromEnv bool
}

// ParseSecretKey reads one key in the form the environment gives it:
// "ID:BASE64" (32 bytes), or a bare BASE64 for the legacy key without id.
func ParseSecretKey(s string) (SecretKey, error) {
	s = strings.TrimSpace(s)
	var k SecretKey
	b64 := s
	if id, rest, ok := strings.Cut(s, ":"); ok {
		if !keyIDPattern.MatchString(id) {
			return k, fmt.Errorf("key id %q must be 1 to 64 letters, digits, '.', '_' or '-'", id)
		}
		k.ID, b64 = id, rest
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != 32 {
		return k, errors.New("a key must be ID:BASE64 with 32 bytes of key, e.g. k1:$(openssl rand -base64 32)")
	}
	k.Key = key
	return k, nil
}

// String is the key in the form ParseSecretKey reads.
func (k SecretKey) String() string {
	b := base64.StdEncoding.EncodeToString(k.Key)
	if k.ID == "" {
		return b
	}
	return k.ID + ":" + b
}

// LoadSecretKeys returns the site's sealing keys: PILCROW_SECRET_KEY
// ("ID:BASE64", or a bare BASE64 for a key from before key ids) and
// PILCROW_PREVIOUS_SECRET_KEYS (comma-separated, same forms) when set, or
// else the key in dataDir/secret.key, created with mode 0600 and a key id on
// first use.
func LoadSecretKeys(dataDir string) (SecretKeys, error) {
	cur := strings.TrimSpace(os.Getenv(EnvSecretKey))
	prev := strings.TrimSpace(os.Getenv(EnvPreviousSecretKeys))
	if cur == "" {
		if prev != "" {
			return SecretKeys{}, fmt.Errorf("%s is set but %s is not: set the current key too", EnvPreviousSecretKeys, EnvSecretKey)
		}
		k, path, err := loadKeyFile(dataDir)
		if err != nil {
			return SecretKeys{}, err
		}
		return SecretKeys{Keys: []SecretKey{k}, Source: path}, nil
	}
	k, err := ParseSecretKey(cur)
	if err != nil {
		return SecretKeys{}, fmt.Errorf("%s: %w", EnvSecretKey, err)
	}
	keys := SecretKeys{Keys: []SecretKey{k}, Source: EnvSecretKey, FromEnv: true}
	if prev != "" {
		for i, s := range strings.Split(prev, ",") {
			k, err := ParseSecretKey(s)
			if err != nil {
				return SecretKeys{}, fmt.Errorf("%s, key %d: %w", EnvPreviousSecretKeys, i+1, err)
			}
			keys.Keys = append(keys.Keys, k)
		}
	}
	if _, err := NewSealer(keys.Keys...); err != nil {
		return SecretKeys{}, fmt.Errorf("%s, %s: %w", EnvSecretKey, EnvPreviousSecretKeys, err)
	}
	return keys, nil
}

// loadKeyFile reads dataDir/secret.key, creating it on first use. A file
// written before key ids holds a bare key: the legacy key, still sealing
// without an id, so a site that never set PILCROW_SECRET_KEY is unchanged.
func loadKeyFile(dataDir string) (SecretKey, string, error) {
	path := filepath.Join(dataDir, SecretKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		k, err := ParseSecretKey(string(b))
		if err != nil {
			return k, path, fmt.Errorf("%s: %w", path, err)
		}
		return k, path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return SecretKey{}, path, fmt.Errorf("read secret key: %w", err)
	}
	k := SecretKey{ID: "local-" + time.Now().UTC().Format("20060102"), Key: make([]byte, 32)}
	_, _ = rand.Read(k.Key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return k, path, fmt.Errorf("create secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(k.String() + "\n"); err != nil {
		return k, path, fmt.Errorf("write secret key: %w", err)
	}
	return k, path, f.Sync()
}

// ErrUnknownKeyID is returned by Open for a value sealed with a key the site
// does not hold (a retired key, or one only other nodes were given).
var ErrUnknownKeyID = errors.New("sealed with a key this site does not hold")

// Sealer encrypts secret setting values at rest with AES-256-GCM, so a copy of
// the database alone does not reveal plugins' API keys. A sealed value is
// "ID:BASE64(nonce|ciphertext)", naming the key that sealed it; values from
// before key ids are a bare BASE64 and open with the legacy key.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewSealer returns a sealer over keys: the first seals, every one opens.
// Ids must be distinct; at most one key (the legacy one) has none.
func NewSealer(keys ...SecretKey) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no secret key")
	}
	s := &Sealer{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if len(k.Key) != 32 {
			return nil, fmt.Errorf("secret key %q must be 32 bytes, got %d", k.ID, len(k.Key))
		}
		if _, dup := s.aeads[k.ID]; dup {
			if k.ID == "" {
				return nil, errors.New("more than one key without an id: only the legacy key (from before key ids) may have none")
			}
			return nil, fmt.Errorf("key id %q is given twice", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[k.ID] = aead
	}
	return s, nil
}

// CurrentKeyID is the id of the key Seal uses ("" for the legacy key).
func (s *Sealer) CurrentKeyID() string { return s.current }

// additionalData binds a sealed value to its context (plugin id and setting
// key, say) and to the id of the key that sealed it. Legacy values were
// bound to the context alone.
func additionalData(id, context string) []byte {
	if id == "" {
		return []byte(context)
	}
	return []byte(id + "\x00" + context)
}

// Seal encrypts plaintext with the current key, binding it to context (plugin
// id and setting key) so a sealed value copied to another plugin's row does
// not open there.
func (s *Sealer) Seal(context, plaintext string) string {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), additionalData(s.current, context)))
	if s.current == "" {
		return out
	}
	return s.current + ":" + out
}

// KeyID returns the id of the key that sealed a value ("" for a legacy value).
func KeyID(sealed string) string {
	id, _, ok := strings.Cut(sealed, ":")
	if !ok {
		return ""
	}
	return id
}

// Open decrypts a value made by Seal with the same context, with whichever of
// the site's keys sealed it.
func (s *Sealer) Open(context, sealed string) (string, error) {
	id, b64 := "", sealed
	if i := strings.IndexByte(sealed, ':'); i >= 0 {
		id, b64 = sealed[:i], sealed[i+1:]
	}
	aead, ok := s.aeads[id]
	if !ok {
		if id == "" {
			return "", fmt.Errorf("%w: the value has no key id (sealed before key ids) and no key without an id is configured; add the old key, as its bare base64, to %s", ErrUnknownKeyID, EnvPreviousSecretKeys)
		}
		return "", fmt.Errorf("%w: key id %q is neither %s nor in %s", ErrUnknownKeyID, id, EnvSecretKey, EnvPreviousSecretKeys)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errors.New("sealed value is malformed")
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, b[:n], b[n:], additionalData(id, context))
	if err != nil {
		if id == "" {
			return "", errors.New("sealed value does not open with this site's key")
		}
		return "", fmt.Errorf("sealed value does not open with key %q: it was sealed for another setting, or with another key under that id", id)
	}
	return string(pt), nil
}

// Reseal opens a sealed value and seals it again with the current key; moved
// is false (and the value unchanged) when it already is under the current key.
func (s *Sealer) Reseal(context, sealed string) (out string, moved bool, err error) {
	if KeyID(sealed) == s.current {
		return sealed, false, nil
	}
	pt, err := s.Open(context, sealed)
	if err != nil {
		return "", false, err
	}
	return s.Seal(context, pt), true, nil
}

// Resealed counts what a re-seal did: values moved to the current key, values
// already under it, and the values that did not open (each named, with why).
type Resealed struct {
	Moved, Current int
	Failed         []string
}

// Add counts one value's outcome; name says which value failed.
func (r *Resealed) Add(name string, moved bool, err error) {
	switch {
	case err != nil:
		r.Failed = append(r.Failed, name+": "+err.Error())
	case moved:
		r.Moved++
	default:
		r.Current++
	}
}
