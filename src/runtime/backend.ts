/**
 * Choice and start-up of the TF.js backend that trains and evaluates
 * MobileFaceNet: WebGPU on a hardware GPU, otherwise wasm with SIMD (and
 * threads where they load), with cpu and tfjs-node as explicit choices.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import * as tf from "@tensorflow/tfjs";
import type { RuntimeConfig } from "../config/types.ts";
import { registerBatchNormPreluKernels } from "./fused/batch_norm_prelu.ts";
import { simdLoops } from "./fused/simd.ts";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  missingWasmTrainingKernels,
  registerWasmTrainingKernels,
} from "./wasm_kernels/register.ts";
import {
  MAX_WASM_THREADS,
  registerThreadedWasmBackend,
  restoreWasmBackend,
} from "./wasm_threads.ts";

/** Use of the backend. Training needs gradient kernels that inference does not. */
export type Purpose = "train" | "infer";

/** The backend that {@linkcode selectBackend} activated, and why. */
export interface BackendInfo {
  /** TF.js backend name, as `tf.getBackend()` returns it. */
  name: "webgpu" | "wasm" | "cpu" | "tensorflow";
  /** The `runtime.backend` value of the configuration. */
  requested: RuntimeConfig["backend"];
  /** One or two sentences on why this backend was chosen. */
  reason: string;
  /** TF.js version, such as "4.22.0". */
  version: string;
  /** WebGPU adapter description, when WebGPU was probed or used. */
  adapter?: string;
  /** Whether that adapter is a software fallback such as llvmpipe. */
  fallbackAdapter?: boolean;
  /** XNNPACK threads of the wasm backend, counting the calling thread. */
  threads?: number;
  /** Whether the wasm backend runs its SIMD build. */
  simd?: boolean;
  /**
   * Whether the fused training loops of the wasm backend (batch norm, the
   * depthwise gradients and the 1x1 weight gradient) run as WebAssembly SIMD
   * (src/runtime/fused/simd) rather than JavaScript.
   */
  simdLoops?: boolean;
}

/**
 * Sets and readies the TF.js backend that a configuration requests.
 *
 * `auto` takes WebGPU when a hardware (non-fallback) adapter exists and
 * initialises, otherwise wasm with SIMD, otherwise cpu. Training on wasm
 * needs the gradient kernels that {@linkcode registerWasmTrainingKernels}
 * adds, and this function registers them before it initialises wasm. A
 * backend named explicitly either initialises or throws.
 *
 * @example Activate the backend of a run
 * ```ts ignore
 * const info = await selectBackend({ backend: "auto", threads: 0 }, "train");
 * console.error(`backend ${info.name}: ${info.reason}`);
 * ```
 *
 * @param config `runtime` section: backend name, and wasm threads (0 means one
 *     per logical core).
 * @param purpose "train" or "infer".
 * @returns The active backend and the reason for it.
 * @throws {RangeError} When `threads` is not a non-negative integer or the
 *     backend name is unknown.
 * @throws {Error} When an explicitly named backend fails to initialise,
 *     naming the backend and the cause.
 */
export async function selectBackend(
  config: RuntimeConfig,
  purpose: Purpose,
): Promise<BackendInfo> {
  if (!Number.isInteger(config.threads) || config.threads < 0) {
    throw new RangeError(
      `Cannot select backend: runtime.threads must be a non-negative integer, got ${config.threads}`,
    );
  }
  const requested = config.backend;
  registerBatchNormPreluKernels();
  switch (requested) {
    case "cpu":
      await activateBackend("cpu");
      return describe("cpu", requested, "runtime.backend requests cpu.");
    case "wasm":
      return await useWasm(
        config.threads,
        purpose,
        requested,
        "runtime.backend requests wasm.",
      );
    case "webgpu":
      return await useWebgpu(requested, "runtime.backend requests webgpu.");
    case "tensorflow":
      return await useTensorflow(requested);
    case "auto":
      return await selectAutomatically(config.threads, purpose);
    default:
      throw new RangeError(
        `Cannot select backend: unknown runtime.backend "${requested}": use auto, webgpu, wasm, cpu or tensorflow`,
      );
  }
}

