/**
 * Runs asynchronous work on a list with a bounded number of items in flight,
 * keeping results in input order, so that sharp's thread pool stays busy
 * without decoding a whole dataset at once.
 *
 * @module
 */

/**
 * Maps `items` through `work` with at most `concurrency` calls pending.
 *
 * @returns The results in the order of `items`.
 * @throws The first error of `work`; items not yet started are not run.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  async function worker(): Promise<void> {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }
  const workers = Array.from(
    { length: Math.max(1, Math.min(concurrency, items.length)) },
    worker,
  );
  await Promise.all(workers);
  return results;
}
