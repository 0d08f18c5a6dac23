/**
 * The training data loader for sets too large to decode into memory. It
 * reads the packed shards of a built set (pack.ts) and decodes the images of
 * each micro-batch in worker threads. A bounded number of micro-batches is
 * decoded ahead, in the order the batch sampler will request them.
 *
 * @module
 */

import { join } from "node:path";
import type { LoaderConfig } from "../config/types.ts";
import type { ImageStore, TrainingSet } from "../train/batches.ts";
import { readJson } from "./build_journal.ts";
import type { DatasetSummary } from "./build_finalize.ts";
import { loadTrainingSet } from "./manifest.ts";
import type {
  LoaderInit,
  LoaderMessage,
  LoaderRequest,
} from "./loader_worker.ts";
import { PACK_FORMAT, type PackIndex, RECORD_BYTES } from "./pack.ts";

/** The index of a built set's packed shards, with its labels. */
export class PackedImages {
  readonly dir: string;
  readonly index: PackIndex;
  /** `[count, 48]` records of `shards/index.bin`. */
  readonly records: Uint8Array;
  /** `[count]` labels in manifest order. */
  readonly labels: Int32Array;

  private constructor(dir: string, index: PackIndex, records: Uint8Array) {
    this.dir = dir;
    this.index = index;
    this.records = records;
    const view = new DataView(records.buffer, records.byteOffset);
    this.labels = new Int32Array(index.images);
    for (let k = 0; k < index.images; k++) {
      this.labels[k] = view.getInt32(k * RECORD_BYTES + 12, true);
    }
  }

  /**
   * Opens the shards of the dataset built in `datasetDir`.
   *
   * @param imageSize Side of the images in pixels (`dataset.image_size`).
   * @throws {Error} When the shards are missing, of another format or
   *   image size, belong to another manifest, or have another size than the
   *   index records. Each message ends with how to rebuild the dataset.
   */
  static async open(
    datasetDir: string,
    imageSize: number,
  ): Promise<PackedImages> {
    const dir = join(datasetDir, "shards");
    const indexPath = join(dir, "index.json");
    const index = await readJson<PackIndex>(indexPath);
    const fail = (problem: string) =>
      new Error(
        `Cannot open packed shards "${dir}": ${problem}: rebuild the dataset (remove "${datasetDir}" and run deno task dataset)`,
      );
    if (index === null) throw fail("index.json not found");
    if (index.format !== PACK_FORMAT || index.record_bytes !== RECORD_BYTES) {
      throw fail(`format ${index.format}, expected ${PACK_FORMAT}`);
    }
    if (index.image_size !== imageSize) {
      throw fail(
        `images are ${index.image_size}x${index.image_size}, expected ${imageSize}x${imageSize}`,
      );
    }
    const summary = await readJson<DatasetSummary>(
      join(datasetDir, "summary.json"),
      true,
    );
    if (summary!.manifest_sha256 !== index.manifest_sha256) {
      throw fail(
        `they pack manifest ${
          index.manifest_sha256.slice(0, 16)
        }, summary.json records ${summary!.manifest_sha256.slice(0, 16)}`,
      );
    }
    for (const shard of index.shards) {
      const info = await Deno.stat(join(dir, shard.file));
      if (info.size !== shard.bytes) {
        throw fail(
          `${shard.file} has ${info.size} bytes, the index records ${shard.bytes}`,
        );
      }
    }
    const records = await Deno.readFile(join(dir, "index.bin"));
    if (records.length !== index.images * RECORD_BYTES) {
      throw fail(
        `index.bin has ${records.length} bytes, expected ${index.images} records of ${RECORD_BYTES}`,
      );
    }
    return new PackedImages(dir, index, records);
  }

  /** Images in the set. */
  get count(): number {
    return this.index.images;
  }

