/**
 * The handler side of clause 9's commands: what a role supplies for each CommandType it
 * accepts. The transport (the `/System/Command` route) and the roles both speak these types,
 * so they live here, below both.
 */
import type { CommandOf } from './command.ts';
import type { CommandType } from './codes.ts';
import type { Principal } from './principal.ts';

/** What a handler learns about the caller. */
export interface CommandContext {
  /** Stable identity of the sender used for de-duplication: its principal, then its X-Sender-ID. */
  sender: string;
  /** Who the API authenticated. */
  principal: Principal;
}

/** A reply body; the route adds CommandType/CommandIdx. */
export type CommandReplyBody = { StatusCode: '0' | '1'; Message?: string } & Record<string, unknown>;

/** One handler per accepted CommandType; an absent one is answered "not accepted here". */
export type CommandHandlers = {
  [K in CommandType]?: (cmd: CommandOf<K>, ctx: CommandContext) => Promise<CommandReplyBody>;
};
