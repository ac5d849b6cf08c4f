/** Session tokens handed out at Register (EM1): one live token per device, found both ways without a scan. */
import { randomBytes } from 'node:crypto';

export class SessionTokens {
  private readonly byToken = new Map<string, string>();
  private readonly byDevice = new Map<string, string>();

  /** A new token for `deviceId`; its previous one stops working. */
  issue(deviceId: string): string {
    this.forget(deviceId);
    const token = randomBytes(24).toString('hex');
    this.byToken.set(token, deviceId);
    this.byDevice.set(deviceId, token);
    return token;
  }

  deviceOf(token: string): string | undefined {
    return this.byToken.get(token);
  }

  forget(deviceId: string): void {
    const token = this.byDevice.get(deviceId);
    if (token === undefined) return;
    this.byDevice.delete(deviceId);
    this.byToken.delete(token);
  }
}
