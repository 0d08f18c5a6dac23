/**
 * The entry point of a training loader worker: it reads PNG records from the
 * packed shards, checks each one's SHA-256, decodes it to RGB and posts the
 * pixels of the whole request back in one transferred buffer.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { createHash } from "node:crypto";
import { join } from "node:path";
import sharp from "sharp";
import { decodeImageBytes } from "./image.ts";
import { decodeRgbPng } from "./png.ts";

/** The first message a loader worker receives. */
export interface LoaderInit {
  type: "init";
  /** The `shards/` folder. */
  dir: string;
  /** Shard file names, indexed by shard number. */
  shards: string[];
  imageSize: number;
}

/** A request for the pixels of some records. */
export interface LoaderRequest {
  type: "read";
  id: number;
  /** Per record: shard number, byte offset, byte length. */
  shard: Uint32Array;
  offset: Uint32Array;
  length: Uint32Array;
  /** Per record: 32 bytes of SHA-256, back to back. */
  sha256: Uint8Array;
  /** Manifest indices, for messages. */
  indices: Uint32Array;
}

/** Messages a loader worker posts. */
export type LoaderMessage =
  | { type: "ready" }
  | { type: "pixels"; id: number; pixels: Uint8Array }
  | { type: "failed"; id: number | null; message: string };

let init: LoaderInit | null = null;
const files = new Map<number, Deno.FsFile>();

/**
 * Reads one record. The reads are synchronous: this thread has nothing else
 * to do meanwhile, and a synchronous read costs less than an awaited one.
 */
function readRecord(
  shard: number,
  offset: number,
  length: number,
): Uint8Array {
  let file = files.get(shard);
  if (file === undefined) {
    file = Deno.openSync(join(init!.dir, init!.shards[shard]));
    files.set(shard, file);
  }
  file.seekSync(offset, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  let read = 0;
  while (read < length) {
    const n = file.readSync(bytes.subarray(read));
    if (n === null) {
      throw new RangeError(
        `Cannot read shard "${init!.shards[shard]}": it ends before byte ${
          offset + length
        }: rebuild the dataset`,
      );
    }
    read += n;
  }
  return bytes;
}

/**
 * Decodes one record. The build writes 8-bit RGB PNGs, which the decoder of
 * png.ts reads; any other file goes through sharp.
 */
async function decodeRecord(
  png: Uint8Array,
  name: string,
): Promise<Uint8Array> {
  const size = init!.imageSize;
  let image;
  try {
    image = decodeRgbPng(png);
  } catch (error) {
    throw new SyntaxError(`Cannot load ${name}: ${(error as Error).message}`);
  }
  image ??= await decodeImageBytes(png, name);
  if (image.width !== size || image.height !== size) {
    throw new RangeError(
      `Cannot load ${name}: it is ${image.width}x${image.height}, expected ${size}x${size}: rebuild the dataset with this image_size`,
    );
  }
  return image.data;
}

async function read(request: LoaderRequest): Promise<Uint8Array> {
  const imageBytes = init!.imageSize * init!.imageSize * 3;
  const pixels = new Uint8Array(request.indices.length * imageBytes);
  for (let k = 0; k < request.indices.length; k++) {
    const name = `image ${request.indices[k]} of the packed shards`;
    const png = readRecord(
      request.shard[k],
      request.offset[k],
      request.length[k],
    );
    const digest = createHash("sha256").update(png).digest();
    const expected = request.sha256.subarray(32 * k, 32 * k + 32);
    if (!digest.equals(expected)) {
      throw new Error(
        `Cannot load ${name}: its SHA-256 is ${
          digest.toString("hex")
        }, the index has ${
          Array.from(expected, (b) => b.toString(16).padStart(2, "0")).join("")
        }: rebuild the dataset`,
      );
    }
    pixels.set(await decodeRecord(png, name), k * imageBytes);
  }
  return pixels;
}

function post(message: LoaderMessage, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

// Requests run one after another: each worker keeps to one core.
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<LoaderInit | LoaderRequest>) => {
  const message = event.data;
  queue = queue.then(async () => {
    if (message.type === "init") {
      sharp.concurrency(1);
      init = message;
      post({ type: "ready" });
      return;
    }
    try {
      const pixels = await read(message);
      post({ type: "pixels", id: message.id, pixels }, [
        pixels.buffer as ArrayBuffer,
      ]);
    } catch (error) {
      post({
        type: "failed",
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
};