async function selectAutomatically(
  threads: number,
  purpose: Purpose,
): Promise<BackendInfo> {
  const adapter = await probeGpuAdapter();
  let gpuNote: string;
  if (adapter === null) {
    gpuNote = "No WebGPU adapter is available";
  } else if (adapter.fallback) {
    gpuNote =
      `The only WebGPU adapter is the software fallback "${adapter.description}"`;
  } else {
    try {
      return await useWebgpu(
        "auto",
        `A hardware WebGPU adapter "${adapter.description}" is available.`,
      );
    } catch (error) {
      gpuNote = `WebGPU failed to initialise on "${adapter.description}" (${
        errorMessage(error)
      })`;
    }
  }
  const gpuFields = adapter === null
    ? {}
    : { adapter: adapter.description, fallbackAdapter: adapter.fallback };

  try {
    const info = await useWasm(
      threads,
      purpose,
      "auto",
      `${gpuNote}, so ${
        purpose === "train" ? "training" : "inference"
      } runs on wasm, the CPU backend with SIMD kernels.`,
    );
    return { ...info, ...gpuFields };
  } catch (error) {
    if (error instanceof BrokenInstallError) throw error;
    await activateBackend("cpu");
    return {
      ...describe(
        "cpu",
        "auto",
        `${gpuNote}, and wasm failed to initialise (${
          errorMessage(error)
        }), so the run uses cpu.`,
      ),
      ...gpuFields,
    };
  }
}

async function useWasm(
  threads: number,
  purpose: Purpose,
  requested: RuntimeConfig["backend"],
  reason: string,
): Promise<BackendInfo> {
  // The package registers the stock wasm kernels on import, and the training
  // kernels replace or complete them.
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  registerWasmTrainingKernels();
  const missing = purpose === "train" ? missingWasmTrainingKernels() : [];
  if (missing.length > 0) {
    throw new InputError(
      `Cannot train on TF.js backend "wasm": kernels ${
        missing.join(", ")
      } are not registered: set runtime.backend to "cpu"`,
    );
  }
  const requestedThreads = Math.min(
    threads === 0 ? navigator.hardwareConcurrency : threads,
    MAX_WASM_THREADS,
  );
  let threadNote = "";
  if ("wasm" in tf.engine().registry) {
    threadNote =
      " The wasm backend was already initialised, so its thread count stays as it was.";
  } else if (requestedThreads > 1) {
    const stock = await registerThreadedWasmBackend(requestedThreads);
    try {
      await activateBackend("wasm");
    } catch (error) {
      if (stock === null) throw error;
      restoreWasmBackend(stock);
      threadNote = ` The threaded build failed to load (${
        errorMessage(error)
      }), so wasm runs on one thread.`;
    }
  }
  await activateBackend("wasm");
  return {
    ...describe("wasm", requested, reason + threadNote),
    threads: wasm.getThreadsCount(),
    simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean,
    simdLoops: loadSimdLoops(),
  };
}

/**
 * A file of this repository that the wasm backend needs is missing or
 * broken. `auto` does not fall back to cpu for it, which would hide a broken
 * checkout behind a run tens of times slower.
 */
export class BrokenInstallError extends InputError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenInstallError";
  }
}

/**
 * Loads the SIMD loops on the active wasm backend.
 *
 * @returns Whether they run (false when the backend's memory is not exposed).
 * @throws {BrokenInstallError} When the compiled loops cannot be loaded.
 */
function loadSimdLoops(): boolean {
  try {
    return simdLoops(tf.backend() as BackendWasm) !== null;
  } catch (error) {
    throw new BrokenInstallError(
      `Cannot use the wasm backend: ${
        errorMessage(error)
      }. Restore the committed modules with "git checkout src/runtime/fused/simd/", or rebuild them with "deno task build:simd"`,
      { cause: error },
    );
  }
}

