/**
 * Loading of the threaded SIMD build of the TF.js wasm backend in Deno.
 *
 * TF.js 4.22 never loads that build in Deno. It takes Deno for Node.js and
 * reports no thread support there. With the support flag forced on, it starts
 * the pthread workers from blob: URLs, which Deno's node:worker_threads rejects
 * with ERR_WORKER_PATH. This module registers a "wasm" backend factory that
 * starts the workers from wasm_pthread_worker.cjs instead, and lifts the
 * build's cap of half the logical cores.
 *
 * @module
 */

import os from "node:os";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/** Priority of the stock "wasm" registration in TF.js 4.22. */
const WASM_PRIORITY = 2;

/** XNNPACK's thread pool in the TF.js wasm build has at most 8 threads. */
export const MAX_WASM_THREADS = 8;

/**
 * Replaces the "wasm" backend factory with one that loads the threaded SIMD
 * build with `threads` XNNPACK threads. The backend initialises on the next
 * `tf.setBackend("wasm")`.
 *
 * @param threads Threads of the XNNPACK pool, 1 to 8, counting the caller's.
 * @returns The factory that was registered before, so a caller can restore it.
 * @throws {RangeError} When `threads` is not an integer in 1..8.
 * @throws {Error} When the wasm backend is already initialised, because its
 *     build cannot change after that.
 */
export async function registerThreadedWasmBackend(
  threads: number,
): Promise<WasmFactoryEntry | null> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new RangeError(
      `Cannot load threaded wasm backend: threads must be an integer in 1..${MAX_WASM_THREADS}, got ${threads}`,
    );
  }
  const engine = tf.engine();
  if ("wasm" in engine.registry) {
    throw new Error(
      "Cannot load threaded wasm backend: the wasm backend is already initialised",
    );
  }
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const previous = engine.registryFactory["wasm"] ?? null;
  if (previous !== null) tf.removeBackend("wasm");
  tf.registerBackend("wasm", async () => {
    const module = await loadThreadedModule(threads);
    wasm.setThreadsCount(threads);
    const backend = new wasm.BackendWasm(module as BackendWasm["wasm"]);
    // The constructor starts the XNNPACK pool threads, which wait for work
    // for the life of the backend. Emscripten refs the worker of each running
    // thread, which would keep the process from exiting, so they are unrefed.
    for (const worker of module.PThread.runningWorkers) worker.unref();
    return backend;
  }, WASM_PRIORITY);
  return previous;
}

/** A backend factory as the TF.js engine stores it. */
export interface WasmFactoryEntry {
  factory: () => tf.KernelBackend | Promise<tf.KernelBackend>;
  priority: number;
}

/**
 * Registers `entry` as the "wasm" backend factory again, replacing the
 * threaded one.
 *
 * @param entry A factory returned by {@linkcode registerThreadedWasmBackend}.
 */
export function restoreWasmBackend(entry: WasmFactoryEntry): void {
  if ("wasm" in tf.engine().registryFactory) tf.removeBackend("wasm");
  tf.registerBackend("wasm", entry.factory, entry.priority);
}

/** The parts of the Emscripten module that this file uses. */
interface EmscriptenWasmModule {
  cwrap(
    name: string,
    returnType: string | null,
    argumentTypes: string[],
  ): (...args: number[]) => unknown;
  tfjs?: BackendWasm["wasm"]["tfjs"];
  PThread: { runningWorkers: { unref(): void }[] };
}

/** The Emscripten factory of the threaded SIMD build. */
type ThreadedFactory = (config: {
  locateFile(path: string, prefix: string): string;
  onAbort(message: string): void;
}) => Promise<EmscriptenWasmModule>;

/** Instantiates the threaded SIMD build and wraps its exported functions. */
async function loadThreadedModule(
  threads: number,
): Promise<EmscriptenWasmModule> {
  const imported = await import(
    "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js"
  );
  // The file is CommonJS, and Deno exposes its module.exports as default.
  const factory = imported.default as unknown as ThreadedFactory;
  const workerPath = fileURLToPath(
    new URL("./wasm_pthread_worker.cjs", import.meta.url),
  );

  // The build caps its pool at half the logical cores, assuming two hardware
  // threads per core, and counts cores with os.cpus() when it takes the
  // runtime for Node.js (src/cc/backend.cc and the Emscripten glue of
  // tfjs-backend-wasm 4.22). Listing at least 2 * threads entries while the
  // module starts lets the pool take `threads` threads.
  const cpus = os.cpus;
  const listed = cpus();
  const patched = Array.from(
    { length: Math.max(listed.length, 2 * threads) },
    (_, i) => listed[i % listed.length],
  );
  os.cpus = () => patched;
  let module: EmscriptenWasmModule;
  try {
    module = await new Promise<EmscriptenWasmModule>((resolve, reject) => {
      factory({
        locateFile: (path: string, prefix: string) =>
          path.endsWith(".worker.js") ? workerPath : prefix + path,
        onAbort: (message: string) =>
          reject(new Error(`Threaded wasm build aborted: ${message}`)),
      }).then(resolve, reject);
    });
  } finally {
    os.cpus = cpus;
  }

  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, [
      "number",
    ]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, [
      "number",
      "number",
      "number",
    ]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  } as BackendWasm["wasm"]["tfjs"];
  return module;
}
