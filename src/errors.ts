/**
 * The error a user can fix: bad input, missing files, a state of a run that
 * does not allow the request. Tasks print its message without a stack trace.
 *
 * @module
 */

/** A request that cannot be carried out as given; the message states what to do. */
export class InputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InputError";
  }
}
