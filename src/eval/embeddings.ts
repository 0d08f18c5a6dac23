/**
 * Face embeddings for the verification protocol: a network's embeddings with
 * the flip test, the raw-pixel baseline, L2 normalisation and pair distances.
 * Embeddings are rows of a flat Float32Array, `[N, D]` in row-major order.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** Settings of {@linkcode embedImages}. */
export interface EmbedOptions {
  /** Images per call of the embedding function. */
  batchSize: number;
  /** Add the embedding of each horizontally mirrored image before normalising. */
  flip: boolean;
  /** Called after each batch with the images done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Settings of {@linkcode pixelEmbeddings}. */
export interface PixelEmbeddingOptions {
  /** Add the vector of the mirrored image before normalising. Default false. */
  flip?: boolean;
}

function checkImages(
  action: string,
  images: Uint8Array,
  count: number,
  size: number,
): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(
      `Cannot ${action}: count must be an integer >= 0, found ${count}`,
    );
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(
      `Cannot ${action}: size must be a positive integer, found ${size}`,
    );
  }
  const expected = count * size * size * 3;
  if (images.length !== expected) {
    throw new TypeError(
      `Cannot ${action}: expected ${expected} bytes for [${count}, ${size}, ${size}, 3] RGB images, found ${images.length}`,
    );
  }
}

/**
 * Scales each row to unit L2 norm. The norm is accumulated in float64.
 *
 * A row of zeros stays zeros, as scikit-learn's `normalize` leaves it, so two
 * such rows are at distance 0 from each other and at 1 from any unit row.
 *
 * @param rows Row-major `[N, dim]` values.
 * @param dim Row length D.
 * @returns A new `[N, dim]` array of unit-norm rows.
 * @throws {TypeError} When `rows.length` is not a multiple of `dim`.
 * @throws {RangeError} When a value is not finite, which usually means the
 *   network diverged; the message gives the row.
 */
export function l2Normalize(rows: Float32Array, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 1 || rows.length % dim !== 0) {
    throw new TypeError(
      `Cannot normalise embeddings: length ${rows.length} is not a multiple of dimension ${dim}`,
    );
  }
  const result = new Float32Array(rows.length);
  for (let start = 0; start < rows.length; start += dim) {
    let sumOfSquares = 0;
    for (let j = start; j < start + dim; j++) {
      if (!Number.isFinite(rows[j])) {
        throw new RangeError(
          `Cannot normalise embeddings: row ${start / dim} contains ${rows[j]}`,
        );
      }
      sumOfSquares += rows[j] * rows[j];
    }
    if (sumOfSquares === 0) continue;
    const norm = Math.sqrt(sumOfSquares);
    for (let j = start; j < start + dim; j++) result[j] = rows[j] / norm;
  }
  return result;
}

/**
 * Computes the squared L2 distance of each pair of rows, accumulated in
 * float64. For unit rows it lies in [0, 4] and equals 2 - 2 cos(angle).
 *
 * @param emb1 First embedding of each pair, `[P, dim]`.
 * @param emb2 Second embedding of each pair, `[P, dim]`.
 * @param dim Embedding size D.
 * @returns Distances, `[P]`.
 * @throws {TypeError} When the arrays differ in length or are not a multiple
 *   of `dim`.
 */
export function squaredL2Distances(
  emb1: Float32Array,
  emb2: Float32Array,
  dim: number,
): Float64Array {
  if (emb1.length !== emb2.length) {
    throw new TypeError(
      `Cannot compute distances: embedding arrays differ in length, ${emb1.length} and ${emb2.length}`,
    );
  }
  if (!Number.isInteger(dim) || dim < 1 || emb1.length % dim !== 0) {
    throw new TypeError(
      `Cannot compute distances: length ${emb1.length} is not a multiple of dimension ${dim}`,
    );
  }
  const distances = new Float64Array(emb1.length / dim);
  for (let p = 0; p < distances.length; p++) {
    let sum = 0;
    for (let j = p * dim; j < (p + 1) * dim; j++) {
      const difference = emb1[j] - emb2[j];
      sum += difference * difference;
    }
    distances[p] = sum;
  }
  return distances;
}

