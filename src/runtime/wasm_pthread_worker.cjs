// Entry point of the pthread workers of the threaded SIMD wasm build of
// TF.js, run by node:worker_threads in Deno. The package ships the worker
// only as a string meant for a blob: URL, which Deno's worker_threads cannot
// start, so this file runs that string from a real path.
"use strict";

const { wasmWorkerContents } = require(
  "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js",
);

// The worker assigns these names on the global object, and Deno defines some
// of them (location, self) as getters only, so they become own writable
// properties first.
for (
  const name of [
    "location",
    "self",
    "postMessage",
    "performance",
    "Worker",
    "importScripts",
  ]
) {
  Object.defineProperty(globalThis, name, {
    value: globalThis[name],
    writable: true,
    configurable: true,
    enumerable: true,
  });
}

// The package builds its blob from the string with each newline escaped, since
// the template literal turned the "\n" escapes of the source into newlines.
new Function(
  "require",
  "__filename",
  wasmWorkerContents.replace(/\n/g, "\\n"),
)(require, __filename);
