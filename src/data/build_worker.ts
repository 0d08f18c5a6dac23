/**
 * The entry point of a dataset build worker (a Deno worker started by the
 * build's pool): it processes one identity per request and posts the encoded
 * outputs back, transferring their buffers. With detection on, it loads its
 * own MTCNN aligner on the single-threaded wasm backend once, at start.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import sharp from "sharp";
import type { DatasetConfig, MtcnnConfig } from "../config/types.ts";
import {
  type AlignFace,
  type IdentityJob,
  type IdentityResult,
  processIdentity,
} from "./build_identity.ts";
import type { CropBox } from "./image.ts";

/** The first message a worker receives. */
export interface WorkerInit {
  type: "init";
  config: DatasetConfig;
  seed: number;
  crop?: CropBox;
  /** Set when the build detects and aligns faces with MTCNN. */
  detection?: { assetsDir: string; mtcnn: MtcnnConfig };
}

/** A request to process one identity. */
export interface WorkerJob {
  type: "job";
  job: IdentityJob;
}

/** Messages a worker posts. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "image" }
  | { type: "done"; result: IdentityResult }
  | { type: "failed"; identity: string | null; message: string };

let settings: Parameters<typeof processIdentity>[1] | null = null;

/** Loads the pretrained MTCNN aligner on wasm with one thread. */
async function loadAligner(
  detection: NonNullable<WorkerInit["detection"]>,
  size: number,
): Promise<AlignFace> {
  const { selectBackend } = await import("../runtime/backend.ts");
  const { requireAssets } = await import("../pretrained/assets.ts");
  const { TfliteMtcnn } = await import("../pretrained/mtcnn.ts");
  const { FaceAligner } = await import("../pretrained/aligner.ts");
  await selectBackend({ backend: "wasm", threads: 1 }, "infer");
  const nets = await TfliteMtcnn.load(await requireAssets(detection.assetsDir));
  const aligner = new FaceAligner(nets, detection.mtcnn, size);
  return async (image, source) => (await aligner.align(image, source)).image;
}

function post(message: WorkerMessage, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/** Returns the bytes in a buffer of their own, so it can be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}

// Jobs run one after another, so a worker keeps to one core even when the
// pool sends the next job before this one is done.
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<WorkerInit | WorkerJob>) => {
  queue = queue.then(() => handle(event.data));
};

async function handle(message: WorkerInit | WorkerJob): Promise<void> {
  if (message.type === "init") {
    try {
      // One libvips thread per worker, since the pool already runs one
      // worker per core. Each operation runs once, so libvips's operation
      // cache, shared by all workers behind a lock, would only cost time.
      sharp.concurrency(1);
      sharp.cache(false);
      settings = {
        config: message.config,
        seed: message.seed,
        crop: message.crop,
        onImage: () => post({ type: "image" }),
        align: message.detection
          ? await loadAligner(message.detection, message.config.image_size)
          : undefined,
      };
      post({ type: "ready" });
    } catch (error) {
      post({ type: "failed", identity: null, message: errorText(error) });
    }
    return;
  }
  try {
    const result = await processIdentity(message.job, settings!);
    for (const output of result.outputs) output.png = ownBuffer(output.png);
    post(
      { type: "done", result },
      result.outputs.map((output) => output.png.buffer as ArrayBuffer),
    );
  } catch (error) {
    post({
      type: "failed",
      identity: message.job.name,
      message: errorText(error),
    });
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
