/**
 * Seeded mini-batches from an in-memory training set: a fresh shuffle per
 * epoch and a random horizontal flip per image, each drawn from generators
 * named by epoch and step, so a resumed run draws exactly what an
 * uninterrupted run would.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { deriveRng } from "../rng.ts";

/** Decoded training images with their labels. */
export interface TrainingSet {
  /** [count, size, size, 3] RGB uint8, row-major. */
  images: Uint8Array;
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
  #order: Uint32Array | null = null;

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

  /** Returns the indices of the next `size` images, crossing epochs as needed. */
  async nextIndices(size: number): Promise<number[]> {
    const indices: number[] = [];
    while (indices.length < size) {
      if (this.#order === null) {
        this.#order = await this.#orderOf(this.#position.epoch);
      }
      indices.push(this.#order[this.#position.offset]);
      this.#position.offset += 1;
      if (this.#position.offset === this.data.count) {
        this.#position = { epoch: this.#position.epoch + 1, offset: 0 };
        this.#order = null;
      }
    }
    return indices;
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
    const rng = await deriveRng(this.seed, flipName);
    const s = this.data.size;
    const rowLength = s * 3;
    const pixels = new Float32Array(size * s * rowLength);
    const labels = new Int32Array(size);
    indices.forEach((index, b) => {
      labels[b] = this.data.labels[index];
      const flip = rng.uniform() < 0.5;
      const source = index * s * rowLength;
      const target = b * s * rowLength;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const from = source + y * rowLength + (flip ? s - 1 - x : x) * 3;
          const to = target + y * rowLength + x * 3;
          for (let c = 0; c < 3; c++) {
            pixels[to + c] = (this.data.images[from + c] - 127.5) / 128;
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
