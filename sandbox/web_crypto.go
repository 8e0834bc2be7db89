package sandbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"slices"
	"strings"

	"github.com/dop251/goja"
	"github.com/google/uuid"
)

// crypto: getRandomValues, randomUUID, and crypto.subtle's digest (SHA-1,
// SHA-256, SHA-384, SHA-512) and HMAC (importKey from raw or JWK keys,
// sign, verify, exportKey), as WebCrypto defines them: subtle methods
// return promises and reject with DOMExceptions.

// maxRandomBytes is WebCrypto's cap on one getRandomValues call.
const maxRandomBytes = 65536

// hashChunk is how much a digest hashes between two checks of the watchdog:
// hashing a large buffer is Go code the interrupt does not stop.
const hashChunk = 1 << 20

type cryptoKey struct {
	secret      []byte
	hash        string // "SHA-256", …
	extractable bool
	usages      []string
}

var digests = map[string]func() hash.Hash{
	"SHA-1": sha1.New, "SHA-256": sha256.New, "SHA-384": sha512.New384, "SHA-512": sha512.New,
}

func (r *runner) cryptoObject() goja.Value {
	c := r.rt.NewObject()
	_ = c.Set("getRandomValues", r.function("getRandomValues", 1, func(call goja.FunctionCall) goja.Value {
		v := argument(call.Arguments, 0)
		b, ok := r.integerArrayBytes(v)
		if !ok {
			panic(r.domException("TypeMismatchError", "crypto.getRandomValues: the argument must be an integer typed array"))
		}
		if len(b) > maxRandomBytes {
			panic(r.domException("QuotaExceededError", "crypto.getRandomValues: at most 65536 bytes per call"))
		}
		_, _ = rand.Read(b)
		return v
	}))
	_ = c.Set("randomUUID", r.function("randomUUID", 0, func(goja.FunctionCall) goja.Value {
		return r.rt.ToValue(uuid.NewString())
	}))
	_ = c.Set("subtle", r.subtleObject())
	return c
}

// integerArrayBytes returns the bytes of an integer typed array.
func (r *runner) integerArrayBytes(v goja.Value) ([]byte, bool) {
	o, ok := v.(*goja.Object)
	if !ok || !typedArrayTypes[o.ExportType()] {
		return nil, false
	}
	switch o.Export().(type) {
	case []float32, []float64:
		return nil, false
	}
	return typedBytes(o.Export())
}

// algorithmName reads an AlgorithmIdentifier: a string or {name}.
func (r *runner) algorithmName(v goja.Value) (string, *goja.Object) {
	if o, ok := v.(*goja.Object); ok {
		return r.toDOMString(o.Get("name")), o
	}
	if isNullish(v) {
		return "", nil
	}
	return r.toDOMString(v), nil
}

// hashName normalises a hash algorithm name ("sha-256" → "SHA-256").
func (r *runner) hashName(v goja.Value, what string) string {
	name, _ := r.algorithmName(v)
	up := strings.ToUpper(name)
	if _, ok := digests[up]; !ok {
		panic(r.domException("NotSupportedError", what+": unsupported hash "+quoteJS(name)+" (SHA-1, SHA-256, SHA-384 and SHA-512 are)"))
	}
	return up
}

// dataBytes are the bytes of a BufferSource argument. WebCrypto works on a
// copy so that later changes to the buffer do not matter; these operations
// finish before any plugin code runs again, so they read the buffer in
// place, and only a key keeps a copy (copiedBytes).
func (r *runner) dataBytes(v goja.Value, what string) []byte {
	b, ok := r.bufferBytes(v)
	if !ok {
		panic(r.rt.NewTypeError("%s: the data must be an ArrayBuffer, a typed array or a DataView", what))
	}
	return b
}

func (r *runner) copiedBytes(v goja.Value, what string) []byte {
	b := r.dataBytes(v, what)
	r.charge(len(b))
	return slices.Clone(b)
}

func (r *runner) hashBytes(h hash.Hash, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), hashChunk)
		h.Write(data[:n])
		data = data[n:]
		r.checkpoint()
	}
	return h.Sum(nil)
}

