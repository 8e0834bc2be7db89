//go:build race

package sandbox

// raceBuild: the race detector needs terabytes of address space for its
// shadow memory, so workers of race builds (tests only) run without
// RLIMIT_AS and RLIMIT_DATA.
const raceBuild = true