/**
 * Embeds RGB images with a network and L2-normalises the result.
 *
 * Each batch is converted to float32 NHWC with `(x - 127.5) / 128`, which maps
 * 0..255 to [-0.996, 0.996] like the `(data - 127.5) * 0.0078125` input
 * layer of insightface's MXNet networks, and passed to `embed`. With `flip`,
 * the embedding of the batch mirrored along the width is added to it, and the
 * sum is normalised, as insightface's verification script does. Normalisation runs in float64 with
 * {@linkcode l2Normalize}.
 *
 * Tensors are created and released batch by batch: `embed` runs inside
 * `tf.tidy`, and the output tensor is disposed after its values are read.
 *
 * @param images Row-major RGB bytes, `[count, size, size, 3]`.
 * @param count Number of images N.
 * @param size Image height and width in pixels.
 * @param embed The network: `[n, size, size, 3]` float32 in [-1, 1] to
 *   `[n, D]` embeddings. It must not dispose its input.
 * @param options Batch size, flip test and an optional progress callback.
 * @returns Unit-norm embeddings, `[count, D]` row-major.
 * @throws {TypeError} When `images` has the wrong length or `embed` returns a
 *   shape other than `[n, D]` with D the same for every batch.
 * @throws {RangeError} When a count, size or batch size is out of range, or an
 *   embedding value is not finite.
 */