  /** Builds the worker request for the records `indices`. */
  request(id: number, indices: readonly number[]): LoaderRequest {
    const n = indices.length;
    const request: LoaderRequest = {
      type: "read",
      id,
      shard: new Uint32Array(n),
      offset: new Uint32Array(n),
      length: new Uint32Array(n),
      sha256: new Uint8Array(32 * n),
      indices: Uint32Array.from(indices),
    };
    const view = new DataView(this.records.buffer, this.records.byteOffset);
    for (const [k, index] of indices.entries()) {
      if (!(index >= 0 && index < this.count)) {
        throw new RangeError(
          `Cannot load image ${index}: the packed set has ${this.count} images`,
        );
      }
      const at = index * RECORD_BYTES;
      request.shard[k] = view.getUint32(at, true);
      request.offset[k] = view.getUint32(at + 4, true);
      request.length[k] = view.getUint32(at + 8, true);
      request.sha256.set(this.records.subarray(at + 16, at + 48), 32 * k);
    }
    return request;
  }
}

/** Options of {@linkcode PackedLoader.start}. */
export interface LoaderOptions {
  /** Decode workers, at least 1. */
  workers: number;
  /** Micro-batches decoded ahead of the one being read, at least 1. */
  prefetchBatches: number;
}

/** One worker and the requests it has not replied to yet. */
interface LoaderWorker {
  worker: Worker;
  pending: Map<
    number,
    { resolve: (pixels: Uint8Array) => void; reject: (error: Error) => void }
  >;
}

/**
 * Decodes images of a packed set in workers. Each read is split into one
 * contiguous slice per worker, and up to `prefetchBatches` reads announced
 * with {@linkcode PackedLoader.prefetch} are decoded ahead.
 */
export class PackedLoader implements ImageStore {
  readonly images: PackedImages;
  readonly prefetchDepth: number;
  #workers: LoaderWorker[] = [];
  #nextId = 0;
  #ahead = new Map<string, Promise<Uint8Array>>();
  #failure: Error | null = null;

  private constructor(images: PackedImages, prefetchDepth: number) {
    this.images = images;
    this.prefetchDepth = prefetchDepth;
  }

  /**
   * Starts the decode workers.
   *
   * @throws {RangeError} When `workers` or `prefetchBatches` is below 1.
   */
  static async start(
    images: PackedImages,
    options: LoaderOptions,
  ): Promise<PackedLoader> {
    if (!(options.workers >= 1) || !(options.prefetchBatches >= 1)) {
      throw new RangeError(
        `Cannot start loader: workers and prefetch batches must be at least 1, got ${options.workers} and ${options.prefetchBatches}`,
      );
    }
    const loader = new PackedLoader(images, options.prefetchBatches);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < options.workers; w++) {
      const worker = new Worker(
        new URL("./loader_worker.ts", import.meta.url),
        { type: "module" },
      );
      const entry: LoaderWorker = { worker, pending: new Map() };
      loader.#workers.push(entry);
      ready.push(loader.#listen(entry));
      worker.postMessage(
        {
          type: "init",
          dir: images.dir,
          shards: images.index.shards.map((shard) => shard.file),
          imageSize: images.index.image_size,
        } satisfies LoaderInit,
      );
    }
    await Promise.all(ready);
    return loader;
  }

