/**
 * What the outbox stores and hands its sender: one queued HTTP call, serialised once when it is
 * queued; that stored text is the body that goes out, without being serialised again.
 */
import type { DeliveryOutcome } from '../net/delivery.ts';

/** One queued HTTP call: a command (`POST /System/Command`) or a report (`PATCH …`). */
export interface OutboxMessage {
  method: 'POST' | 'PATCH';
  path: string;
  body: Record<string, unknown>;
}

/**
 * A queued message as its sender gets it: `bodyJson` is the body exactly as it was serialised
 * when it was queued (the text on disk), so it goes out without being serialised again; `body`
 * parses that text only if it is read.
 */
export interface QueuedMessage extends OutboxMessage {
  readonly bodyJson: string;
}

export interface OutboxSender {
  /**
   * Delivers one message; `seq` is its durable, never reused sequence number (the CommandIdx of
   * a command). Resolves ok when the peer accepted it (StatusCode "0").
   */
  (destUrl: string, seq: number, msg: QueuedMessage): Promise<DeliveryOutcome>;
}

/**
 * The one serialisation of a message: the text stored on disk. Written as
 * `{"method":…,"path":…,"body":…}`, which is what JSON.stringify makes of an OutboxMessage, so
 * the body's text can be cut out of a stored row again (see `queuedMessage`).
 */
export function serialise(msg: OutboxMessage): string {
  return `{"method":${JSON.stringify(msg.method)},"path":${JSON.stringify(msg.path)},"body":${JSON.stringify(msg.body)}}`;
}

const STORED_HEAD = /^\{"method":"(POST|PATCH)","path":("(?:[^"\\]|\\.)*"),"body":/;

/** A stored row's message; the body stays text unless the sender reads `body`. */
export function queuedMessage(text: string): QueuedMessage {
  const [head, method, path] = STORED_HEAD.exec(text) ?? [];
  if (head && method && path && text.endsWith('}')) {
    const bodyJson = text.slice(head.length, -1);
    let body: Record<string, unknown> | undefined;
    return {
      method: method as OutboxMessage['method'], path: JSON.parse(path) as string, bodyJson,
      get body() { return (body ??= JSON.parse(bodyJson) as Record<string, unknown>); },
    };
  }
  // Any other layout (a row written by hand): parsed and the body serialised again.
  const msg = JSON.parse(text) as OutboxMessage;
  return { method: msg.method, path: msg.path, body: msg.body, bodyJson: JSON.stringify(msg.body) };
}