export async function embedImages(
  images: Uint8Array,
  count: number,
  size: number,
  embed: (batch: tf.Tensor4D) => tf.Tensor2D,
  options: EmbedOptions,
): Promise<Float32Array> {
  checkImages("embed images", images, count, size);
  const { batchSize, flip, onProgress } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot embed images: batchSize must be a positive integer, found ${batchSize}`,
    );
  }

  const imageBytes = size * size * 3;
  let dim = 0;
  let embeddings = new Float32Array(0);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const bytes = images.subarray(start * imageBytes, (start + n) * imageBytes);
    // Both steps are exact in float32: x - 127.5 is a multiple of 0.5 and the
    // division is by a power of two.
    const pixels = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) pixels[i] = (bytes[i] - 127.5) / 128;

    const output = tf.tidy(() => {
      const batch = tf.tensor4d(pixels, [n, size, size, 3]);
      const checkShape = (result: tf.Tensor, which: string) => {
        if (result.rank !== 2 || result.shape[0] !== n) {
          throw new TypeError(
            `Cannot embed images: embed returned shape [${result.shape}] for ${which} batch of ${n}, expected [${n}, D]`,
          );
        }
      };
      const plain = embed(batch);
      checkShape(plain, "a");
      if (!flip) return plain;
      // Width is axis 2 of NHWC.
      const mirrored = embed(tf.reverse(batch, 2));
      checkShape(mirrored, "a mirrored");
      if (mirrored.shape[1] !== plain.shape[1]) {
        throw new TypeError(
          `Cannot embed images: embed returned [${mirrored.shape}] for a mirrored batch but [${plain.shape}] for the batch`,
        );
      }
      return tf.add(plain, mirrored) as tf.Tensor2D;
    });

    let values: ArrayLike<number>;
    try {
      values = await output.data();
    } finally {
      output.dispose();
    }
    const batchDim = output.shape[1];
    if (start === 0) {
      dim = batchDim;
      embeddings = new Float32Array(count * dim);
    } else if (batchDim !== dim) {
      throw new TypeError(
        `Cannot embed images: embedding size changed from ${dim} to ${batchDim} at image ${start}`,
      );
    }
    embeddings.set(values, start * dim);
    onProgress?.(start + n, count);
  }
  return dim === 0 ? embeddings : l2Normalize(embeddings, dim);
}

/**
 * Lists, for each output index along one axis, the source pixels it overlaps
 * and the fraction of its span each one covers (area resampling).
 */
function areaWeights(
  sourceSize: number,
  outputSize: number,
): { index: number; weight: number }[][] {
  const scale = sourceSize / outputSize;
  const weights: { index: number; weight: number }[][] = [];
  for (let o = 0; o < outputSize; o++) {
    const begin = o * scale;
    const end = (o + 1) * scale;
    const taps: { index: number; weight: number }[] = [];
    for (
      let s = Math.floor(begin);
      s < Math.min(sourceSize, Math.ceil(end));
      s++
    ) {
      const overlap = Math.min(end, s + 1) - Math.max(begin, s);
      if (overlap > 0) taps.push({ index: s, weight: overlap / scale });
    }
    weights.push(taps);
  }
  return weights;
}

/**
 * Computes the raw-pixel baseline: each image as a grey, mean-subtracted,
 * unit-norm vector, compared with the same squared L2 distance as network
 * embeddings.
 *
 * Steps per image: grey = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma) in
 * float64; area resampling to `pixelSize` x `pixelSize`, where each output
 * pixel is the mean of the source area it covers (fractional pixels weighted
 * by overlap); subtraction of the image's own mean grey; with `flip`, addition
 * of the left-right mirror of that vector; L2 normalisation. Area resampling
 * commutes with mirroring, so mirroring the resampled vector equals
 * resampling the mirrored image. A vector whose norm is below 1e-9 of the
 * resampled image's norm is rounding residue of a uniform image (or of one
 * whose mirror cancels it) and becomes zeros, as {@linkcode l2Normalize}
 * leaves a zero row.
 *
 * @param images Row-major RGB bytes, `[count, size, size, 3]`.
 * @param count Number of images N.
 * @param size Image height and width in pixels.
 * @param pixelSize Side of the resampled grey image.
 * @param options Flip test.
 * @returns Unit-norm (or zero) vectors, `[count, pixelSize * pixelSize]`.
 * @throws {TypeError} When `images` has the wrong length.
 * @throws {RangeError} When a count or size is out of range.
 */
export function pixelEmbeddings(
  images: Uint8Array,
  count: number,
  size: number,
  pixelSize: number,
  options: PixelEmbeddingOptions = {},
): Float32Array {
  checkImages("compute pixel embeddings", images, count, size);
  if (!Number.isInteger(pixelSize) || pixelSize < 1) {
    throw new RangeError(
      `Cannot compute pixel embeddings: pixelSize must be a positive integer, found ${pixelSize}`,
    );
  }
  const flip = options.flip ?? false;
  const taps = areaWeights(size, pixelSize);
  const dim = pixelSize * pixelSize;
  const result = new Float32Array(count * dim);
  const grey = new Float64Array(size * size);
  const rowsResampled = new Float64Array(size * pixelSize); // [size, pixelSize]
  const vector = new Float64Array(dim);

  for (let image = 0; image < count; image++) {
    const offset = image * size * size * 3;
    for (let i = 0; i < size * size; i++) {
      const r = images[offset + 3 * i];
      const g = images[offset + 3 * i + 1];
      const b = images[offset + 3 * i + 2];
      grey[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    }

    // Resample along the width, then along the height.
    for (let y = 0; y < size; y++) {
      for (let ox = 0; ox < pixelSize; ox++) {
        let sum = 0;
        for (const { index, weight } of taps[ox]) {
          sum += weight * grey[y * size + index];
        }
        rowsResampled[y * pixelSize + ox] = sum;
      }
    }
    let total = 0;
    for (let oy = 0; oy < pixelSize; oy++) {
      for (let ox = 0; ox < pixelSize; ox++) {
        let sum = 0;
        for (const { index, weight } of taps[oy]) {
          sum += weight * rowsResampled[index * pixelSize + ox];
        }
        vector[oy * pixelSize + ox] = sum;
        total += sum;
      }
    }

    let rawSumOfSquares = 0;
    for (let j = 0; j < dim; j++) rawSumOfSquares += vector[j] * vector[j];
    const center = total / dim;
    for (let j = 0; j < dim; j++) vector[j] -= center;
    if (flip) {
      for (let oy = 0; oy < pixelSize; oy++) {
        const row = oy * pixelSize;
        for (let ox = 0; ox < pixelSize / 2; ox++) {
          const sum = vector[row + ox] + vector[row + pixelSize - 1 - ox];
          vector[row + ox] = sum;
          vector[row + pixelSize - 1 - ox] = sum;
        }
      }
    }

    let sumOfSquares = 0;
    for (let j = 0; j < dim; j++) sumOfSquares += vector[j] * vector[j];
    const norm = Math.sqrt(sumOfSquares);
    // Weights such as 3/5 do not sum exactly, so a uniform image leaves
    // rounding residue. Below 1e-9 of the grey level it counts as zero.
    if (norm <= 1e-9 * Math.sqrt(rawSumOfSquares)) continue;
    for (let j = 0; j < dim; j++) result[image * dim + j] = vector[j] / norm;
  }
  return result;
}
