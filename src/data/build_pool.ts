/**
 * The pool of dataset build workers: Deno workers running build_worker.ts,
 * each processing one identity at a time. One more identity waits in each
 * worker's queue, so a worker does not sit idle while the main thread writes
 * the previous outputs.
 *
 * NOTE: On a 2-core machine, 2 workers made only 1.2 to 1.5 times the
 * images of 1 worker, with sharp alone as with the whole build, where two
 * busy loops scale 1.8 to 1.9 times. A pool of child processes, tried
 * instead of workers, measured 1.2 to 1.6 times in repeated runs, so the
 * cause is not only that the workers share one sharp and libvips.
 *
 * @module
 */

import type { IdentityJob, IdentityResult } from "./build_identity.ts";
import type { WorkerInit, WorkerMessage } from "./build_worker.ts";

/** Identities sent to one worker before its first result comes back. */
const JOBS_PER_WORKER = 2;

/** A job sent to a worker and the promise waiting for its result. */
interface Pending {
  job: IdentityJob;
  resolve: (result: IdentityResult) => void;
  reject: (error: Error) => void;
}

/** A build worker failed: it could not start, or an identity threw. */
export class BuildWorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildWorkerError";
  }
}

/**
 * Returns the worker count of `dataset.workers` or `--workers`: the value
 * itself, or one per logical core for 0.
 */
export function resolveWorkerCount(workers: number): number {
  return workers > 0 ? workers : Math.max(1, navigator.hardwareConcurrency);
}

/** Workers that process identities; {@linkcode BuildPool.close} ends them. */
export class BuildPool {
  readonly size: number;
  #workers: Worker[] = [];
  #pending: Pending[][] = [];
  #failure: Error | null = null;
  #onImage: () => void;

  private constructor(size: number, onImage: () => void) {
    this.size = size;
    this.#onImage = onImage;
  }

  /**
   * Starts `size` workers and waits until each has loaded its modules (and
   * its aligner, with detection on).
   *
   * @param onImage Called each time a worker finishes a source image.
   * @throws {BuildWorkerError} When a worker fails to start, with its message.
   */
  static async start(
    size: number,
    init: Omit<WorkerInit, "type">,
    onImage: () => void = () => {},
  ): Promise<BuildPool> {
    const pool = new BuildPool(size, onImage);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < size; w++) {
      const worker = new Worker(
        new URL("./build_worker.ts", import.meta.url),
        { type: "module" },
      );
      pool.#workers.push(worker);
      pool.#pending.push([]);
      ready.push(pool.#listen(worker, w));
      worker.postMessage({ type: "init", ...init } satisfies WorkerInit);
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  /** Handles the messages of worker `w`; resolves once it is ready. */
  #listen(worker: Worker, w: number): Promise<void> {
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
        const message = event.data;
        if (message.type === "ready") resolve();
        else if (message.type === "image") this.#onImage();
        else if (message.type === "done") {
          this.#pending[w].shift()!.resolve(message.result);
        } else {
          const error = new BuildWorkerError(
            message.identity === null
              ? `Cannot start dataset build worker: ${message.message}`
              : `Cannot build identity "${message.identity}": ${message.message}`,
          );
          reject(error);
          this.#fail(error);
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const error = new BuildWorkerError(
          `Dataset build worker failed: ${event.message}`,
        );
        reject(error);
        this.#fail(error);
      };
    });
  }

  /** Rejects every waiting job, since a failed worker's order is lost. */
  #fail(error: Error): void {
    this.#failure ??= error;
    for (const queue of this.#pending) {
      for (const pending of queue.splice(0)) pending.reject(error);
    }
  }

  /** Jobs that can be in flight at once over the pool. */
  get capacity(): number {
    return this.size * JOBS_PER_WORKER;
  }

  /**
   * Sends an identity to the worker with the fewest jobs waiting.
   *
   * @throws {BuildWorkerError} When a worker has failed.
   */
  run(job: IdentityJob): Promise<IdentityResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    let w = 0;
    for (let k = 1; k < this.size; k++) {
      if (this.#pending[k].length < this.#pending[w].length) w = k;
    }
    return new Promise((resolve, reject) => {
      this.#pending[w].push({ job, resolve, reject });
      this.#workers[w].postMessage({ type: "job", job });
    });
  }

  /** Ends every worker; jobs in flight are dropped. */
  close(): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers = [];
  }
}