async function useWebgpu(
  requested: RuntimeConfig["backend"],
  reason: string,
): Promise<BackendInfo> {
  const adapter = await probeGpuAdapter();
  if (adapter === null) {
    throw new InputError(
      'Cannot initialise TF.js backend "webgpu": no WebGPU adapter is available (navigator.gpu is missing or requestAdapter() returned null)',
    );
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  await activateBackend("webgpu");
  return {
    ...describe("webgpu", requested, reason),
    adapter: adapter.description,
    fallbackAdapter: adapter.fallback,
  };
}

/** Package names tried, in order, for the "tensorflow" backend. */
const TFJS_NODE_PACKAGES = [
  "@tensorflow/tfjs-node-gpu",
  "@tensorflow/tfjs-node",
];

async function useTensorflow(
  requested: RuntimeConfig["backend"],
): Promise<BackendInfo> {
  const failures: string[] = [];
  for (const name of TFJS_NODE_PACKAGES) {
    try {
      // A variable specifier keeps `deno check` from resolving a package that
      // is not in the import map.
      await import(name);
    } catch (error) {
      failures.push(`${name}: ${errorMessage(error)}`);
      continue;
    }
    await activateBackend("tensorflow");
    return describe(
      "tensorflow",
      requested,
      `runtime.backend requests tensorflow, provided by ${name}.`,
    );
  }
  throw new InputError(
    `Cannot initialise TF.js backend "tensorflow": neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (${
      failures.join("; ")
    }): add one at the TF.js version ${tf.version.tfjs} with "deno add npm:@tensorflow/tfjs-node@${tf.version.tfjs}" and install it with "deno install --allow-scripts=npm:@tensorflow/tfjs-node", which downloads libtensorflow, or set runtime.backend to "wasm"`,
  );
}

/**
 * Initialises a registered backend and makes it the active one.
 *
 * The engine's own `tf.setBackend` logs an initialisation error and returns
 * false, so this calls the backend factory directly to keep the error.
 *
 * @throws {Error} Naming the backend and the cause when it fails.
 */
async function activateBackend(name: string): Promise<void> {
  const engine = tf.engine();
  if (!(name in engine.registry)) {
    const entry = engine.registryFactory[name];
    if (entry === undefined) {
      throw new InputError(
        `Cannot initialise TF.js backend "${name}": no factory is registered for it in this runtime`,
      );
    }
    let instance: tf.KernelBackend;
    try {
      instance = await entry.factory();
    } catch (error) {
      throw new InputError(
        `Cannot initialise TF.js backend "${name}": ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (!instance) {
      throw new InputError(
        `Cannot initialise TF.js backend "${name}": its factory returned no backend`,
      );
    }
    tf.removeBackend(name);
    tf.registerBackend(name, () => instance, entry.priority);
  }
  if (!await tf.setBackend(name)) {
    throw new InputError(
      `Cannot initialise TF.js backend "${name}": tf.setBackend returned false`,
    );
  }
}

/** A WebGPU adapter as far as backend choice is concerned. */
interface GpuAdapterSummary {
  description: string;
  /** True for a software adapter such as Mesa's llvmpipe (lavapipe). */
  fallback: boolean;
}

/**
 * Asks WebGPU for a high-performance adapter.
 *
 * NOTE: With no GPU, Mesa prints "XDG_RUNTIME_DIR is invalid" to stderr
 * during this call in Deno 2.9; the message is harmless.
 *
 * @returns The adapter's description and fallback flag, or null when there is
 *     no WebGPU or no adapter.
 */
export async function probeGpuAdapter(): Promise<GpuAdapterSummary | null> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (gpu === undefined) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (adapter === null) return null;
  const info = adapter.info;
  const description = info.description ||
    [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
    "unnamed adapter";
  return { description, fallback: info.isFallbackAdapter };
}

function describe(
  name: BackendInfo["name"],
  requested: RuntimeConfig["backend"],
  reason: string,
): BackendInfo {
  return { name, requested, reason, version: tf.version.tfjs };
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (
    typeof error === "object" && error !== null && "message" in error
  ) {
    return String(error.message);
  }
  return String(error);
}
