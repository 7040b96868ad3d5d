// gosched JS loader: runs a gosched wasm module (wasm32-unknown-unknown,
// processed by Binaryen's Asyncify pass) in Node >= 20 or a browser.
//
//   import { run, instantiate } from "./gosched.mjs";
//   const value = await run(wasmBytes, { functions: { delay } });
//
// The module runs its goroutines until they all wait, then returns here; this
// loader re-enters it when a timer is due, a promise settles or a callback
// delivers a value (the event loop of Go's js/wasm port). No Node-only APIs.
// The protocol with src/js and src/js/ffi.rs of the gosched crate is
// described in docs/js.md.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Value tags, as in src/js/ffi.rs (`Raw`: u32 tag, u32 len, f64 num).
const UNDEFINED = 0, NULL = 1, BOOL = 2, NUMBER = 3, STRING = 4, OBJECT = 5, ERROR = 6;
// gosched_js_poll's answers that are not deadlines.
const DONE = -1, WAITING = -2;
// gosched_js_callback's answers.
const SENT = 0, BAD_VALUE = 3;

/** Compiles `source`: a WebAssembly.Module, bytes, a Response (or a promise
 * of one), or a URL to fetch. */
export async function compile(source) {
  source = await source;
  if (source instanceof WebAssembly.Module) return source;
  if (typeof source === "string" || source instanceof URL) source = await fetch(source);
  if (typeof Response !== "undefined" && source instanceof Response) {
    source = await source.arrayBuffer();
  }
  return WebAssembly.compile(source);
}

/** Instantiates the module; `instance.start()` then runs its program.
 *
 * options.functions  object whose functions (and values) Rust reaches with
 *                    gosched::js::call / get before globalThis
 * options.print      (stream, text) => void for gosched::js::log (stream 1)
 *                    and gosched::js::error (2); default console.log/.error
 * options.entry      the export that starts the program (default "gosched_main") */
export async function instantiate(source, options = {}) {
  const instance = new Instance(options);
  const module = await compile(source);
  checkProcessed(module);
  instance.attach(await WebAssembly.instantiate(module, instance.imports));
  return instance;
}

/** Throws what to run when `module` skipped gosched's Asyncify step (V8 itself
 * would only say `module="gosched" error: module is not an object or
 * function`). The step resolves the `gosched` marker import and Binaryen's
 * pass replaces the `asyncify` imports. */
export function checkProcessed(module) {
  const from = new Set(WebAssembly.Module.imports(module).map((i) => i.module));
  if (from.has("asyncify")) {
    throw new Error(
      "gosched: this module has not been through Binaryen's Asyncify step, which goroutines " +
        "need: build it with `cargo gosched build --target wasm32-unknown-unknown`, or run " +
        "`cargo gosched asyncify IN.wasm OUT.wasm` on the module cargo built",
    );
  }
  if (from.has("gosched")) {
    throw new Error(
      "gosched: this module went through wasm-opt --asyncify without --set-globals " +
        "gosched_asyncify_marker=1: run `cargo gosched asyncify IN.wasm OUT.wasm` on the " +
        "module cargo built instead (`cargo gosched asyncify --print-command` shows the flags)",
    );
  }
}

/** Instantiates the module and runs its program: resolves with the main
 * goroutine's value, rejects with its panic (a deadlock is one). */
export async function run(source, options = {}) {
  return (await instantiate(source, options)).start();
}

/** One module instance and its program. */
export class Instance {
  #options;
  #ex = null; // the wasm exports
  #objects = [undefined]; // handle -> JS value; handle 0 is never used
  #free = [];
  #state = "new"; // new, running, done, failed
  #polling = false;
  #again = false;
  #scheduled = false;
  #timer = null;
  #settle = null; // [resolve, reject] of start()'s promise
  #panic = null; // [message, location] the module reported before it trapped

