// The JS subset of the integration suite: examples/js_suite.rs, built for
// wasm32-unknown-unknown and run through Asyncify by tools/js-test, which sets
// GOSCHED_JS_SUITE to the processed module. One fresh instance per test.
import { setFlagsFromString } from "node:v8";
// Node 20's V8 can crash when wasm memory grows during incremental marking
// (see cargo-gosched/assets/wasi-run.mjs); mark all at once.
setFlagsFromString("--no-incremental-marking");
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { compile, instantiate } from "../../js/gosched.mjs";

const path = process.env.GOSCHED_JS_SUITE;
assert.ok(path, "GOSCHED_JS_SUITE must name the processed js_suite module (run tools/js-test)");
const module = await compile(readFileSync(path));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `entry` on a new instance; the functions the Rust tests call. */
async function start(entry, extra = {}) {
  const printed = [];
  let instance;
  const functions = {
    delay: (ms, value) => sleep(ms).then(() => value),
    failLater: (ms, message) => sleep(ms).then(() => Promise.reject(new Error(message))),
    echo: (v) => v,
    // Delivers 0..n-1 to callback `name`, one per timer tick.
    sendEvents: (name, n) => {
      for (let i = 0; i < n; i++) setTimeout(() => instance.callback(name, i), 2 * i);
    },
    // Delivers 0..n-1 synchronously (from inside a goroutine's call);
    // returns how many were delivered.
    sendNow: (name, n) => {
      let delivered = 0;
      for (let i = 0; i < n; i++) if (instance.callback(name, i)) delivered++;
      return delivered;
    },
    sendLater: (name, ms, value) => setTimeout(() => instance.callback(name, value), ms),
    ...extra,
  };
  instance = await instantiate(module, {
    functions,
    print: (stream, text) => printed.push([stream, text]),
  });
  return { instance, printed, done: instance.start(entry) };
}

async function run(entry) {
  return (await start(entry)).done;
}

test("spawn and join", async () => {
  assert.equal(await run("test_spawn_join"), 385);
});

test("channels: rendezvous, pipeline, close", async () => {
  assert.equal(await run("test_channels"), "1000 [1, 4, 9, 16, 25] buffered");
});

test("select with timeouts", async () => {
  assert.equal(await run("test_select_timeouts"), "timeout, value 7, recv_timeout");
});

test("Timer, Ticker, after_func and the wall clock", async () => {
  const before = Date.now();
  const wall = Number(await run("test_timers_and_wall_clock"));
  assert.ok(wall >= before && wall <= Date.now(), `${before} <= ${wall} <= now`);
});

test("sleeps wake in deadline order", async () => {
  assert.equal(await run("test_sleep_ordering"), "10,20,30,40,50");
});

test("awaiting a promise that resolves parks only that goroutine", async () => {
  assert.equal(await run("test_promise_resolves"), "resolved value");
});

test("a rejected promise and a JS exception come back as errors", async () => {
  assert.equal(await run("test_promise_rejects"), "Error: no luck");
});

test("values keep their types both ways; objects are handles", async () => {
  const map = await run("test_values");
  assert.ok(map instanceof Map);
  assert.equal(map.get("k"), 9);
  assert.equal(map.tag, "x");
});

test("a channel fed from JS callbacks", async () => {
  // 5 events from timers; then 3 synchronous sends into a channel of
  // capacity 1: one delivered, two dropped; none after the receiver is gone.
  assert.equal(await run("test_callback_channel"), "[0, 1, 2, 3, 4] Number(1.0) Number(0.0)");
});

test("goroutines waiting only for a JS event wait, and the event loop runs", async () => {
  const { done } = await start("test_idle_until_js_event");
  let jsRan = false;
  setTimeout(() => (jsRan = true), 5);
  assert.equal(await done, "woken");
  assert.ok(jsRan, "a JS timer ran while the goroutine waited");
});

test("callback(): unknown names and wrong types", async () => {
  const { instance, done } = await start("test_idle_until_js_event");
  assert.equal(instance.callback("no such callback", 1), false);
  await sleep(1); // main has registered "wake" by now
  assert.throws(() => instance.callback("wake", 42), /expected a string/);
  assert.equal(await done, "woken");
  assert.equal(instance.callback("wake", "too late"), false);
});

test("deadlock: the runtime's report rejects the promise", async () => {
  await assert.rejects(run("test_deadlock"), (e) => {
    assert.match(e.message, /^all goroutines are asleep - deadlock!/);
    assert.match(e.message, /goroutine 1 .*chan receive/);
    return true;
  });
});

test("a panic rejects with its message", async () => {
  await assert.rejects(run("test_panic"), (e) => {
    assert.equal(e.message, "boom in a goroutine");
    assert.match(e.location, /js_suite\.rs/);
    assert.ok(e.cause instanceof WebAssembly.RuntimeError);
    return true;
  });
});

test("a stack overflow ends the instance with a trap", async () => {
  const { instance, done } = await start("test_stack_overflow");
  await assert.rejects(done, (e) => e instanceof WebAssembly.RuntimeError);
  assert.equal(instance.callback("anything", 1), false, "a dead instance takes no events");
});

test("10k goroutines sleep at once", async () => {
  assert.equal(await run("test_many_sleepers"), (10000 * 9999) / 2);
});

test("log and error go to the print option", async () => {
  const { printed, done } = await start("test_log");
  await done;
  assert.deepEqual(printed, [
    [1, "to the log"],
    [2, "to the error log: 42"],
  ]);
});