  #listen(entry: LoaderWorker): Promise<void> {
    return new Promise((resolve) => {
      entry.worker.onmessage = (event: MessageEvent<LoaderMessage>) => {
        const message = event.data;
        if (message.type === "ready") {
          resolve();
        } else if (message.type === "pixels") {
          entry.pending.get(message.id)?.resolve(message.pixels);
          entry.pending.delete(message.id);
        } else {
          this.#fail(new Error(message.message));
        }
      };
      entry.worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail(
          new Error(`Training loader worker failed: ${event.message}`),
        );
      };
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const entry of this.#workers) {
      for (const pending of entry.pending.values()) pending.reject(error);
      entry.pending.clear();
    }
  }

  /** Decodes `indices`, split over the workers. */
  #load(indices: readonly number[]): Promise<Uint8Array> {
    if (this.#failure) return Promise.reject(this.#failure);
    const size = this.images.index.image_size;
    const imageBytes = size * size * 3;
    const slices = Math.min(this.#workers.length, indices.length);
    const per = Math.ceil(indices.length / Math.max(1, slices));
    const parts: Promise<Uint8Array>[] = [];
    for (let start = 0; start < indices.length; start += per) {
      const slice = indices.slice(start, start + per);
      // The worker with the fewest requests waiting takes the slice.
      const entry = this.#workers.reduce((a, b) =>
        b.pending.size < a.pending.size ? b : a
      );
      const id = this.#nextId++;
      parts.push(
        new Promise((resolve, reject) => {
          entry.pending.set(id, { resolve, reject });
          entry.worker.postMessage(this.images.request(id, slice));
        }),
      );
    }
    return Promise.all(parts).then((pieces) => {
      const batch = new Uint8Array(indices.length * imageBytes);
      let offset = 0;
      for (const piece of pieces) {
        batch.set(piece, offset);
        offset += piece.length;
      }
      return batch;
    });
  }

  /**
   * Starts decoding `indices` ahead of their read, unless `prefetchDepth`
   * reads are already waiting.
   */
  prefetch(indices: readonly number[]): void {
    const key = indices.join(",");
    if (this.#ahead.has(key) || this.#ahead.size >= this.prefetchDepth) return;
    const pixels = this.#load(indices);
    // A failure is reported by the read that takes this batch.
    pixels.catch(() => {});
    this.#ahead.set(key, pixels);
  }

  /**
   * Returns the pixels of `indices` in order, `[n, S, S, 3]` RGB uint8,
   * from the prefetched reads when one matches.
   *
   * @throws {Error} When a record fails its SHA-256 check or cannot be
   *   decoded, naming its manifest index.
   */
  read(indices: readonly number[]): Promise<Uint8Array> {
    const key = indices.join(",");
    // Reads come in the prefetched order, so reads announced before this one
    // will not come any more: drop them.
    for (const [waiting, pixels] of this.#ahead) {
      this.#ahead.delete(waiting);
      if (waiting === key) return pixels;
    }
    return this.#load(indices);
  }

  /** Ends the workers; reads in flight are rejected. */
  close(): void {
    this.#fail(new Error("Cannot read: the training loader was closed"));
    for (const entry of this.#workers) entry.worker.terminate();
    this.#workers = [];
  }
}

/** A training set ready for the batch sampler, and how to release it. */
export interface OpenedTrainingSet {
  data: TrainingSet;
  /** Identity names indexed by label. */
  identities: string[];
  /** True when the pixels stream from the packed shards. */
  streamed: boolean;
  /** Ends the loader workers, if any. */
  close(): void;
}

/**
 * Opens a built set for training: decoded into memory when its pixels fit
 * in `loader.in_memory_max_bytes`, streamed from the packed shards by
 * {@linkcode PackedLoader} otherwise. The batch sampler draws the same
 * batches from either.
 *
 * @param imageSize Side of the images in pixels (`model.input_size`).
 * @throws {Error} See `loadTrainingSet` and {@linkcode PackedImages.open}.
 */
export async function openTrainingSet(
  datasetDir: string,
  imageSize: number,
  loader: LoaderConfig,
): Promise<OpenedTrainingSet> {
  const summary = await readJson<DatasetSummary>(
    join(datasetDir, "summary.json"),
    true,
  );
  const decodedBytes = summary!.images_out * imageSize * imageSize * 3;
  if (decodedBytes <= loader.in_memory_max_bytes) {
    const set = await loadTrainingSet(datasetDir, imageSize);
    return {
      data: {
        images: set.images,
        labels: set.labels,
        count: set.labels.length,
        size: imageSize,
        numClasses: set.numClasses,
      },
      identities: set.identities,
      streamed: false,
      close() {},
    };
  }
  const images = await PackedImages.open(datasetDir, imageSize);
  const identities = (await readJson<string[]>(
    join(datasetDir, "labels.json"),
    true,
  ))!;
  const store = await PackedLoader.start(images, {
    workers: loader.workers > 0
      ? loader.workers
      : Math.max(1, navigator.hardwareConcurrency),
    prefetchBatches: loader.prefetch_batches,
  });
  return {
    data: {
      images: store,
      labels: images.labels,
      count: images.count,
      size: imageSize,
      numClasses: identities.length,
    },
    identities,
    streamed: true,
    close: () => store.close(),
  };
}
