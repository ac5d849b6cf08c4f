/**
 * An executor that speaks only the command protocol, for scheduler tests: it offers frame
 * extraction (or the algorithms given), takes every command, records what it was sent and can
 * delay its answer to task_dispatch.
 */
import http from 'node:http';
import type net from 'node:net';

export interface SeenCommand { deviceId: string; type: string; body: Record<string, unknown> }

export const FRAME_EXTRACTION_ALGS = [{ AlgID: 1001, AlgType: 'frame_extraction', AlgVersion: '1.0.0', AlgStatus: 1 }];

/** Starts one; `url` is its CommandURL base. */
export async function fakeExecutor(deviceId: string, o: { seen?: SeenCommand[]; algs?: unknown[]; dispatchDelayMs?: number } = {}): Promise<{ url: string; close(): void }> {
  const srv = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      const j = JSON.parse(b || '{}') as { CommandType?: string; CommandIdx?: number; MessageBody?: Record<string, unknown> };
      o.seen?.push({ deviceId, type: j.CommandType ?? '', body: j.MessageBody ?? {} });
      const reply: Record<string, unknown> = { CommandType: j.CommandType, CommandIdx: j.CommandIdx, StatusCode: '0' };
      if (j.CommandType === 'algorithm_res_query') reply.AlgResourceList = [{ DeviceID: deviceId, AlgInfoList: o.algs ?? FRAME_EXTRACTION_ALGS }];
      const send = () => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(reply)); };
      if (j.CommandType === 'task_dispatch' && o.dispatchDelayMs) setTimeout(send, o.dispatchDelayMs); else send();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, close: () => srv.close() };
}
