package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// runWeb runs a hook body (async, event and ctx in scope) with event, in a
// worker and in-process, and returns its JSON value.
func runWeb(t *testing.T, body string, event any) json.RawMessage {
	t.Helper()
	inv := hookInvocation(body)
	if event != nil {
		ev, err := json.Marshal(event)
		if err != nil {
			t.Fatal(err)
		}
		inv.Event = ev
	}
	res, err := invokeBoth(t, inv, newMemHost())
	if err != nil {
		t.Fatal(err)
	}
	return res.Value
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	return v
}

func TestGlobalsAreTheVocabulary(t *testing.T) {
	t.Parallel()
	var names []string
	for _, g := range manifest.Globals() {
		names = append(names, g.Name)
		if globalImpls[g.Name] == nil {
			t.Errorf("global %s of the vocabulary is not implemented", g.Name)
		}
	}
	if len(globalImpls) != len(names) {
		t.Errorf("%d globals implemented, the vocabulary has %d", len(globalImpls), len(names))
	}
	out := decode[map[string]string](t, runWeb(t, `const out = {};
		for (const n of event.names) out[n] = typeof globalThis[n];
		return out`, map[string]any{"names": names}))
	for _, n := range names {
		want := "function"
		if n == "crypto" {
			want = "object"
		}
		if out[n] != want {
			t.Errorf("typeof %s = %q, want %q", n, out[n], want)
		}
	}
}

func TestGlobalsAreLazyAndPerInvocation(t *testing.T) {
	t.Parallel()
	// Untouched globals are not own properties; a touched one is built
	// once; assignment and deletion behave like ordinary globals; nothing
	// carries over to the next invocation.
	got := string(runWeb(t, `
		const before = Object.getOwnPropertyNames(globalThis).includes("URL");
		const same = URL === URL && globalThis.URL === URL;
		globalThis.TextEncoder = 5;
		atob; delete globalThis.atob;
		URL.polluted = 1;
		return [before, same, TextEncoder, typeof atob, Object.getOwnPropertyNames(globalThis).includes("URL")]`, nil))
	if got != `[false,true,5,"undefined",true]` {
		t.Fatalf("got %s", got)
	}
	if got := string(runWeb(t, `return [typeof URL.polluted, typeof TextEncoder, typeof atob]`, nil)); got != `["undefined","function","function"]` {
		t.Fatalf("state leaked into the next invocation: %s", got)
	}
}

func TestURLConformance(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/url_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var all []json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var cases []map[string]any
	for _, c := range all {
		if c[0] == '{' {
			cases = append(cases, decode[map[string]any](t, c))
		}
	}
	got := decode[[]map[string]any](t, runWeb(t, `
		const parts = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
		return event.cases.map((c) => {
			try {
				const u = c.base === null ? new URL(c.input) : new URL(c.input, c.base);
				const out = {};
				for (const p of parts) out[p] = u[p];
				out.canParse = URL.canParse(c.input, c.base ?? undefined);
				out.json = JSON.stringify(u);
				return out;
			} catch (e) {
				return {failure: true, name: e.name, canParse: URL.canParse(c.input, c.base ?? undefined), parse: URL.parse(c.input, c.base ?? undefined)};
			}
		})`, map[string]any{"cases": cases}))
	if len(got) != len(cases) {
		t.Fatalf("%d results for %d cases", len(got), len(cases))
	}
	for i, c := range cases {
		g := got[i]
		if c["failure"] == true {
			if g["failure"] != true || g["name"] != "TypeError" || g["canParse"] != false || g["parse"] != nil {
				t.Errorf("%q (base %v) should fail with a TypeError, got %v", c["input"], c["base"], g)
			}
			continue
		}
		if g["failure"] == true {
			t.Errorf("%q (base %v) failed: %v", c["input"], c["base"], g)
			continue
		}
		for k, want := range c {
			if k == "input" || k == "base" {
				continue
			}
			if g[k] != want {
				t.Errorf("%q (base %v): %s = %q, want %q", c["input"], c["base"], k, g[k], want)
			}
		}
		if g["canParse"] != true || g["json"] != `"`+g["href"].(string)+`"` {
			t.Errorf("%q: canParse %v, toJSON %v", c["input"], g["canParse"], g["json"])
		}
	}
}

