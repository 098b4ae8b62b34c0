/**
 * Voice sessions: `client.realtime(options)` over a realtime endpoint, with the cascaded
 * fallback (speech to text, text, speech). See README.md in this folder and docs/realtime.md.
 */
export { RealtimeSession, realtimeSession } from './session.js';
export type { RealtimeHost } from './session.js';
export type {
  CascadeOptions,
  RealtimePath,
  RealtimeResponseStatus,
  RealtimeRoute,
  RealtimeSessionEvent,
  RealtimeSessionOptions,
  RealtimeSessionTool,
  RealtimeStage,
} from './types.js';
export type { VadSettings } from './vad.js';
export { decodeWav, wavFromPcm16 } from './audio.js';
