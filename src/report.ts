/**
 * How modules under `src/` report what they do without printing: they take a
 * `Reporter`, and the task that calls them decides where records and lines go.
 *
 * @module
 */

import { type LineWriter, ProgressBar, silentWriter } from "./progress.ts";

/** Receives structured records, human lines and progress from library code. */
export interface Reporter {
  /** Records one event as a JSON object (one line of a `.jsonl` log). */
  record(event: Record<string, unknown>): void;
  /** Shows one short human-readable line. */
  info(line: string): void;
  /** Starts a progress bar for `total` items of `unit`. */
  progress(label: string, total: number, unit: string): ProgressBar;
}

/** Options of {@linkcode createReporter}. */
export interface ReporterOptions {
  /** Destination of human lines and progress. */
  writer: LineWriter;
  /** Called with each record; by default records are dropped. */
  onRecord?: (event: Record<string, unknown>) => void;
  /** Clock for progress bars, in milliseconds. */
  now?: () => number;
}

/** Creates a reporter that writes lines to `writer` and forwards records. */
export function createReporter(options: ReporterOptions): Reporter {
  const { writer, onRecord, now } = options;
  return {
    record(event) {
      onRecord?.(event);
    },
    info(line) {
      writer.writeLine(line);
    },
    progress(label, total, unit) {
      return new ProgressBar(label, total, writer, { unit, now });
    },
  };
}

/** A reporter that drops everything; the default in library calls and tests. */
export const silentReporter: Reporter = createReporter({
  writer: silentWriter,
});
