/**
 * MQTT as a result and event sink beside NotifyURL (issue 16 item 6), for the tools operators
 * already run (Home Assistant, Node-RED, a broker feeding their VMS): every stored task_result
 * and every task status change is published, QoS 1, to
 *   <prefix>/<SchedulerID>/tasks/<TaskID>/results   (the table 26 TaskResult body)
 *   <prefix>/<SchedulerID>/tasks/<TaskID>/status    (the table 31 TaskStatus)
 * Messages wait in the scheduler's database (table mqtt_outbox) until the broker acknowledges
 * them (PUBACK), so a broker that restarts or is unreachable for a while loses nothing; they go
 * out in the order they were made. The backlog is bounded (oldest dropped first, counted).
 */
import type Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../log.ts';

export interface MqttSinkOptions {
  /** `mqtt://host:1883` or `mqtts://…` (the operator's broker; a username may be in the URL). */
  url: string;
  /** Topic prefix (default `retinad`). */
  prefix?: string;
  /** The broker password (read from a file by the command line, never from the URL or a flag). */
  password?: string;
  schedulerId: string;
  /** Most messages kept while the broker is away (default 100,000). */
  maxBacklog?: number;
  log: Logger;
}

/** Messages published at once while earlier ones wait for their PUBACK. */
const WINDOW = 32;

export class MqttSink {
  private readonly client: MqttClient;
  private readonly prefix: string;
  private draining = false;
  private closed = false;
  /** Messages dropped because the backlog was full (a metric). */
  dropped = 0;

  constructor(private readonly db: Database.Database, private readonly o: MqttSinkOptions) {
    db.exec('CREATE TABLE IF NOT EXISTS mqtt_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload TEXT NOT NULL, at INTEGER NOT NULL)');
    this.prefix = (o.prefix ?? 'retinad').replace(/\/+$/, '');
    // A persistent session (clean: false) under a stable client id: the broker keeps our
    // in-flight state across our reconnects; our own table keeps everything across its restarts.
    this.client = mqtt.connect(o.url, {
      clientId: `retinad-${o.schedulerId}`, clean: false, reconnectPeriod: 1000, connectTimeout: 10_000,
      ...(o.password !== undefined ? { password: o.password } : {}),
    });
    this.client.on('connect', () => { o.log.info({ broker: redact(o.url) }, 'MQTT connected'); void this.drain(); });
    this.client.on('error', (err) => o.log.warn({ broker: redact(o.url), err: err.message }, 'MQTT error'));
    // A connection lost while acknowledgements are awaited ends that wait (they may never come
    // for this connection); 'connect' starts again from what the table still holds.
    this.client.on('close', () => { const w = this.lost; this.lost = null; w?.(); });
  }

  private lost: (() => void) | null = null;

  /** Topic of a task's results or status. */
  topic(taskId: string, what: 'results' | 'status'): string {
    return `${this.prefix}/${this.o.schedulerId}/tasks/${taskId}/${what}`;
  }

  /** Queues one message (on disk before this returns) and starts sending if connected. */
  publish(taskId: string, what: 'results' | 'status', body: unknown): void {
    if (this.closed) return;
    this.db.prepare('INSERT INTO mqtt_outbox (topic, payload, at) VALUES (?, ?, ?)').run(this.topic(taskId, what), JSON.stringify(body), Date.now());
    const over = this.backlog() - (this.o.maxBacklog ?? 100_000);
    if (over > 0) {
      this.db.prepare('DELETE FROM mqtt_outbox WHERE seq IN (SELECT seq FROM mqtt_outbox ORDER BY seq LIMIT ?)').run(over);
      if (this.dropped === 0) this.o.log.warn({ max: this.o.maxBacklog ?? 100_000 }, 'MQTT backlog full: oldest messages dropped');
      this.dropped += over;
    }
    void this.drain();
  }

  /** Messages waiting for the broker. */
  backlog(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM mqtt_outbox').get() as { n: number }).n;
  }

  private async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    this.draining = true;
    try {
      while (this.client.connected && !this.closed) {
        const rows = this.db.prepare('SELECT seq, topic, payload FROM mqtt_outbox ORDER BY seq LIMIT ?').all(WINDOW) as Array<{ seq: number; topic: string; payload: string }>;
        if (!rows.length) break;
        // Published in order; each row leaves the table only when the broker has acknowledged it.
        const acks = rows.map((r) => this.client.publishAsync(r.topic, r.payload, { qos: 1 }).then(() => {
          this.db.prepare('DELETE FROM mqtt_outbox WHERE seq = ?').run(r.seq);
        }));
        const gone = new Promise<'gone'>((r) => { this.lost = () => r('gone'); });
        const outcome = await Promise.race([Promise.allSettled(acks), gone]);
        this.lost = null;
        // The connection went: 'connect' resumes (QoS 1 may then send a row twice, never lose one).
        if (outcome === 'gone' || outcome.some((x) => x.status === 'rejected')) break;
      }
    } finally {
      this.draining = false;
    }
  }

  /** Resolves when the backlog is empty (tests, shutdown), or after `timeoutMs`. */
  async idle(timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.backlog() === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** The broker URL without any password in it, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
