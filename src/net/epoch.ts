/**
 * `X-Retinad-Epoch` (issue 14): scheduler replicas share one store (etcd); each leader has an
 * epoch, a positive integer that only grows from one leader to the next, and sends it with its
 * commands and replies. A receiver that has seen a higher one knows the sender was deposed.
 * This file only reads the header; what a role does with it is the role's.
 */

/** The header, as it is named in messages. */
export const EPOCH_HEADER = 'X-Retinad-Epoch';
/** The largest epoch taken: what a double holds exactly (and SQLite's INTEGER too). */
export const EPOCH_MAX = Number.MAX_SAFE_INTEGER;

/** What a request or reply said about the epoch. */
export type EpochHeader = { kind: 'absent' } | { kind: 'epoch'; epoch: number } | { kind: 'malformed'; message: string };

/** At most this much of a bad value is repeated in a message (a refusal's Message is ≤ 128 bytes). */
const SHOWN = 20;

/** A bad value as a message may show it: printable ASCII only, cut short, quoted. */
function shown(v: string): string {
  const clean = v.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > SHOWN ? `${clean.slice(0, SHOWN)}...` : clean);
}

/**
 * Reads the header's value(s) as Node gives them: a string (repeated headers joined with ", "),
 * or one string per occurrence. Exactly one decimal integer 1..EPOCH_MAX is an epoch; none is
 * absent; anything else (a sign, a fraction, spaces inside, too large, given twice) is malformed,
 * with a message that names the header and what is allowed.
 */
export function parseEpochHeader(value: string | readonly string[] | undefined): EpochHeader {
  if (value === undefined || (typeof value !== 'string' && value.length === 0)) return { kind: 'absent' };
  const parts = (typeof value === 'string' ? [value] : value).flatMap((v) => v.split(','));
  if (parts.length > 1) return { kind: 'malformed', message: `${EPOCH_HEADER}: given ${parts.length} times; send one value` };
  const s = (parts[0] ?? '').trim();
  const n = /^[0-9]{1,16}$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= EPOCH_MAX)) return { kind: 'malformed', message: `${EPOCH_HEADER}: ${shown(s)} is not a decimal integer 1..${EPOCH_MAX}` };
  return { kind: 'epoch', epoch: n };
}

/** The refusal of a command from a deposed leader (it names the header and the rule). */
export function staleEpochMessage(epoch: number, highest: number): string {
  return `${EPOCH_HEADER}: ${epoch} is older than ${highest} (not the current leader)`;
}
