/**
 * Public shapes of `client.realtime()`: its options, the events a session yields and the route
 * each response carries.
 *
 * Imports: ../target.ts, ../types.ts, ../time/clock.ts, ./vad.ts (types only).
 */
import type { RealtimeTool, Usage } from '../target.js';
import type { Clock } from '../time/clock.js';
import type { Latency, Privacy } from '../types.js';
import type { VadSettings } from './vad.js';

/** A tool the model may call; with `execute` the session answers the call itself. */
export interface RealtimeSessionTool extends RealtimeTool {
  /** Runs the call (arguments parsed from JSON); the result (a string, else JSON) goes back as `function_call_output`. */
  execute?(args: unknown, info: { callId: string }): unknown;
}

export interface RealtimeSessionOptions {
  /**
   * Budget for the first audio of every response, from the moment the response is asked for (a
   * commit, `sendText`, a tool result, the end of speech), ms or a segment name. Connecting to the
   * realtime endpoint must also fit in it. A realtime endpoint that misses it hands the session to
   * the cascaded path. @default 'interactive' (2,000 ms)
   */
  latency?: Latency;
  /** The voice of both paths. @default the provider's ('alloy' for OpenAI) */
  voice?: string;
  /** System instructions (the conversation's system message on the cascaded path). @default none */
  instructions?: string;
  /** Functions the model may call (realtime path; the cascaded path's text targets take no tools). @default none */
  tools?: RealtimeSessionTool[];
  /** `vad`: speech is detected (by the endpoint, or on the device on the cascaded path) and each pause ends a turn; `manual`: only `commit()` does. @default 'vad' */
  turnDetection?: 'vad' | 'manual';
  /** The device's voice activity detector (cascaded path). @default threshold 0.05, silence 200 ms */
  vad?: VadSettings;
  /** Conversation id in the client's store: turns are recorded there, and a reconnect restores them. @default a new random id */
  conversation?: string;
  /** `device-only` keeps every stage on the device (no realtime endpoint, no cloud stage). @default 'any' */
  privacy?: Privacy;
  /** Realtime targets to consider, in order. @default every target with a `realtime` capability, in client order */
  targets?: string[];
  /** The cascaded path, or `false` for none (a realtime failure then ends the session with an error). */
  cascade?: false | CascadeOptions;
  /** PCM16 sample rate of `sendAudio` and of the audio deltas, Hz. @default the realtime target's (24,000) */
  sampleRate?: number;
  /** The session ends itself after this long, ms. @default the realtime provider's session limit (OpenAI: 60 minutes); none on the cascaded path */
  maxDurationMs?: number;
  /** Reconnects after a dropped socket, each with the conversation restored from the store. @default 1 */
  maxReconnects?: number;
  /** Ends the session (as `close()`). */
  abortSignal?: AbortSignal;
  /** For tests: the session's timers. @default systemClock */
  clock?: Clock;
}

export interface CascadeOptions {
  /** Transcription targets, in order. @default the router's choice among targets with transcription */
  transcribeTargets?: string[];
  /** Text targets, in order. @default the router's choice, fastest first */
  textTargets?: string[];
  /** Speech targets, in order. @default the router's choice among targets with speech */
  speechTargets?: string[];
  /** Budget of each stage's call, ms or a segment name. @default 'interactive' */
  stageLatency?: Latency;
  /** Sample rate of the WAV sent to transcription, Hz (Whisper and wav2vec2 models take 16 kHz). @default 16,000 */
  transcribeSampleRate?: number;
  /** A sentence goes to speech once it holds this many characters (or ends with . ! ? ;). @default 80 */
  maxChunkChars?: number;
  /** Longest answer, tokens. @default the text target's */
  maxOutputTokens?: number;
}

export type RealtimePath = 'realtime' | 'cascaded';

/** One stage of one response: the realtime endpoint, or transcription, text and speech. */
export interface RealtimeStage {
  stage: 'connect' | 'realtime' | 'transcribe' | 'text' | 'speech';
  target?: string;
  /** From the stage's start to its end, ms. */
  ms: number;
  /** text: until the first sentence was ready for speech; speech: until the first audio was synthesized, ms. */
  firstMs?: number;
  outcome: 'ok' | 'timeout' | 'error' | 'cancelled';
  code?: string;
}

/** Where a response ran and how long each part took. */
export interface RealtimeRoute {
  path: RealtimePath;
  /** The realtime target, on that path. */
  target?: string;
  budgetMs: number;
  /** From the response being asked for to its first audio, ms. */
  firstAudioMs?: number;
  /** From the response being asked for to its end, ms. */
  totalMs: number;
  withinBudget: boolean;
  /** The realtime path was tried for this response (or this session) and the cascaded one answered. */
  fellBack: boolean;
  /** Why this path answered. */
  reason: string;
  stages: RealtimeStage[];
}

export type RealtimeResponseStatus = 'completed' | 'cancelled' | 'failed' | 'incomplete';

export type RealtimeSessionEvent =
  /** The session can take input on `path` (again after a fallback or reconnect). */
  | { type: 'session-ready'; path: RealtimePath; target?: string }
  | { type: 'speech-started' }
  | { type: 'speech-stopped' }
  /** What the user said (transcribed), or typed. */
  | { type: 'input-transcript'; text: string }
  | { type: 'response-started'; responseId: string; path: RealtimePath }
  /** PCM16 LE mono at `sampleRate`. */
  | { type: 'audio-delta'; responseId: string; audio: Uint8Array; sampleRate: number }
  | { type: 'transcript-delta'; responseId: string; text: string }
  | { type: 'tool-call'; responseId: string; callId: string; name: string; arguments: string }
  | { type: 'response-done'; responseId: string; status: RealtimeResponseStatus; transcript: string; usage?: Usage; route: RealtimeRoute; reason?: string }
  | { type: 'fallback'; from: 'realtime'; to: 'cascaded'; target: string; reason: string; afterMs: number }
  | { type: 'reconnected'; target: string; restoredMessages: number; afterMs: number }
  | { type: 'error'; error: unknown }
  | { type: 'closed'; reason: 'client' | 'session-limit' | 'failed' | 'aborted' };