func (r *runner) subtleObject() goja.Value {
	s := r.rt.NewObject()
	keyClass := r.newClass("CryptoKey", 0, nil)
	getKey := func(v goja.Value, what string) *cryptoKey {
		o, _ := v.(*goja.Object)
		k := r.keys[o]
		if k == nil {
			panic(r.rt.NewTypeError("%s: the key must be a CryptoKey", what))
		}
		return k
	}
	method := func(name string, length int, fn func(args []goja.Value) goja.Value) {
		_ = s.Set(name, r.function(name, length, func(call goja.FunctionCall) goja.Value {
			return r.asyncResult(func() goja.Value { return fn(call.Arguments) })
		}))
	}
	method("digest", 2, func(args []goja.Value) goja.Value {
		name := r.hashName(argument(args, 0), "crypto.subtle.digest")
		data := r.dataBytes(argument(args, 1), "crypto.subtle.digest")
		return r.arrayBuffer(r.hashBytes(digests[name](), data))
	})
	method("importKey", 5, func(args []goja.Value) goja.Value {
		format := r.toDOMString(argument(args, 0))
		name, alg := r.algorithmName(argument(args, 2))
		if !strings.EqualFold(name, "HMAC") || alg == nil {
			panic(r.domException("NotSupportedError", "crypto.subtle.importKey: only HMAC keys are supported ({name: \"HMAC\", hash: \"SHA-256\"})"))
		}
		k := &cryptoKey{hash: r.hashName(alg.Get("hash"), "crypto.subtle.importKey"), extractable: argument(args, 3).ToBoolean()}
		switch format {
		case "raw":
			k.secret = r.copiedBytes(argument(args, 1), "crypto.subtle.importKey")
		case "jwk":
			k.secret = r.jwkSecret(argument(args, 1))
		default:
			panic(r.domException("NotSupportedError", "crypto.subtle.importKey: format "+quoteJS(format)+" is not supported for HMAC (raw and jwk are)"))
		}
		if len(k.secret) == 0 {
			panic(r.domException("DataError", "crypto.subtle.importKey: an HMAC key cannot be empty"))
		}
		if l := alg.Get("length"); !isNullish(l) {
			bits := l.ToInteger()
			if bits <= 0 || bits > int64(len(k.secret))*8 || bits <= int64(len(k.secret)-1)*8 {
				panic(r.domException("DataError", "crypto.subtle.importKey: length does not match the key"))
			}
		}
		r.iterate(argument(args, 4), "crypto.subtle.importKey", func(v goja.Value) {
			u := r.toDOMString(v)
			if u != "sign" && u != "verify" {
				panic(r.domException("SyntaxError", "crypto.subtle.importKey: an HMAC key's usages are sign and verify, not "+quoteJS(u)))
			}
			if !slices.Contains(k.usages, u) {
				k.usages = append(k.usages, u)
			}
		})
		if len(k.usages) == 0 {
			panic(r.domException("SyntaxError", "crypto.subtle.importKey: a secret key needs at least one usage"))
		}
		o := keyClass.instance()
		r.keys[o] = k
		r.describeKey(o, k)
		return o
	})
	method("exportKey", 2, func(args []goja.Value) goja.Value {
		format := r.toDOMString(argument(args, 0))
		k := getKey(argument(args, 1), "crypto.subtle.exportKey")
		if !k.extractable {
			panic(r.domException("InvalidAccessError", "crypto.subtle.exportKey: the key is not extractable"))
		}
		switch format {
		case "raw":
			return r.arrayBuffer(slices.Clone(k.secret))
		case "jwk":
			jwk := r.rt.NewObject()
			_ = jwk.Set("kty", "oct")
			_ = jwk.Set("k", base64.RawURLEncoding.EncodeToString(k.secret))
			_ = jwk.Set("alg", "HS"+strings.TrimPrefix(k.hash, "SHA-"))
			_ = jwk.Set("key_ops", r.stringArray(k.usages))
			_ = jwk.Set("ext", true)
			return jwk
		}
		panic(r.domException("NotSupportedError", "crypto.subtle.exportKey: format "+quoteJS(format)+" is not supported (raw and jwk are)"))
	})
	mac := func(args []goja.Value, what, usage string) (*cryptoKey, []byte) {
		name, _ := r.algorithmName(argument(args, 0))
		if !strings.EqualFold(name, "HMAC") {
			panic(r.domException("NotSupportedError", what+": only HMAC is supported"))
		}
		k := getKey(argument(args, 1), what)
		if !slices.Contains(k.usages, usage) {
			panic(r.domException("InvalidAccessError", what+": the key's usages do not include "+quoteJS(usage)))
		}
		return k, r.dataBytes(argument(args, len(args)-1), what)
	}
	method("sign", 3, func(args []goja.Value) goja.Value {
		k, data := mac(args, "crypto.subtle.sign", "sign")
		return r.arrayBuffer(r.hashBytes(hmac.New(digests[k.hash], k.secret), data))
	})
	method("verify", 4, func(args []goja.Value) goja.Value {
		if len(args) < 4 {
			panic(r.rt.NewTypeError("crypto.subtle.verify: 4 arguments required"))
		}
		k, data := mac(args, "crypto.subtle.verify", "verify")
		sig := r.dataBytes(args[2], "crypto.subtle.verify")
		return r.rt.ToValue(hmac.Equal(sig, r.hashBytes(hmac.New(digests[k.hash], k.secret), data)))
	})
	return s
}

// jwkSecret reads the secret of an HMAC JSON Web Key {kty: "oct", k}.
func (r *runner) jwkSecret(v goja.Value) []byte {
	o, ok := v.(*goja.Object)
	if !ok || r.toDOMString(o.Get("kty")) != "oct" {
		panic(r.domException("DataError", "crypto.subtle.importKey: an HMAC JWK needs kty \"oct\""))
	}
	k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.toDOMString(o.Get("k")), "="))
	if err != nil {
		panic(r.domException("DataError", "crypto.subtle.importKey: the JWK's k is not base64url"))
	}
	return k
}

// describeKey sets a CryptoKey's read-only type, extractable, algorithm and
// usages.
func (r *runner) describeKey(o *goja.Object, k *cryptoKey) {
	alg := r.rt.NewObject()
	_ = alg.Set("name", "HMAC")
	h := r.rt.NewObject()
	_ = h.Set("name", k.hash)
	_ = alg.Set("hash", h)
	_ = alg.Set("length", len(k.secret)*8)
	for name, v := range map[string]goja.Value{
		"type": r.rt.ToValue("secret"), "extractable": r.rt.ToValue(k.extractable),
		"algorithm": alg, "usages": r.stringArray(k.usages),
	} {
		_ = o.DefineDataProperty(name, v, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	}
}

func (r *runner) stringArray(items []string) *goja.Object {
	vals := make([]any, len(items))
	for i, s := range items {
		vals[i] = s
	}
	return r.rt.NewArray(vals...)
}
