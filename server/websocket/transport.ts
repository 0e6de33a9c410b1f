/**
 * What a WebSocket needs from the connection it takes over after the 101 response: the engine's
 * {@linkcode SwitchedTransport} (server/connection/protocol_switch.ts), under the names the
 * WebSocket module uses. The WebSocket never sees a `Deno.Conn`.
 *
 * @module
 */

export type {
  SwitchClock as WebSocketClock,
  SwitchedTransport as WebSocketTransport,
} from "../connection/protocol_switch.ts";
