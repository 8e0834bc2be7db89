// Package egress is the SSRF-safe outbound HTTP client behind a plugin's
// ctx.http.fetch(url, init).
//
// Every request is checked in layers, and every layer runs again on each
// redirect hop:
//
//  1. the URL: only http and https, no userinfo, a valid port, and a host that
//     is either a DNS name or a canonical IP literal. Hosts that look numeric
//     but are not canonical dotted-decimal IPv4 (2130706433, 0177.0.0.1,
//     0x7f.1, 127.1, 1.2.3.04) are refused outright rather than normalised,
//     because different parsers (browsers, libc inet_aton, Go) disagree on
//     them and the disagreement is what SSRF filters get bypassed with;
//  2. the host policy the caller passes (the plugin's granted allowedHosts);
//  3. at dial time, the IP actually dialled: the host is resolved once through
//     the injectable Resolver, every candidate address is checked against the
//     IANA special-purpose registries, and the checked address itself is
//     dialled, so DNS rebinding between a check and a connect is impossible.
//     A net.Dialer Control hook re-checks the socket address as a last line.
//
// Environment proxies are ignored, redirects are followed by hand (at most
// five, loops refused), credentials and injected secrets are dropped once a
// redirect leaves the original origin, and bodies, headers and time are capped.
package egress
