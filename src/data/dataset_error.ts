/**
 * The error of the dataset stage that a task catches to show a one-line
 * message without a stack trace: missing or malformed input folders.
 *
 * @module
 */

/** A problem with the dataset inputs, naming the path at fault. */
export class DatasetError extends Error {
  /** The file or folder at fault. */
  path: string;

  constructor(path: string, message: string) {
    super(message);
    this.name = "DatasetError";
    this.path = path;
  }
}
