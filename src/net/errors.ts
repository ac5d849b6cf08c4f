/** The two ways a call to another node fails: the wire, or the peer's refusal. */

/** Error for a peer that could not be reached or answered with something that isn't JSON (or not the reply its schema describes). */
export class PeerError extends Error {
  constructor(message: string, readonly status?: number, readonly body?: unknown) {
    super(message);
    this.name = 'PeerError';
  }
}

/** A well-formed reply with StatusCode "1": the peer understood the command and said no; `message` is its Message. */
export class CommandRefused extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'CommandRefused';
  }
}
