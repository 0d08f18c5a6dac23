/**
 * Seeded random numbers. Every random choice in the pipeline comes from a
 * generator derived from the run seed and a name, so that a run is
 * reproducible and one stage's draws never shift another's.
 *
 * @module
 */

/** A deterministic pseudo-random generator (xoshiro128**, 128-bit state). */
export class Rng {
  #s: Uint32Array;

  /**
   * Creates a generator from four 32-bit words of state.
   *
   * @param state Four words, not all zero.
   * @throws {RangeError} When the state is all zero or not four words.
   */
  constructor(state: ArrayLike<number>) {
    if (state.length !== 4) {
      throw new RangeError(
        `Cannot create Rng: expected 4 state words, got ${state.length}`,
      );
    }
    this.#s = Uint32Array.from(state);
    if (this.#s.every((word) => word === 0)) {
      throw new RangeError("Cannot create Rng: state must not be all zero");
    }
  }

  /** Returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Returns a float uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Returns an integer uniform in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(
        `Cannot draw integer: n must be an integer in [1, 2^32], got ${n}`,
      );
    }
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Returns a standard normal sample (Box-Muller transform). */
  normal(): number {
    // 1 - uniform() lies in (0, 1], so the logarithm is finite.
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles an array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /**
   * Picks k distinct indices of [0, n) uniformly, returned in ascending order.
   *
   * @throws {RangeError} When k is larger than n.
   */
  sampleIndices(n: number, k: number): number[] {
    if (k > n) {
      throw new RangeError(
        `Cannot sample ${k} indices: only ${n} are available`,
      );
    }
    const indices = Array.from({ length: n }, (_, i) => i);
    // A partial Fisher-Yates shuffle: the first k slots end up a uniform sample.
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    return indices.slice(0, k).sort((a, b) => a - b);
  }

  /** Returns a copy of the state, for checkpoints. */
  state(): number[] {
    return Array.from(this.#s);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Derives a generator from the run seed and a name, such as
 * `deriveRng(seed, "dataset/sample/celebrity_m.0abc")`.
 *
 * The state is the first 128 bits of SHA-256 over `"<seed>/<name>"`, so
 * generators with different names are independent and the same pair always
 * gives the same sequence, whatever order the generators are made in.
 *
 * @param seed The run seed, a non-negative integer.
 * @param name What the generator is for; any string.
 */
export async function deriveRng(seed: number, name: string): Promise<Rng> {
  const bytes = new TextEncoder().encode(`${seed}/${name}`);
  const digest = new Uint32Array(
    await crypto.subtle.digest("SHA-256", bytes),
  );
  const state = Array.from(digest.subarray(0, 4));
  // An all-zero state has probability 2^-128; fall back to a fixed word.
  return new Rng(state.some((word) => word !== 0) ? state : [1, 0, 0, 0]);
}
