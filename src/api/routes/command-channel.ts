/**
 * `GET /System/Command` as a WebSocket (PROTOCOL.md, NAT): a registered device opens it with its
 * session token and receives its commands there. Only device sessions may open one (the channel
 * is the device's, keyed by its DeviceID); anything else is answered 401 before the upgrade.
 * The upgrade reply carries our X-Sender-ID, so the device de-duplicates our commands as it
 * does over HTTP.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import { CHANNEL_MAX_BYTES, type ChannelHub } from '../../net/ws-channel.ts';
import type { Principal } from '../../protocol/index.ts';

export interface CommandChannelOptions {
  hub: ChannelHub;
  /** The principal a bearer token belongs to (the session tokens of registered devices). */
  authenticate(token: string): Principal | undefined;
  /** Our X-Sender-ID, told to the device in the upgrade reply. */
  senderId: string;
}

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

/** Accepts command channels on the server's upgrade requests to /System/Command. */
export function attachCommandChannel(app: FastifyInstance, o: CommandChannelOptions): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: CHANNEL_MAX_BYTES });
  wss.on('headers', (headers) => headers.push(`X-Sender-ID: ${o.senderId}`));
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/System/Command') return refuse(socket, '404 Not Found');
    const token = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '')?.[1];
    const who = token ? o.authenticate(token) : undefined;
    if (who?.kind !== 'device') return refuse(socket, '401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => o.hub.attach(who.deviceId, ws));
  });
  app.addHook('onClose', async () => { o.hub.close(); wss.close(); });
}