  constructor(options = {}) {
    this.#options = options;
    this.imports = { gosched_js: this.#makeImports() };
  }

  /** Binds the instantiated module (`instantiate` does it): a
   * WebAssembly.Instance, the result of WebAssembly.instantiate, or the
   * exports object itself (what wasm-bindgen's `init()` returns). */
  attach(wasm) {
    const instance = wasm.instance ?? wasm;
    this.#ex = instance instanceof WebAssembly.Instance ? instance.exports : instance;
  }

  /** The raw exports of the module. */
  get exports() {
    return this.#ex;
  }

  /** Calls the entry export and runs the program; resolves with the main
   * goroutine's value, rejects with an Error carrying its panic message. */
  start(entry = this.#options.entry ?? "gosched_main") {
    if (this.#state !== "new") throw new Error("gosched: start() called twice");
    if (typeof this.#ex[entry] !== "function") {
      throw new Error(`gosched: the module exports no function "${entry}"`);
    }
    this.#state = "running";
    const done = new Promise((resolve, reject) => (this.#settle = [resolve, reject]));
    try {
      this.#ex[entry]();
    } catch (e) {
      this.#fail(e);
      return done;
    }
    this.#pump();
    return done;
  }

  /** Sends `value` to the Rust channel registered as `name`
   * (gosched::js::callback_channel), without blocking. Returns false if it
   * was not delivered: the channel is full, no such callback is registered
   * (yet, or any more), or the program has ended. Throws a TypeError if the
   * value does not convert to the channel's type. */
  callback(name, value) {
    if (this.#state !== "running") return false;
    const nameBytes = encoder.encode(name);
    const [tag, num, bytes] = this.#classify(value);
    const len = bytes ? bytes.length : 0;
    this.#writeExchange(nameBytes, bytes);
    let status;
    try {
      status = this.#ex.gosched_js_callback(nameBytes.length, tag, bytes ? nameBytes.length : num, len);
    } catch (e) {
      this.#fail(e);
      return false;
    }
    if (status === BAD_VALUE) {
      throw new TypeError(`gosched: callback "${name}": ${this.#readRaw(this.#ex.gosched_js_out())}`);
    }
    if (status === SENT) this.#schedulePump();
    return status === SENT;
  }

  /** A function that sends its first argument to callback `name`. */
  callbackFn(name) {
    return (value) => this.callback(name, value);
  }

  // ---- the event loop ----------------------------------------------------

  #pump() {
    if (this.#state !== "running") return;
    if (this.#polling) {
      this.#again = true; // re-entered from a callback: poll once more after
      return;
    }
    this.#scheduled = false;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    let next;
    this.#polling = true;
    try {
      next = this.#ex.gosched_js_poll();
    } catch (e) {
      this.#polling = false;
      this.#fail(e);
      return;
    } finally {
      this.#polling = false;
    }
    if (next === DONE) {
      this.#state = "done";
      this.#settle[0](this.#takeOut());
      return;
    }
    if (next !== WAITING) {
      // setTimeout takes at most 2^31-1 ms (about 24.8 days; a longer delay
      // fires at once): a farther deadline is re-armed when that passes.
      const wait = Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(next - performance.now())));
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#pump();
      }, wait);
    }
    if (this.#again) {
      this.#again = false;
      this.#schedulePump();
    }
  }

  #schedulePump() {
    if (this.#scheduled || this.#state !== "running") return;
    this.#scheduled = true;
    queueMicrotask(() => this.#pump());
  }

  #fail(cause) {
    if (this.#state === "failed") return;
    const wasRunning = this.#state === "running";
    this.#state = "failed";
    if (this.#timer !== null) clearTimeout(this.#timer);
    let error = cause;
    if (this.#panic) {
      error = new Error(this.#panic[0], { cause });
      error.location = this.#panic[1];
    }
    if (wasRunning) this.#settle[1](error);
    else throw error;
  }

  // ---- values ---------------------------------------------------------------

  #addObject(value) {
    const handle = this.#free.length ? this.#free.pop() : this.#objects.length;
    this.#objects[handle] = value;
    return handle;
  }

  #release(handle) {
    this.#objects[handle] = undefined;
    this.#free.push(handle);
  }

  /** [tag, num, utf8 bytes or null] of a value going to Rust; an object gets a
   * handle that Rust then owns. */
  #classify(v) {
    if (v === undefined) return [UNDEFINED, 0, null];
    if (v === null) return [NULL, 0, null];
    switch (typeof v) {
      case "boolean":
        return [BOOL, v ? 1 : 0, null];
      case "number":
        return [NUMBER, v, null];
      case "string":
        return [STRING, 0, encoder.encode(v)];
      default:
        return [OBJECT, this.#addObject(v), null];
    }
  }

  /** Writes byte arrays one after the other into the exchange buffer. */
  #writeExchange(...parts) {
    const total = parts.reduce((n, p) => n + (p ? p.length : 0), 0);
    const ptr = this.#ex.gosched_js_buffer(total);
    const mem = new Uint8Array(this.#ex.memory.buffer, ptr, total); // after any growth
    let at = 0;
    for (const p of parts) {
      if (p) {
        mem.set(p, at);
        at += p.length;
      }
    }
  }

  /** Writes `value` as a Raw record at `ptr` (strings via the exchange buffer). */
  #writeValue(ptr, value, tagOverride) {
    const [tag, num, bytes] = this.#classify(value);
    if (bytes) this.#writeExchange(bytes);
    const view = new DataView(this.#ex.memory.buffer);
    view.setUint32(ptr, tagOverride ?? tag, true);
    view.setUint32(ptr + 4, bytes ? bytes.length : 0, true);
    view.setFloat64(ptr + 8, bytes ? 0 : num, true);
  }

  #writeError(ptr, e) {
    this.#writeValue(ptr, errorText(e), ERROR);
  }

  #readString(ptr, len) {
    return decoder.decode(new Uint8Array(this.#ex.memory.buffer, ptr, len));
  }

  /** The value of the Raw record at `ptr`, written by Rust (handles borrowed). */
  #readRaw(ptr) {
    const view = new DataView(this.#ex.memory.buffer);
    const tag = view.getUint32(ptr, true);
    const len = view.getUint32(ptr + 4, true);
    const num = view.getFloat64(ptr + 8, true);
    switch (tag) {
      case NULL:
        return null;
      case BOOL:
        return num !== 0;
      case NUMBER:
        return num;
      case STRING:
      case ERROR:
        return this.#readString(num, len);
      case OBJECT:
        return this.#objects[num];
      default:
        return undefined;
    }
  }

  /** The value at gosched_js_out, taking over its handle. */
  #takeOut() {
    const ptr = this.#ex.gosched_js_out();
    const value = this.#readRaw(ptr);
    const view = new DataView(this.#ex.memory.buffer);
    if (view.getUint32(ptr, true) === OBJECT) this.#release(view.getFloat64(ptr + 8, true));
    return value;
  }

  /** [value, this] at a dotted path, from the object of handle `from` (0: the
   * functions option, then globalThis). */
  #resolve(from, path) {
    const steps = path.split(".");
    let self;
    if (from !== 0) self = this.#objects[from];
    else {
      const fns = this.#options.functions ?? {};
      self = steps[0] in fns ? fns : globalThis;
    }
    let value = self;
    for (const step of steps) {
      self = value;
      value = self[step];
    }
    return [value, self];
  }

  /** Runs `f`, writing its value (or what it threw) at `out`; 0 ok, 1 threw. */
  #guard(out, f) {
    let value;
    try {
      value = f();
    } catch (e) {
      this.#writeError(out, e);
      return 1;
    }
    this.#writeValue(out, value);
    return 0;
  }

