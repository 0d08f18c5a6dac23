/**
 * Progress for long work (scanning folders, building the dataset, training,
 * extracting embeddings): done and total, rate and time left, written as one
 * line to a stream the caller passes in.
 *
 * @module
 */

/** Destination of progress and human lines: stderr in tasks, a buffer in tests. */
export interface LineWriter {
  /** Writes one line of text; the writer adds the line ending. */
  writeLine(line: string): void;
}

/** Options of {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /** Unit shown after the counts and the rate, such as "images". */
  unit: string;
  /** Minimum milliseconds between two lines, except the last. Default 2000. */
  intervalMs?: number;
  /** Clock in milliseconds; tests pass a fake one. Default `performance.now`. */
  now?: () => number;
}

/** Formats seconds as `1h02m`, `3m05s` or `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

/**
 * Reports done, total, rate and time left for one piece of long work, at most
 * once per interval and always at the end.
 *
 * @example Usage
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const lines: string[] = [];
 * const bar = new ProgressBar("dataset", 10, { writeLine: (l) => lines.push(l) }, { unit: "images" });
 * bar.update(10);
 * ```
 */
export class ProgressBar {
  #label: string;
  #total: number;
  #writer: LineWriter;
  #unit: string;
  #intervalMs: number;
  #now: () => number;
  #start: number;
  #lastWrite = -Infinity;
  #done = 0;
  #detail = "";

  constructor(
    label: string,
    total: number,
    writer: LineWriter,
    options: ProgressOptions,
  ) {
    this.#label = label;
    this.#total = total;
    this.#writer = writer;
    this.#unit = options.unit;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Items done per second since the bar was created. */
  get rate(): number {
    const seconds = (this.#now() - this.#start) / 1000;
    return seconds > 0 ? this.#done / seconds : 0;
  }

  /**
   * Sets the count done and writes a line when the interval has passed.
   *
   * @param detail Shown at the end of the line, such as a second count.
   */
  update(done: number, detail = ""): void {
    this.#done = done;
    this.#detail = detail;
    const now = this.#now();
    const finished = done >= this.#total;
    if (!finished && now - this.#lastWrite < this.#intervalMs) return;
    this.#lastWrite = now;
    this.#writer.writeLine(this.format());
  }

  /** Formats the current line, such as `dataset 120/400 images  35.1/s  eta 8s`. */
  format(): string {
    const rate = this.rate;
    const percent = this.#total > 0
      ? ((100 * this.#done) / this.#total).toFixed(0)
      : "100";
    const left = rate > 0 ? (this.#total - this.#done) / rate : NaN;
    const elapsed = (this.#now() - this.#start) / 1000;
    const tail = this.#done >= this.#total
      ? `done in ${formatDuration(elapsed)}`
      : `eta ${formatDuration(left)}`;
    return `${this.#label} ${this.#done}/${this.#total} ${this.#unit} ` +
      `(${percent}%)  ${rate.toFixed(1)}/s  ${tail}` +
      (this.#detail === "" ? "" : `  ${this.#detail}`);
  }
}

/** A writer that sends lines to standard error. */
export const stderrWriter: LineWriter = {
  writeLine(line: string): void {
    Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  },
};

/** A writer that drops every line. */
export const silentWriter: LineWriter = { writeLine(): void {} };
