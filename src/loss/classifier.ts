/**
 * The ArcFace classifier weight W [D, classes], held as shards along the
 * class axis so each shard's logits can be computed and freed in turn.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { ownedVariable } from "../model/mobilefacenet.ts";
import { deriveRng } from "../rng.ts";

/** Standard deviation of the initial class centres (as insightface). */
const INITIAL_STD = 0.01;

/** Returns the class count of each shard: equal sizes, the last one smaller. */
export function shardSizes(numClasses: number, shards: number): number[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > numClasses) {
    throw new RangeError(
      `Cannot split ${numClasses} classes into ${shards} shards: expected 1 to ${numClasses} shards`,
    );
  }
  const size = Math.ceil(numClasses / shards);
  const sizes: number[] = [];
  for (let start = 0; start < numClasses; start += size) {
    sizes.push(Math.min(size, numClasses - start));
  }
  return sizes;
}

/**
 * Creates the seeded classifier shards, named `classifier/shard<k>` in
 * checkpoints.
 *
 * Shard k is [D, K_k] float32 from N(0, 0.01^2), drawn from the generator
 * `init/classifier/shard<k>`. The caller owns and disposes the variables.
 * The number of shards can come out lower than requested when the classes
 * do not fill them (7 classes in 4 shards of 2 leave 4 shards, 5 in 4 leave 3).
 */
export async function createClassifierShards(
  numClasses: number,
  embeddingSize: number,
  shards: number,
  seed: number,
): Promise<{ name: string; variable: tf.Variable }[]> {
  const variables: { name: string; variable: tf.Variable }[] = [];
  for (const [k, size] of shardSizes(numClasses, shards).entries()) {
    const rng = await deriveRng(seed, `init/classifier/shard${k}`);
    const values = new Float32Array(embeddingSize * size);
    for (let i = 0; i < values.length; i++) {
      values[i] = INITIAL_STD * rng.normal();
    }
    variables.push({
      name: `classifier/shard${k}`,
      variable: ownedVariable(
        () => tf.tensor2d(values, [embeddingSize, size]),
        true,
      ),
    });
  }
  return variables;
}
