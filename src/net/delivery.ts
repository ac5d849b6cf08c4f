/**
 * What became of one delivery attempt, so a sender knows whether to try again: done (the peer
 * accepted it), retry (it may pass with time) or permanent (the peer judged the message itself).
 */
import type { HttpReply } from './client.ts';

/**
 * Absent `permanent` means retry; `retryInMs` (a retry) says when, instead of the sender's own
 * backoff — 0 when the next attempt goes elsewhere (another scheduler replica).
 */
export type DeliveryOutcome = { ok: true } | { ok: false; permanent?: boolean; retryInMs?: number; message: string };

/**
 * Judges a reply: HTTP 200 with StatusCode "0" is done; 401 (session lost), 408, 429 and 5xx
 * pass with time; any other refusal (a 4xx, or StatusCode "1" on 200) will not change on a retry.
 */
export function deliveryOutcome(r: HttpReply): DeliveryOutcome {
  const b = r.body as { StatusCode?: unknown; Message?: unknown } | undefined;
  if (r.status === 200 && b?.StatusCode === '0') return { ok: true };
  const transient = r.status === 401 || r.status === 408 || r.status === 429 || r.status >= 500;
  return { ok: false, permanent: !transient, message: `HTTP ${r.status}: ${typeof b?.Message === 'string' ? b.Message : ''}` };
}
