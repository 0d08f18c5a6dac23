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
 * @throws The first error of `work`, once the calls in flight have
 *   settled; items not yet started are not run.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  async function worker(): Promise<void> {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  const workers = Array.from(
    { length: Math.max(1, Math.min(concurrency, items.length)) },
    worker,
  );
  // Wait for the calls in flight even after a failure, so that none of them
  // still writes once the caller sees the error and cleans up.
  await Promise.all(workers);
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}
