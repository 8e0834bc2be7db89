// The test API of `pilcrow plugin test` (pilcrow-test.d.ts types it). It
// runs before a test file, in the same runtime; __harness is provided by Go:
// __harness.invoke(kind, name, eventJSON, optionsJSON) runs the plugin in the
// sandbox against the local site and returns the outcome as JSON.
(function () {
  "use strict";
  var g = globalThis;
  var harness = g.__harness;
  delete g.__harness;
  var tests = [];

  function test(name, fn) {
    if (typeof name !== "string" || typeof fn !== "function") {
      throw new TypeError("test(name, fn): give a name and a function");
    }
    tests.push({ name: name, fn: fn });
  }

  function show(v) {
    if (v === undefined) return "undefined";
    if (typeof v === "function") return "[Function]";
    if (typeof v === "string") return JSON.stringify(v);
    if (v instanceof Error) return String(v);
    try {
      var s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  }

  function equal(a, b) {
    if (a === b) return a !== 0 || 1 / a === 1 / b;
    if (a !== a && b !== b) return true; // NaN
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    var ka = Object.keys(a).filter(function (k) { return a[k] !== undefined; });
    var kb = Object.keys(b).filter(function (k) { return b[k] !== undefined; });
    if (ka.length !== kb.length) return false;
    for (var i = 0; i < ka.length; i++) {
      if (!Object.prototype.hasOwnProperty.call(b, ka[i]) || !equal(a[ka[i]], b[ka[i]])) return false;
    }
    return true;
  }

  function AssertionError(message) {
    var e = new Error(message);
    e.name = "AssertionError";
    return e;
  }

  function matchers(actual, negate) {
    function check(pass, what, expected) {
      if (pass === negate) {
        var msg = "expected " + show(actual) + (negate ? " not " : " ") + what;
        if (arguments.length > 2) msg += " " + show(expected);
        throw AssertionError(msg);
      }
    }
    var m = {
      toBe: function (expected) { check(Object.is(actual, expected), "to be", expected); },
      toEqual: function (expected) { check(equal(actual, expected), "to equal", expected); },
      toBeTruthy: function () { check(!!actual, "to be truthy"); },
      toBeFalsy: function () { check(!actual, "to be falsy"); },
      toBeNull: function () { check(actual === null, "to be null"); },
      toBeUndefined: function () { check(actual === undefined, "to be undefined"); },
      toBeDefined: function () { check(actual !== undefined, "to be defined"); },
      toBeGreaterThan: function (n) { check(actual > n, "to be greater than", n); },
      toBeLessThan: function (n) { check(actual < n, "to be less than", n); },
      toContain: function (item) {
        var has = typeof actual === "string" ? actual.indexOf(item) >= 0
          : Array.isArray(actual) ? actual.some(function (x) { return equal(x, item); }) : false;
        check(has, "to contain", item);
      },
      toMatch: function (re) {
        var ok = typeof actual === "string" && (typeof re === "string" ? actual.indexOf(re) >= 0 : re.test(actual));
        check(ok, "to match", typeof re === "string" ? re : String(re));
      },
      toHaveLength: function (n) { check(actual != null && actual.length === n, "to have length", n); },
      toThrow: function (expected) {
        if (typeof actual !== "function") throw AssertionError("expect(fn).toThrow(): give a function");
        var thrown = null;
        try { actual(); } catch (e) { thrown = e; }
        var pass = thrown !== null && messageMatches(thrown, expected);
        if (pass === negate) {
          throw AssertionError(thrown === null ? "expected the function to throw" :
            "expected the function " + (negate ? "not " : "") + "to throw " + (expected === undefined ? "" : show(expected) + ", ") + "it threw " + show(thrown));
        }
      },
    };
    return m;
  }

  function messageMatches(e, expected) {
    if (expected === undefined) return true;
    var msg = e && e.message !== undefined ? String(e.message) : String(e);
    if (expected instanceof RegExp) return expected.test(msg);
    return msg.indexOf(String(expected)) >= 0;
  }

  function expect(actual) {
    var m = matchers(actual, false);
    m.not = matchers(actual, true);
    m.rejects = {
      toThrow: function (expected) {
        return Promise.resolve(actual).then(function (v) {
          throw AssertionError("expected the promise to reject, it resolved to " + show(v));
        }, function (e) {
          if (!messageMatches(e, expected)) {
            throw AssertionError("expected the promise to reject with " + show(expected) + ", it rejected with " + show(e));
          }
        });
      },
    };
    m.resolves = {
      toEqual: function (expected) {
        return Promise.resolve(actual).then(function (v) { matchers(v, false).toEqual(expected); });
      },
      toBe: function (expected) {
        return Promise.resolve(actual).then(function (v) { matchers(v, false).toBe(expected); });
      },
    };
    return m;
  }

  // A failed invocation rejects with an Error carrying what the sandbox said.
  function invoke(kind, name, event, options) {
    return new Promise(function (resolve, reject) {
      var out = JSON.parse(harness.invoke(kind, name, event === undefined ? "" : JSON.stringify(event), JSON.stringify(options || {})));
      if (out.ok) {
        resolve(out.result);
        return;
      }
      var e = new Error(out.error.message);
      e.name = "PluginError";
      e.kind = out.error.kind;
      e.limit = out.error.limit;
      e.pluginStack = out.error.stack;
      e.logs = out.logs;
      reject(e);
    });
  }

  var plugin = {
    hook: function (name, event, options) { return invoke("hook", name, event, options); },
    route: function (name, request, options) {
      var req = request || {};
      var full = {
        method: req.method || "GET",
        path: req.path || name,
        query: req.query || {},
        headers: req.headers || {},
        body: req.body === undefined ? null : req.body,
      };
      return invoke("route", name, full, options);
    },
  };

  g.test = test;
  g.expect = expect;
  g.plugin = Object.freeze(plugin);
  g.__tests = tests;
})();
