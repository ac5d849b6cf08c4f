/**
 * Signed pushes to a NotifyURL. The scheduler never sends its node token to an initiator's URL
 * (anyone who can submit a task could name their own URL and collect it); instead every push
 * carries `X-Retinad-Signature: t=<ms>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>` with a key of that
 * task alone, returned to the initiator when the task is accepted (TaskRequest reply NotifyKey).
 * A receiver checks it with verifyNotification and needs no node secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-retinad-signature';

/** The task's notification key: derived from the scheduler's secret, so nothing per task is stored. */
export function notifyKey(secret: Buffer, taskId: string): string {
  return createHmac('sha256', secret).update(`notify:${taskId}`).digest('base64url');
}

/** The header value for `body` (the exact JSON text sent) at time `t` (ms). */
export function signNotification(key: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;
}

/** True when `header` signs `body` with `key` and is at most `toleranceMs` old (replays of old pushes fail). */
export function verifyNotification(key: string, header: string | undefined, body: string, now = Date.now(), toleranceMs = 5 * 60_000): boolean {
  const [, stamp, v1] = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(header ?? '') ?? [];
  if (stamp === undefined || v1 === undefined) return false;
  const t = Number(stamp);
  if (Math.abs(now - t) > toleranceMs) return false;
  // signNotification always writes "v1="; were it missing, the empty buffer fails the length check.
  const want = Buffer.from(signNotification(key, body, t).split('v1=')[1] ?? '', 'hex');
  const got = Buffer.from(v1, 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}
