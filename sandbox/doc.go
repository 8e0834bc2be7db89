// Package sandbox runs untrusted plugin JavaScript.
//
// Every hook call or route request gets a fresh goja runtime holding only the
// bindings its grants allow (SPEC §5, §6). Runtimes live in supervised worker
// processes — the same binary re-executed in a hidden mode (see
// MaybeRunWorker) — because goja cannot bound memory and its builtins ignore
// Interrupt: a single `"x".repeat(2**40)` kills a Go process, and a
// backtracking regex runs for seconds past any deadline.
//
// # Layers
//
//   - The isolate (isolate.go, bindings.go, harden.go): a fresh runtime with
//     eval, Function and the async/generator function constructors removed,
//     a small call-stack cap, and a ctx built from the grants. Values cross
//     the boundary as JSON (jsonvalue.go out, jsondecode.go in) with size and
//     depth caps; reading a returned or thrown value runs under the limits.
//   - The watchdog (guard.go): interrupts the runtime at the CPU, wall and
//     memory limits; if a builtin ignores the interrupt, the worker reports
//     the limit and exits. The isolate runs on a locked OS thread and the
//     CPU limit is that thread's CPU clock (cpuclock_linux.go).
//   - The worker process (worker.go, confine_linux.go, seccomp_linux.go,
//     memcap_linux.go): empty environment, no inherited files, own process
//     group, hard rlimits and an address-space cap lowered per invocation,
//     no_new_privs, no privilege (a root server's workers run as nobody
//     with no capabilities), a seccomp allowlist (no exec, fork, open,
//     sockets, other processes, namespaces, mounts), killed with the
//     server.
//   - The parent (pool.go, process.go, host.go): keeps all capability I/O.
//     Every host call a worker forwards is checked against the invocation's
//     grants (and counted: subrequests, host calls) before the Host sees
//     it; the parent also kills a worker that overruns its wall time or
//     burns CPU past its limit, and replaces dead workers with backoff. A
//     worker that dies for another reason is a worker fault: the invocation
//     runs once more on a fresh worker, then fails with ErrWorkerFault.
//
// # Worker protocol
//
// Length-prefixed binary frames over the worker's stdin/stdout
// (protocol.go, wire.go), each written with one system call: the parent
// sends a task; the worker asks for the script once per hash and caches
// the compiled program; host calls and their answers travel while the hook
// awaits them; the worker ends with a done frame (value, logs, usage,
// error) or, when it must die, a fatal frame naming the limit. A second
// pipe (the worker's descriptor 3) carries the numbers of invocations whose
// caller gave up: the worker interrupts them and lives on. What one round
// trip costs, and why the pipes are read and written with raw system calls
// and the watchdogs are one timer each: docs/performance.md (issue 20).
package sandbox