  #settlePromise(id, ok, value) {
    if (this.#state !== "running") return;
    const [tag, num, bytes] = this.#classify(ok ? value : errorText(value));
    if (bytes) this.#writeExchange(bytes);
    try {
      this.#ex.gosched_js_settle(id, ok ? 1 : 0, ok ? tag : ERROR, bytes ? 0 : num, bytes ? bytes.length : 0);
    } catch (e) {
      this.#fail(e);
      return;
    }
    this.#schedulePump();
  }

  #makeImports() {
    const print =
      this.#options.print ?? ((stream, text) => (stream === 2 ? console.error : console.log)(text));
    return {
      now: () => performance.now(),
      print: (stream, ptr, len) => print(stream, this.#readString(ptr, len)),
      panic: (mptr, mlen, lptr, llen) => {
        this.#panic = [this.#readString(mptr, mlen), this.#readString(lptr, llen)];
      },
      call: (from, nptr, nlen, args, argc, out) => {
        const name = this.#readString(nptr, nlen);
        const values = [];
        for (let i = 0; i < argc; i++) values.push(this.#readRaw(args + 16 * i));
        return this.#guard(out, () => {
          if (from === 0 && name.startsWith("new ")) {
            const [ctor] = this.#resolve(0, name.slice(4));
            return Reflect.construct(ctor, values);
          }
          const [fn, self] = this.#resolve(from, name);
          if (typeof fn !== "function") throw new TypeError(`${name} is not a function`);
          return Reflect.apply(fn, self, values);
        });
      },
      get: (from, nptr, nlen, out) => {
        const name = this.#readString(nptr, nlen);
        return this.#guard(out, () => this.#resolve(from, name)[0]);
      },
      set: (from, nptr, nlen, vptr, out) => {
        const name = this.#readString(nptr, nlen);
        const value = this.#readRaw(vptr);
        return this.#guard(out, () => {
          const steps = name.split(".");
          const last = steps.pop();
          const target = steps.length ? this.#resolve(from, steps.join("."))[0] : from === 0 ? globalThis : this.#objects[from];
          target[last] = value;
        });
      },
      then: (handle, id) => {
        Promise.resolve(this.#objects[handle]).then(
          (v) => this.#settlePromise(id, true, v),
          (e) => this.#settlePromise(id, false, e),
        );
      },
      dup: (handle) => this.#addObject(this.#objects[handle]),
      release: (handle) => this.#release(handle),
      wake: () => this.#schedulePump(),
    };
  }
}

/** What Rust's JsError says about a thrown or rejected value. */
function errorText(e) {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
}