func TestURLSetters(t *testing.T) {
	t.Parallel()
	got := decode[[]string](t, runWeb(t, `
		const u = new URL("https://example.com/a?x=1#h");
		u.pathname = "/b c"; u.hash = "top"; u.port = "8443"; u.hostname = "other.test";
		const out = [u.href];
		u.search = "?q=a+b"; out.push(u.searchParams.get("q"));
		u.searchParams.set("q", "1&2"); u.searchParams.append("z", "é"); out.push(u.search, u.href);
		u.searchParams.delete("q"); u.searchParams.delete("z"); out.push(u.href);
		u.href = "http://[::1]:8080/x"; out.push(u.host, u.origin);
		try { u.href = "not a url" } catch (e) { out.push(e.name) }
		out.push(String(u), Object.prototype.toString.call(u));
		try { URL.prototype.href } catch (e) { out.push(e.name) }
		return out`, nil))
	want := []string{"https://other.test:8443/b%20c?x=1#top", "a b", "?q=1%262&z=%C3%A9", "https://other.test:8443/b%20c?q=1%262&z=%C3%A9#top",
		"https://other.test:8443/b%20c#top", "[::1]:8080", "http://[::1]:8080", "TypeError", "http://[::1]:8080/x", "[object URL]", "TypeError"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestURLSearchParams(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const p = new URLSearchParams("?a=1&b=%2B+x&a=2&&c&=v&%E2%82%AC=%ZZ");
		const out = {};
		out.entries = [...p];
		out.get = [p.get("a"), p.get("b"), p.get("c"), p.get("missing"), p.get("€")];
		out.getAll = p.getAll("a");
		out.has = [p.has("a"), p.has("a", "2"), p.has("a", "3")];
		p.set("a", "x y"); p.delete("c"); p.sort();
		out.sorted = p.toString();
		out.size = p.size;
		out.fromPairs = new URLSearchParams([["k", "v"], ["k", "w"]]).toString();
		out.fromRecord = new URLSearchParams({x: "1", y: "two words"}).toString();
		out.copy = new URLSearchParams(new URLSearchParams("q=1")).toString();
		try { new URLSearchParams([["only-one"]]) } catch (e) { out.badPair = e.name }
		const order = []; new URLSearchParams("b=2&a=1").forEach((v, k) => order.push(k + v)); out.forEach = order;
		out.unicodeSort = (() => { const s = new URLSearchParams("\uFFFD=x&\uD83D\uDE00=y"); s.sort(); return [...s.keys()] })();
		out.keys = [...new URLSearchParams("x=1&y=2").keys()];
		out.values = [...new URLSearchParams("x=1&y=2").values()];
		return out`, nil))
	want := map[string]any{
		"entries":    []any{[]any{"a", "1"}, []any{"b", "+ x"}, []any{"a", "2"}, []any{"c", ""}, []any{"", "v"}, []any{"€", "%ZZ"}},
		"get":        []any{"1", "+ x", "", nil, "%ZZ"},
		"getAll":     []any{"1", "2"},
		"has":        []any{true, true, false},
		"sorted":     "=v&a=x+y&b=%2B+x&%E2%82%AC=%25ZZ",
		"size":       float64(4),
		"fromPairs":  "k=v&k=w",
		"fromRecord": "x=1&y=two+words",
		"copy":       "q=1",
		"badPair":    "TypeError",
		"forEach":    []any{"b2", "a1"},
		// U+1F600 sorts before U+FFFD by UTF-16 code units (0xD83D < 0xFFFD).
		"unicodeSort": []any{"😀", "\uFFFD"},
		"keys":        []any{"x", "y"},
		"values":      []any{"1", "2"},
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

func TestTextEncoding(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const enc = new TextEncoder(), dec = new TextDecoder();
		const out = {};
		out.encoding = [enc.encoding, dec.encoding, dec.fatal, dec.ignoreBOM];
		out.nonBMP = Array.from(enc.encode("a\u00e9\u20ac\uD83D\uDE00"));
		out.loneSurrogate = Array.from(enc.encode("\uD800x"));
		out.empty = enc.encode().length;
		out.roundTrip = dec.decode(enc.encode("\uD83D\uDE00 pilcrow \u00b6")) === "\uD83D\uDE00 pilcrow \u00b6";
		const bytes = (...b) => new Uint8Array(b);
		out.invalid = {
			truncated4: dec.decode(bytes(0xF0, 0x9F, 0x98)),
			overlong: dec.decode(bytes(0xC0, 0x80)),
			surrogate: dec.decode(bytes(0xED, 0xA0, 0x80)),
			interrupted: dec.decode(bytes(0xE2, 0x82, 0x61)),
			lead: dec.decode(bytes(0x80, 0x61, 0xFF)),
			tooHigh: dec.decode(bytes(0xF4, 0x90, 0x80, 0x80)),
		};
		out.bom = [dec.decode(bytes(0xEF, 0xBB, 0xBF, 0x61)), new TextDecoder("utf-8", {ignoreBOM: true}).decode(bytes(0xEF, 0xBB, 0xBF, 0x61)).length];
		try { new TextDecoder("utf-8", {fatal: true}).decode(bytes(0xFF)) } catch (e) { out.fatal = e.name }
		try { new TextDecoder("latin1") } catch (e) { out.label = e.name }
		out.labels = [new TextDecoder(" UTF8 ").encoding, new TextDecoder("unicode-1-1-utf-8").encoding];
		const s = new TextDecoder(); const emoji = enc.encode("\uD83D\uDE00");
		out.stream = s.decode(emoji.subarray(0, 2), {stream: true}) + "|" + s.decode(emoji.subarray(2), {stream: true}) + "|" + s.decode();
		out.unfinished = new TextDecoder().decode(emoji.subarray(0, 3), {stream: true}) + "|";
		out.views = [dec.decode(new Uint16Array([0x6968]).buffer), dec.decode(new DataView(enc.encode("xyz").buffer, 1)), dec.decode(enc.encode("abcd").subarray(1, 3))];
		const into = new Uint8Array(5);
		out.encodeInto = enc.encodeInto("a\uD83D\uDE00b", into);
		out.into = Array.from(into);
		try { dec.decode("not bytes") } catch (e) { out.badInput = e.name }
		return out`, nil))
	want := map[string]any{
		"encoding":      []any{"utf-8", "utf-8", false, false},
		"nonBMP":        []any{97, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80},
		"loneSurrogate": []any{0xEF, 0xBF, 0xBD, 0x78},
		"empty":         0,
		"roundTrip":     true,
		"invalid": map[string]any{"truncated4": "\uFFFD", "overlong": "\uFFFD\uFFFD", "surrogate": "\uFFFD\uFFFD\uFFFD",
			"interrupted": "\uFFFDa", "lead": "\uFFFDa\uFFFD", "tooHigh": "\uFFFD\uFFFD\uFFFD\uFFFD"},
		"bom":        []any{"a", 2},
		"fatal":      "TypeError",
		"label":      "RangeError",
		"labels":     []any{"utf-8", "utf-8"},
		"stream":     "|😀|",
		"unfinished": "|",
		"views":      []any{"hi", "yz", "bc"},
		"encodeInto": map[string]any{"read": 3, "written": 5},
		"into":       []any{97, 0xF0, 0x9F, 0x98, 0x80},
		"badInput":   "TypeError",
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

func TestBase64(t *testing.T) {
	t.Parallel()
	got := decode[[]any](t, runWeb(t, `
		const out = [];
		const tryAtob = (s) => { try { return atob(s) } catch (e) { return e.name + "/" + (e instanceof DOMException) + "/" + e.code } };
		const tryBtoa = (s) => { try { return btoa(s) } catch (e) { return e.name } };
		for (const s of ["aGVsbG8=", "aGVsbG8", " aG Vs\tbG8=\n", "YQ==", "YQ", "YR==", "", "YQ=", "Y", "a===", "aGVsbG8*", "aGVs=bG8", "\u00e9"]) out.push(tryAtob(s));
		for (const s of ["hello", "\u00e9\u00ff\u0000", "", "\u20ac", "\uD83D\uDE00"]) out.push(tryBtoa(s));
		out.push(atob(btoa("\u00ff\u00fe")) === "\u00ff\u00fe");
		return out`, nil))
	want := []any{"hello", "hello", "hello", "a", "a", "a", "",
		"InvalidCharacterError/true/5", "InvalidCharacterError/true/5", "InvalidCharacterError/true/5", "InvalidCharacterError/true/5", "InvalidCharacterError/true/5", "InvalidCharacterError/true/5",
		"aGVsbG8=", "6f8A", "", "InvalidCharacterError", "InvalidCharacterError", true}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("got  %s\nwant %s", g, w)
	}
}

// Published vectors: FIPS 180-2's examples, RFC 4231 (HMAC-SHA-2) and RFC
// 2202 (HMAC-SHA-1) test cases 1 and 2.
var digestVectors = []struct {
	Alg   string `json:"alg"`
	Input string `json:"input"`
	Hex   string `json:"hex"`
}{
	{"SHA-1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	{"SHA-1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	{"SHA-1", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
	{"SHA-256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"SHA-256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"SHA-256", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"SHA-384", "", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"},
	{"SHA-384", "abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"},
	{"SHA-512", "", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
	{"SHA-512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
}

var hmacVectors = []struct {
	Hash   string `json:"hash"`
	KeyHex string `json:"keyHex"`
	Data   string `json:"data"`
	Hex    string `json:"hex"`
}{
	{"SHA-1", strings.Repeat("0b", 20), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
	{"SHA-1", "4a656665", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{"SHA-256", strings.Repeat("0b", 20), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"SHA-256", "4a656665", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{"SHA-384", strings.Repeat("0b", 20), "Hi There", "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
	{"SHA-512", strings.Repeat("0b", 20), "Hi There", "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
	{"SHA-512", "4a656665", "what do ya want for nothing?", "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
}

func TestCryptoVectors(t *testing.T) {
	t.Parallel()
	got := decode[map[string][]any](t, runWeb(t, `
		const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
		const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
		const enc = new TextEncoder();
		const digests = [];
		for (const v of event.digests) digests.push(hex(await crypto.subtle.digest(v.alg, enc.encode(v.input))));
		digests.push(hex(await crypto.subtle.digest({name: "sha-256"}, new Uint8Array(1000000).fill(0x61))));
		const macs = [];
		for (const v of event.hmacs) {
			const key = await crypto.subtle.importKey("raw", unhex(v.keyHex), {name: "HMAC", hash: {name: v.hash}}, true, ["sign", "verify"]);
			const sig = await crypto.subtle.sign({name: "HMAC"}, key, enc.encode(v.data));
			const bad = new Uint8Array(sig).slice(); bad[0] ^= 1;
			macs.push([hex(sig), await crypto.subtle.verify("HMAC", key, sig, enc.encode(v.data)),
				await crypto.subtle.verify("HMAC", key, bad, enc.encode(v.data)), hex(await crypto.subtle.exportKey("raw", key))]);
		}
		return {digests, macs}`, map[string]any{"digests": digestVectors, "hmacs": hmacVectors}))
	for i, v := range digestVectors {
		if got["digests"][i] != v.Hex {
			t.Errorf("%s(%q) = %v, want %s", v.Alg, v.Input, got["digests"][i], v.Hex)
		}
	}
	// FIPS 180-2: one million "a".
	if million := got["digests"][len(digestVectors)]; million != "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" {
		t.Errorf("SHA-256 of a million a = %v", million)
	}
	for i, v := range hmacVectors {
		m, _ := got["macs"][i].([]any)
		if len(m) != 4 || m[0] != v.Hex || m[1] != true || m[2] != false || m[3] != v.KeyHex {
			t.Errorf("HMAC-%s key %s: got %v, want %s", v.Hash, v.KeyHex, m, v.Hex)
		}
	}
}

func TestCryptoErrors(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const out = {};
		const name = async (p) => { try { await p; return "resolved" } catch (e) { return e.name } };
		out.unknownHash = await name(crypto.subtle.digest("MD5", new Uint8Array(1)));
		out.notBytes = await name(crypto.subtle.digest("SHA-256", "text"));
		out.notHMAC = await name(crypto.subtle.importKey("raw", new Uint8Array(8), {name: "AES-GCM"}, false, ["encrypt"]));
		out.noUsage = await name(crypto.subtle.importKey("raw", new Uint8Array(8), {name: "HMAC", hash: "SHA-256"}, false, []));
		const key = await crypto.subtle.importKey("raw", new Uint8Array(8).fill(1), {name: "HMAC", hash: "SHA-256"}, false, ["verify"]);
		out.wrongUsage = await name(crypto.subtle.sign("HMAC", key, new Uint8Array(1)));
		out.notExtractable = await name(crypto.subtle.exportKey("raw", key));
		out.key = [key.type, key.extractable, key.algorithm.name, key.algorithm.hash.name, key.algorithm.length, key.usages, Object.prototype.toString.call(key)];
		const jwk = await crypto.subtle.importKey("jwk", {kty: "oct", k: "AQEBAQEBAQE"}, {name: "HMAC", hash: "SHA-256"}, true, ["sign"]);
		out.jwk = (await crypto.subtle.exportKey("jwk", jwk)).k;
		try { crypto.getRandomValues(new Uint8Array(65537)) } catch (e) { out.quota = [e.name, e.code] }
		try { crypto.getRandomValues(new Float64Array(2)) } catch (e) { out.float = e.name }
		out.max = crypto.getRandomValues(new Uint32Array(16384)).length;
		const a = crypto.getRandomValues(new Uint8Array(32)), b = crypto.getRandomValues(new Uint8Array(32));
		out.random = a.some((x, i) => x !== b[i]);
		const ids = new Set(); for (let i = 0; i < 100; i++) ids.add(crypto.randomUUID());
		out.uuids = [ids.size, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test([...ids][0])];
		return out`, nil))
	want := map[string]any{
		"unknownHash": "NotSupportedError", "notBytes": "TypeError", "notHMAC": "NotSupportedError", "noUsage": "SyntaxError",
		"wrongUsage": "InvalidAccessError", "notExtractable": "InvalidAccessError",
		"key":   []any{"secret", false, "HMAC", "SHA-256", 64, []any{"verify"}, "[object CryptoKey]"},
		"jwk":   "AQEBAQEBAQE",
		"quota": []any{"QuotaExceededError", 22}, "float": "TypeMismatchError", "max": 16384, "random": true,
		"uuids": []any{100, true},
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

func TestTimers(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const order = [];
		setTimeout(() => order.push("30"), 30);
		setTimeout((a, b) => order.push("10:" + a + b), 10, "x", "y");
		setTimeout(() => order.push("0a"), 0);
		setTimeout(() => order.push("0b"));
		const cancelled = setTimeout(() => order.push("cancelled"), 5);
		clearTimeout(cancelled);
		clearTimeout(99999);
		queueMicrotask(() => order.push("micro"));
		Promise.resolve().then(() => order.push("then"));
		order.push("sync");
		let ticks = 0;
		const iv = setInterval(() => { if (++ticks === 3) clearInterval(iv) }, 2);
		const t0 = Date.now();
		await new Promise((resolve) => setTimeout(resolve, 40));
		const waited = Date.now() - t0;
		let thrown;
		try { setTimeout("order.push(1)", 1) } catch (e) { thrown = e.name }
		return {order, ticks, waited: waited >= 39, ids: typeof setTimeout(() => {}, 1), thrown}`, nil))
	want := map[string]any{"order": []any{"sync", "micro", "then", "0a", "0b", "10:xy", "30"}, "ticks": 3, "waited": true, "ids": "number", "thrown": "TypeError"}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

// TestTimersNeverOutliveTheInvocation: timers pending when the hook's
// promise settles are dropped, even while unawaited host calls drain, and
// one set at the end of an invocation never fires in the next on the same
// worker.
func TestTimersNeverOutliveTheInvocation(t *testing.T) {
	t.Parallel()
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	host := newMemHost()
	first := hookInvocation(`
		setTimeout(() => ctx.kv.set("late", 1), 1);
		setInterval(() => ctx.kv.set("interval", 1), 1);
		ctx.kv.get("slow");  // not awaited: the invocation drains it
		return "done"`)
	second := hookInvocation(`await new Promise((r) => setTimeout(r, 30)); return ctx.kv.get("late")`)
	for range 3 {
		if res, err := p.Invoke(context.Background(), first, host); err != nil || string(res.Value) != `"done"` {
			t.Fatalf("first: %v %s", err, res.Value)
		}
		res, err := p.Invoke(context.Background(), second, host)
		if err != nil || string(res.Value) != "null" {
			t.Fatalf("second: %v %s", err, res.Value)
		}
	}
	for _, c := range host.callLog() {
		if strings.HasPrefix(c, "kv.set") {
			t.Fatalf("a dropped timer ran: %v", host.callLog())
		}
	}
}

func TestTimerErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		body  string
		wall  time.Duration
		check func(t *testing.T, err error, took time.Duration)
	}{
		{"callback throws", `await new Promise((r) => { setTimeout(() => { throw new Error("boom in a timer") }, 1); setTimeout(r, 20) })`, 0,
			func(t *testing.T, err error, _ time.Duration) {
				var se *ScriptError
				if !errors.As(err, &se) || !strings.Contains(se.Message, "boom in a timer") {
					t.Fatalf("err = %v", err)
				}
			}},
		{"microtask throws", `queueMicrotask(() => { throw new TypeError("boom in a microtask") }); await new Promise((r) => setTimeout(r, 5))`, 0,
			func(t *testing.T, err error, _ time.Duration) {
				var se *ScriptError
				if !errors.As(err, &se) || !strings.Contains(se.Message, "boom in a microtask") {
					t.Fatalf("err = %v", err)
				}
			}},
		{"timer past the wall limit fails at once", `await new Promise((r) => setTimeout(r, 60000))`, 2 * time.Second,
			func(t *testing.T, err error, took time.Duration) {
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != LimitWall || took > time.Second {
					t.Fatalf("err = %v after %s", err, took)
				}
			}},
		{"interval keeps the loop busy until the wall limit", `await new Promise(() => setInterval(() => {}, 5))`, 300 * time.Millisecond,
			func(t *testing.T, err error, _ time.Duration) {
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != LimitWall {
					t.Fatalf("err = %v", err)
				}
			}},
		{"setTimeout bomb", `let n = 0; try { for (;;) { setTimeout(() => {}, 1e6); n++ } } catch (e) { return [n, e.name] }`, 0,
			func(t *testing.T, err error, _ time.Duration) {
				if err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := hookInvocation(tc.body)
			inv.Limits.Wall = tc.wall
			start := time.Now()
			res, err := testPool(t).Invoke(context.Background(), inv, newMemHost())
			tc.check(t, err, time.Since(start))
			if tc.name == "setTimeout bomb" && string(res.Value) != `[10000,"RangeError"]` {
				t.Fatalf("bomb: %s", res.Value)
			}
		})
	}
}

func TestAbortSignals(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const out = {};
		const c = new AbortController();
		const seen = [];
		c.signal.onabort = (e) => seen.push("on:" + e.type);
		c.signal.addEventListener("abort", (e) => seen.push("listener:" + (e.target === c.signal)));
		c.signal.addEventListener("abort", () => seen.push("once"), {once: true});
		out.before = c.signal.aborted;
		c.abort(); c.abort("again");
		out.after = [c.signal.aborted, c.signal.reason.name, c.signal.reason instanceof DOMException, seen];
		try { c.signal.throwIfAborted() } catch (e) { out.thrown = e.name }
		out.custom = AbortSignal.abort("why").reason;
		const t = AbortSignal.timeout(5);
		await new Promise((r) => t.addEventListener("abort", r));
		out.timeout = [t.aborted, t.reason.name, t.reason.code];
		const a = new AbortController(), any = AbortSignal.any([a.signal, AbortSignal.timeout(10000)]);
		a.abort(new Error("first"));
		out.any = [any.aborted, any.reason.message];
		try { new AbortSignal() } catch (e) { out.ctor = e.name }
		out.tag = Object.prototype.toString.call(c.signal);
		out.dom = [new DOMException("m", "SyntaxError").code, new DOMException().name, DOMException.ABORT_ERR, String(new DOMException("msg", "AbortError"))];
		return out`, nil))
	want := map[string]any{
		"before": false, "after": []any{true, "AbortError", true, []any{"on:abort", "listener:true", "once"}},
		"thrown": "AbortError", "custom": "why", "timeout": []any{true, "TimeoutError", 23}, "any": []any{true, "first"},
		"ctor": "TypeError", "tag": "[object AbortSignal]", "dom": []any{12, "Error", 20, "AbortError: msg"},
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

func TestStructuredClone(t *testing.T) {
	t.Parallel()
	got := decode[map[string]any](t, runWeb(t, `
		const out = {};
		const a = {n: 1, list: [1, "two", null, undefined], date: new Date(86400000), re: /x+/gi, map: new Map([["k", {v: 1}]]), set: new Set([1, 2]),
			bytes: new Uint8Array([1, 2, 3]), err: new RangeError("bad"), big: 10n, boxed: new String("s")};
		a.self = a; a.shared = [a.list, a.list];
		const b = structuredClone(a);
		out.cycle = [b.self === b, b !== a, b.shared[0] === b.shared[1], b.list !== a.list];
		out.types = [b.date instanceof Date, b.date.getTime(), b.re.source + "/" + b.re.flags, b.map.get("k").v, b.set.has(2), b.bytes instanceof Uint8Array, Array.from(b.bytes), b.err instanceof RangeError, b.err.message, typeof b.big, String(b.boxed), b.list.length];
		b.bytes[0] = 9; out.independent = a.bytes[0];
		class P { constructor() { this.x = 1 } }
		out.classInstance = [structuredClone(new P()) instanceof P, structuredClone(new P()).x];
		for (const [k, v] of [["fn", () => 1], ["symbol", Symbol("s")], ["url", new URL("https://x.test")], ["promise", Promise.resolve()], ["nested fn", {f() {}}]]) {
			try { structuredClone(v); out[k] = "cloned" } catch (e) { out[k] = e.name }
		}
		let deep = {}; const root = deep; for (let i = 0; i < 3000; i++) { deep.d = {}; deep = deep.d }
		try { structuredClone(root) } catch (e) { out.deep = e.name }
		return out`, nil))
	want := map[string]any{
		"cycle":         []any{true, true, true, true},
		"types":         []any{true, 86400000, "x+/gi", 1, true, true, []any{1, 2, 3}, true, "bad", "bigint", "s", 4},
		"independent":   1,
		"classInstance": []any{false, 1},
		"fn":            "DataCloneError", "symbol": "DataCloneError", "url": "DataCloneError", "promise": "DataCloneError", "nested fn": "DataCloneError",
		"deep": "DataCloneError",
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
}

// TestHostileWebGlobals: what an attacker does with the globals stays
// within the invocation's limits, and the worker keeps serving.
func TestHostileWebGlobals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		body   string
		limits Limits
		want   []string // acceptable limits
	}{
		// Hashing is Go code the interrupt cannot stop: it checks the
		// watchdog between chunks, so the worker stops cleanly (the test
		// checks it was not killed).
		{"digest of a huge buffer", `await crypto.subtle.digest("SHA-512", new Uint8Array(48 << 20))`, Limits{CPU: 40 * time.Millisecond}, []string{LimitCPU}},
		{"HMAC of a huge buffer", `const k = await crypto.subtle.importKey("raw", new Uint8Array(16), {name: "HMAC", hash: "SHA-512"}, false, ["sign"]);
			await crypto.subtle.sign("HMAC", k, new Uint8Array(48 << 20))`, Limits{CPU: 40 * time.Millisecond}, []string{LimitCPU}},
		{"structuredClone of a huge array", `structuredClone(Array.from({length: 3e6}, (_, i) => ({i})))`, Limits{CPU: testCPU}, []string{LimitCPU, LimitMemory}},
		{"encoding a string past the memory limit", `const s = "\u20ac".repeat(1 << 22); for (;;) new TextEncoder().encode(s)`, Limits{CPU: 5 * testCPU, MemoryBytes: 8 << 20}, []string{LimitMemory, LimitCPU}},
		{"random values in a loop", `for (;;) crypto.getRandomValues(new Uint8Array(65536))`, Limits{CPU: testCPU}, []string{LimitCPU, LimitMemory}},
		{"a timer that reschedules itself", `await new Promise(() => { const f = () => setTimeout(f, 0); f() })`, Limits{CPU: testCPU}, []string{LimitWall, LimitCPU}},
		{"a URL bomb", `for (;;) new URL("https://" + "a.".repeat(1000) + "example.com/" + "x/".repeat(1000))`, Limits{CPU: testCPU}, []string{LimitCPU}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: 1, Executable: os.Args[0]})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			inv := hookInvocation(tc.body)
			inv.Limits = tc.limits
			// A wall limit far above the CPU one: on a loaded machine the
			// isolate's thread gets a fraction of a core, and the attack
			// must be stopped by the limit it attacks.
			inv.Limits.Wall = max(3*time.Second, 20*tc.limits.CPU)
			_, err = p.Invoke(context.Background(), inv, newMemHost())
			var le *LimitError
			if !errors.As(err, &le) || !slices.Contains(tc.want, le.Limit) {
				t.Fatalf("err = %v, want one of the limits %v", err, tc.want)
			}
			if strings.Contains(tc.name, "huge buffer") && p.Stats().Killed != 0 {
				t.Fatalf("the worker was killed: %+v; the hash should have stopped at the limit", p.Stats())
			}
			if res, err := p.Invoke(context.Background(), hookInvocation(`return new URL("/ok", "https://x.test").href`), nil); err != nil || string(res.Value) != `"https://x.test/ok"` {
				t.Fatalf("the pool did not recover: %v", err)
			}
		})
	}
}

func TestCtxSiteAndURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://example.com", "https://example.com/blog/"} {
		inv := hookInvocation(`
			const out = {site: ctx.site, frozen: Object.isFrozen(ctx.site), ok: [], bad: {}};
			for (const p of ["/", "/posts/hello world?x=1#top", "/a/../b", "/%2F%2Fevil.test", "/@evil.test", "/:80"]) out.ok.push(ctx.url(p));
			for (const p of ["posts", "", "//evil.test/x", "/\\evil.test", "\\\\evil.test", "/\t/evil.test", "/\n/evil.test", "https://evil.test/", "javascript:alert(1)", " /x", 42, null, {toString() { return "/x" }}]) {
				try { ctx.url(p); out.bad[String(p)] = "accepted" } catch (e) { out.bad[String(p)] = e.name }
			}
			return out`)
		inv.Site = SiteInfo{Name: "My site", URL: base, Locale: "de-CH", Timezone: "Europe/Zurich"}
		res, err := invokeBoth(t, inv, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := decode[struct {
			Site   map[string]string
			Frozen bool
			OK     []string
			Bad    map[string]string
		}](t, res.Value)
		root := strings.TrimRight(base, "/")
		if got.Site["name"] != "My site" || got.Site["url"] != root || got.Site["locale"] != "de-CH" || got.Site["timezone"] != "Europe/Zurich" || !got.Frozen {
			t.Errorf("ctx.site = %v (frozen %v)", got.Site, got.Frozen)
		}
		want := []string{root + "/", root + "/posts/hello%20world?x=1#top", root + "/b", root + "/%2F%2Fevil.test", root + "/@evil.test", root + "/:80"}
		if !slices.Equal(got.OK, want) {
			t.Errorf("base %s: ctx.url =\n%q\nwant\n%q", base, got.OK, want)
		}
		for p, outcome := range got.Bad {
			if outcome != "TypeError" {
				t.Errorf("ctx.url(%q) = %s, want a TypeError", p, outcome)
			}
		}
		if len(got.Bad) != 13 {
			t.Errorf("%d rejections, want 13: %v", len(got.Bad), got.Bad)
		}
	}
}

// slowFetchHost answers http.fetch only when its context ends, and records
// that it was cancelled; other calls get null.
type slowFetchHost struct {
	mu        sync.Mutex
	cancelled int
	args      []string
}

func (h *slowFetchHost) Call(ctx context.Context, _, method string, args json.RawMessage) (json.RawMessage, error) {
	if method != "http.fetch" {
		return json.RawMessage("null"), nil
	}
	h.mu.Lock()
	h.args = append(h.args, string(args))
	h.mu.Unlock()
	if strings.Contains(string(args), "/fast") {
		return json.RawMessage(`{"status":200,"statusText":"OK","headers":{"content-type":"text/plain","x-multi":"a, b"},"bodyBase64":"/wBh","url":"https://x.test/fast"}`), nil
	}
	select {
	case <-ctx.Done():
		h.mu.Lock()
		h.cancelled++
		h.mu.Unlock()
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return json.RawMessage(`{"status":200}`), nil
	}
}

// TestFetchSignalsAndShapes: init.signal aborts the host's request (its
// context is cancelled) and rejects with the signal's reason; headers go
// out as pairs whatever their form; the response has Headers and the body
// as text, JSON or bytes.
func TestFetchSignalsAndShapes(t *testing.T) {
	t.Parallel()
	host := &slowFetchHost{}
	inv := hookInvocation(`
		const out = {};
		const name = async (p) => { try { await p; return "resolved" } catch (e) { return e.name + ":" + (e instanceof DOMException) } };
		out.timeout = await name(ctx.http.fetch("https://x.test/slow", {signal: AbortSignal.timeout(20)}));
		const c = new AbortController();
		const p = ctx.http.fetch("https://x.test/slow", {signal: c.signal});
		setTimeout(() => c.abort(), 10);
		out.abort = await name(p);
		out.already = await name(ctx.http.fetch("https://x.test/slow", {signal: AbortSignal.abort()}));
		try { ctx.http.fetch("https://x.test/fast", {signal: {aborted: true}}) } catch (e) { out.badSignal = e.name }
		const h = new Headers(); h.append("X-A", "1"); h.append("x-a", "2");
		for (const headers of [{"X-Obj": "1"}, [["X-Pair", "1"], ["x-pair", "2"]], h]) await ctx.http.fetch(new URL("https://x.test/fast"), {method: "POST", headers, body: new URLSearchParams({q: "a b"})});
		await ctx.http.fetch("https://x.test/fast", {method: "PUT", body: new Uint8Array([1, 2, 3])});
		const res = await ctx.http.fetch("https://x.test/fast");
		out.res = [res.ok, res.status, res.headers.get("X-MULTI"), res.headers.has("content-type"), [...res.headers.keys()], res.headers instanceof Headers];
		out.text = await res.text();
		out.bytes = Array.from(new Uint8Array(await res.arrayBuffer()));
		try { res.headers.set("x", "y") } catch (e) { out.immutable = e.name }
		return out`)
	inv.Grants.Capabilities = []manifest.Capability{manifest.NetworkRequest}
	res, err := invokeBoth(t, inv, host)
	if err != nil {
		t.Fatal(err)
	}
	got := decode[map[string]any](t, res.Value)
	want := map[string]any{
		"timeout": "TimeoutError:true", "abort": "AbortError:true", "already": "AbortError:true", "badSignal": "TypeError",
		"res":  []any{true, 200, "a, b", true, []any{"content-type", "x-multi"}, true},
		"text": "\uFFFD\u0000a", "bytes": []any{255, 0, 97}, "immutable": "TypeError",
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("%s = %s, want %s", k, g, wj)
		}
	}
	// Both runs (worker and in-process) cancelled both slow requests; the
	// already-aborted one was never sent.
	deadline := time.Now().Add(5 * time.Second)
	for {
		host.mu.Lock()
		n, args := host.cancelled, slices.Clone(host.args)
		host.mu.Unlock()
		if n == 4 || time.Now().After(deadline) {
			if n != 4 {
				t.Errorf("the host saw %d cancellations, want 4", n)
			}
			slow := 0
			for _, a := range args {
				if strings.Contains(a, "/slow") {
					slow++
				}
			}
			if slow != 4 {
				t.Errorf("%d slow requests sent, want 4 (an aborted signal sends nothing)", slow)
			}
			wantArgs := []string{
				`["https://x.test/fast",{"method":"POST","body":"q=a+b","headers":[["x-obj","1"],["content-type","application/x-www-form-urlencoded;charset=UTF-8"]]}]`,
				`["https://x.test/fast",{"method":"POST","body":"q=a+b","headers":[["x-pair","1"],["x-pair","2"],["content-type","application/x-www-form-urlencoded;charset=UTF-8"]]}]`,
				`["https://x.test/fast",{"method":"POST","body":"q=a+b","headers":[["x-a","1"],["x-a","2"],["content-type","application/x-www-form-urlencoded;charset=UTF-8"]]}]`,
				`["https://x.test/fast",{"method":"PUT","bodyBase64":"AQID"}]`,
			}
			for _, w := range wantArgs {
				if !slices.Contains(args, w) {
					t.Errorf("no call %s in %q", w, args)
				}
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
