/**
 * The fixed embeddings file of the protocol test: 6,000 pairs of 128-d unit
 * vectors in the LFW layout (10 folds of 300 same-person pairs followed by
 * 300 different-person pairs), drawn from a fixed seed with overlapping
 * same-person and different-person distances.
 */
import type { EmbeddingsDump } from "../../src/eval/embeddings_dump.ts";
import { Rng } from "../../src/rng.ts";

const PAIRS = 6000;
const DIM = 128;

function unitNormal(rng: Rng, out: Float64Array): void {
  let sumOfSquares = 0;
  for (let j = 0; j < out.length; j++) {
    out[j] = rng.normal();
    sumOfSquares += out[j] * out[j];
  }
  const norm = Math.sqrt(sumOfSquares);
  for (let j = 0; j < out.length; j++) out[j] /= norm;
}

/**
 * Draws the file's contents. Each pair's second vector is
 * `normalise(w * first + noise)` with a unit noise vector and a weight
 * `w ~ N(0.75, 0.35)` for same-person pairs and `N(0, 0.35)` for
 * different-person pairs, so the two distance distributions overlap.
 */
export function goldenEmbeddings(): EmbeddingsDump {
  const rng = new Rng([2018, 4, 19, DIM]);
  const embeddings1 = new Float32Array(PAIRS * DIM);
  const embeddings2 = new Float32Array(PAIRS * DIM);
  const issame = new Uint8Array(PAIRS);
  const first = new Float64Array(DIM);
  const noise = new Float64Array(DIM);
  for (let p = 0; p < PAIRS; p++) {
    const same = p % 600 < 300;
    issame[p] = same ? 1 : 0;
    unitNormal(rng, first);
    unitNormal(rng, noise);
    const weight = (same ? 0.75 : 0) + 0.35 * rng.normal();
    let sumOfSquares = 0;
    for (let j = 0; j < DIM; j++) {
      noise[j] += weight * first[j];
      sumOfSquares += noise[j] * noise[j];
    }
    const norm = Math.sqrt(sumOfSquares);
    for (let j = 0; j < DIM; j++) {
      embeddings1[p * DIM + j] = first[j];
      embeddings2[p * DIM + j] = noise[j] / norm;
    }
  }
  return { embeddings1, embeddings2, issame, pairs: PAIRS, dim: DIM };
}
