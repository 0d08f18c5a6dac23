/**
 * Seeded mini-batches from a training set held in memory or streamed by a
 * loader: a fresh shuffle per epoch and a random horizontal flip per image,
 * each drawn from generators named by epoch and step, so a resumed run draws
 * exactly what an uninterrupted run would, from either source of pixels.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { deriveRng } from "../rng.ts";

/** Training images decoded on request, such as the packed-shard loader. */
export interface ImageStore {
  /** Returns `[indices.length, size, size, 3]` RGB uint8, in `indices` order. */
  read(indices: readonly number[]): Promise<Uint8Array>;
  /** Announces a later read of `indices`, so the store can decode it ahead. */
  prefetch(indices: readonly number[]): void;
  /** Reads the sampler announces ahead of the current one. */
  readonly prefetchDepth: number;
}

/** Training images with their labels. */
export interface TrainingSet {
  /** [count, size, size, 3] RGB uint8, row-major, or a store that decodes them. */
  images: Uint8Array | ImageStore;
  /** [count] class labels in [0, numClasses). */
  labels: Int32Array;
  count: number;
  size: number;
  numClasses: number;
}

/** Position of a sampler: the epoch and the next index into its order. */
export interface SamplerPosition {
  epoch: number;
  offset: number;
}

/** Draws micro-batches in a seeded order, epoch after epoch. */
export class BatchSampler {
  readonly data: TrainingSet;
  readonly seed: number;
  #position: SamplerPosition;
  #order0: { epoch: number; order: Uint32Array } | null = null;
  #order1: { epoch: number; order: Uint32Array } | null = null;

  constructor(
    data: TrainingSet,
    seed: number,
    position: SamplerPosition = { epoch: 0, offset: 0 },
  ) {
    if (data.count === 0) {
      throw new RangeError("Cannot sample batches: the training set is empty");
    }
    this.data = data;
    this.seed = seed;
    this.#position = { ...position };
  }

  /** The position of the next draw, saved in checkpoints. */
  get position(): SamplerPosition {
    return { ...this.#position };
  }

  async #orderOf(epoch: number): Promise<Uint32Array> {
    const rng = await deriveRng(this.seed, `train/shuffle/epoch${epoch}`);
    const order = Array.from({ length: this.data.count }, (_, i) => i);
    return Uint32Array.from(rng.shuffle(order));
  }

  /** The shuffled order of an epoch; the current and next one are kept. */
  async #order(epoch: number): Promise<Uint32Array> {
    if (this.#order0?.epoch !== epoch) {
      this.#order0 = this.#order1?.epoch === epoch
        ? this.#order1
        : { epoch, order: await this.#orderOf(epoch) };
      this.#order1 = null;
    }
    return this.#order0.order;
  }

  /** The order of the epoch after the current one, computed once. */
  async #nextOrder(epoch: number): Promise<Uint32Array> {
    if (this.#order0?.epoch === epoch) return this.#order0.order;
    if (this.#order1?.epoch !== epoch) {
      this.#order1 = { epoch, order: await this.#orderOf(epoch) };
    }
    return this.#order1.order;
  }

  /** Returns `size` indices from `from` on, and the position after them. */
  async #indicesFrom(
    from: SamplerPosition,
    size: number,
    peek: boolean,
  ): Promise<{ indices: number[]; position: SamplerPosition }> {
    const indices: number[] = [];
    let position = { ...from };
    let order = peek
      ? await this.#nextOrder(position.epoch)
      : await this.#order(position.epoch);
    while (indices.length < size) {
      indices.push(order[position.offset]);
      position.offset += 1;
      if (position.offset === this.data.count) {
        position = { epoch: position.epoch + 1, offset: 0 };
        if (indices.length < size) {
          order = peek
            ? await this.#nextOrder(position.epoch)
            : await this.#order(position.epoch);
        }
      }
    }
    return { indices, position };
  }

  /** Returns the indices of the next `size` images, crossing epochs as needed. */
  async nextIndices(size: number): Promise<number[]> {
    const { indices, position } = await this.#indicesFrom(
      this.#position,
      size,
      false,
    );
    this.#position = position;
    return indices;
  }

  /** Announces the next micro-batches of `size` to a store that decodes ahead. */
  async #prefetch(store: ImageStore, size: number): Promise<void> {
    let position = this.#position;
    for (let k = 0; k < store.prefetchDepth; k++) {
      const next = await this.#indicesFrom(position, size, true);
      store.prefetch(next.indices);
      position = next.position;
    }
  }

  /**
   * Builds the next micro-batch.
   *
   * @param size Images in the micro-batch.
   * @param flipName Names the generator of the random flips, such as
   *     `train/flip/step12/micro0`; each image is mirrored with probability 1/2.
   * @returns images [size, S, S, 3] float32 in [-1, 1] as (pixel - 127.5) / 128,
   *     and labels [size] int32. The caller disposes both.
   */
  async next(
    size: number,
    flipName: string,
  ): Promise<{ images: tf.Tensor4D; labels: tf.Tensor1D }> {
    const indices = await this.nextIndices(size);
    const s = this.data.size;
    const rowLength = s * 3;
    // In memory, image i starts at i * S * S * 3; a store returns the batch's
    // images in order, so image b starts at b * S * S * 3.
    let images: Uint8Array;
    let streamed = false;
    if (this.data.images instanceof Uint8Array) {
      images = this.data.images;
    } else {
      const store = this.data.images;
      const read = store.read(indices);
      await this.#prefetch(store, size);
      images = await read;
      streamed = true;
    }
    const rng = await deriveRng(this.seed, flipName);
    const pixels = new Float32Array(size * s * rowLength);
    const labels = new Int32Array(size);
    indices.forEach((index, b) => {
      labels[b] = this.data.labels[index];
      const flip = rng.uniform() < 0.5;
      const source = (streamed ? b : index) * s * rowLength;
      const target = b * s * rowLength;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const from = source + y * rowLength + (flip ? s - 1 - x : x) * 3;
          const to = target + y * rowLength + x * 3;
          for (let c = 0; c < 3; c++) {
            pixels[to + c] = (images[from + c] - 127.5) / 128;
          }
        }
      }
    });
    return {
      images: tf.tensor4d(pixels, [size, s, s, 3]),
      labels: tf.tensor1d(labels, "int32"),
    };
  }
}
