/**
 * `client.realtime(options)`: one voice session, on the realtime path (a speech-to-speech
 * endpoint over a socket: the target's `realtime` capability) or on the cascaded path (speech to
 * text, the fastest text target streamed, then speech, through the client's own calls), with the
 * same events either way and a route on every response.
 *
 * The session starts on the realtime path when a realtime target exists and privacy allows it;
 * it falls back to the cascaded path when the endpoint refuses, does not connect within the
 * budget, misses the budget for a response's first audio (that response is cancelled there and
 * answered here), or drops again after its reconnects. A dropped socket reconnects (once by
 * default) with the conversation restored from the store and the interrupted turn asked again.
 * User speech during a response cancels it (barge-in) on both paths. Nothing outlives `close()`:
 * no socket, no timer, no call in flight.
 *
 * Imports: ../target.ts, ../types.ts, ../errors.ts, ../router/segments.ts, ../time/clock.ts,
 * ../conversation (types), and this folder.
 */
import type { Conversation } from '../conversation/conversation.js';
import type { ConversationOptions } from '../conversation/options.js';
import { DeadlineExceededError, InferlaneError, InvalidRequestError, ProviderError, toInferlaneError } from '../errors.js';
import { resolveLatency } from '../router/segments.js';
import type { Message, RealtimeCommand, RealtimeConnection, RealtimeHistoryItem, RealtimeServerEvent, Target, Usage } from '../target.js';
import { type Clock, systemClock } from '../time/clock.js';
import type { SpeechRequest, SpeechResponse, TranscribeRequest, TranscribeResponse } from '../types.js';
import { concatBytes, decodeWav, pcm16Samples, resample, samplesToPcm16, toPcm16Bytes, wavFromPcm16 } from './audio.js';
import { EventQueue } from './event-queue.js';
import type { CascadeOptions, RealtimePath, RealtimeResponseStatus, RealtimeRoute, RealtimeSessionEvent, RealtimeSessionOptions, RealtimeSessionTool, RealtimeStage } from './types.js';
import { EnergyVad } from './vad.js';

/** What a session needs of the client: its public surface only. `InferlaneClient` is one. */
export interface RealtimeHost {
  readonly targets: readonly Target[];
  transcribe(request: TranscribeRequest): Promise<TranscribeResponse>;
  generateSpeech(request: SpeechRequest): Promise<SpeechResponse>;
  conversation(id: string, options?: ConversationOptions): Conversation;
}

/** What started a response: typed text, committed audio, or a tool's result. */
interface TurnInput {
  text?: string;
  audio?: Uint8Array;
  tool?: { callId: string; output: string };
}

interface Pending {
  input: TurnInput;
  path: RealtimePath;
  requestedAt: number;
  id?: string;
  transcript: string;
  firstAudioAt?: number;
  usage?: Usage;
  stages: RealtimeStage[];
  fellBack: boolean;
  reason: string;
  budgetTimer?: unknown;
  /** Cancel asked before the provider named the response (sent once it does). */
  cancelReason?: string;
  /** Cascaded path: aborts the turn's calls. */
  controller?: AbortController;
  /** Realtime path: the input was committed there by the provider (VAD) or by us. */
  committed?: boolean;
}

const defaultTranscribeRate = 16_000;
/** Audio kept from before speech starts (detectors start a little late), ms. OpenAI's prefix_padding_ms default. */
const prerollMs = 300;
/** Longest turn the session holds in memory, ms: older audio of an endless turn is dropped. */
const maxTurnMs = 120_000;
/** How late a realtime endpoint's speech_started may come after the audio it is about, at most, ms. */
const serverVadSlackMs = 2_000;
const defaultChunkChars = 80;

let sessionCounter = 0;

export class RealtimeSession implements AsyncIterable<RealtimeSessionEvent> {
  /** The conversation that records this session's turns. */
  readonly conversationId: string;
  /** PCM16 sample rate of `sendAudio` and of audio deltas, Hz. */
  readonly sampleRate: number;
  /** Budget for each response's first audio, ms. */
  readonly budgetMs: number;
  /** Resolves once the session takes input on some path (realtime, or cascaded after a fallback). */
  readonly ready: Promise<RealtimePath | 'closed'>;

  private readonly host: RealtimeHost;
  private readonly options: RealtimeSessionOptions;
  private readonly clock: Clock;
  private readonly queue: EventQueue<RealtimeSessionEvent>;
  private readonly turnDetection: 'vad' | 'manual';
  private readonly cascade: CascadeOptions | false;
  private readonly candidates: Target[];
  private readonly startedAt: number;
  private readonly timers = new Set<unknown>();
  private path: RealtimePath | 'connecting' = 'connecting';
  private target: Target | undefined;
  private connection: RealtimeConnection | undefined;
  /** Commands asked for while (re)connecting, sent once the connection is ready. */
  private waitingCommands: RealtimeCommand[] = [];
  private connectController: AbortController | undefined;
  private inputAudio: Uint8Array[] = [];
  private inputBytes = 0;
  /** Between speech-started and speech-stopped (either detector). */
  private userSpeaking = false;
  private vad: EnergyVad | undefined;
  private current: Pending | undefined;
  /** Inputs that arrived while a response was being cancelled, started in order after it. */
  private queued: TurnInput[] = [];
  private cascadeRun: Promise<void> = Promise.resolve();
  private records: Promise<void> = Promise.resolve();
  private unrecordedUser: string | undefined;
  private reconnects = 0;
  private fellBack = false;
  private cascadeReason = '';
  private responseCount = 0;
  private closing: Promise<void> | undefined;
  private finished = false;
  private conversationObject: Conversation | undefined;
  private resolveReady!: (path: RealtimePath | 'closed') => void;
  private readyMarked = false;
  /** The connection flow under way (the first connect, a reconnect): close() waits for it. */
  private connectFlow: Promise<void> = Promise.resolve();
  /** Identifies the adopted connection's events (a closed one's late events are ignored). */
  private activeToken: object | undefined;
  private connectingToken: object | undefined;
  private readonly removeAbortListener: () => void;

  constructor(host: RealtimeHost, options: RealtimeSessionOptions = {}) {
    validateOptions(host, options);
    this.host = host;
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.budgetMs = resolveLatency(options.latency ?? 'interactive').budgetMs;
    this.turnDetection = options.turnDetection ?? 'vad';
    this.cascade = options.cascade === false ? false : (options.cascade ?? {});
    this.conversationId = options.conversation ?? `realtime-${Date.now().toString(36)}-${(++sessionCounter).toString(36)}`;
    this.candidates = options.privacy === 'device-only' ? [] : realtimeTargets(host.targets, options.targets);
    this.sampleRate = options.sampleRate ?? this.candidates[0]?.realtime?.sampleRate ?? 24_000;
    this.startedAt = this.clock.now();
    this.queue = new EventQueue(() => void this.close());
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    const signal = options.abortSignal;
    const onAbort = () => void this.end('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    this.removeAbortListener = () => signal?.removeEventListener('abort', onAbort);
    if (signal?.aborted) {
      void this.end('aborted');
      return;
    }
    this.connectFlow = this.start();
  }

  /** Read through a method: TypeScript would narrow the field across the awaits that change it. */
  private onCascade(): boolean {
    return this.path === 'cascaded';
  }

  private markReady(path: RealtimePath | 'closed'): void {
    if (this.readyMarked) return;
    this.readyMarked = true;
    this.resolveReady(path);
  }

  /** Which path the session runs on now ('connecting' until the first connection settles). */
  get currentPath(): RealtimePath | 'connecting' {
    return this.path;
  }

  [Symbol.asyncIterator](): AsyncIterator<RealtimeSessionEvent> {
    return this.queue[Symbol.asyncIterator]();
  }

  // -- input ----------------------------------------------------------------------------------

  /** Appends microphone audio: PCM16 LE mono at `sampleRate`. */
  sendAudio(pcm16: Uint8Array | Int16Array | ArrayBuffer): void {
    this.assertOpen();
    const audio = toPcm16Bytes(pcm16);
    if (audio.length === 0) return;
    this.inputAudio.push(audio);
    this.inputBytes += audio.length;
    // A turn that never ends keeps its last two minutes.
    if (this.inputBytes > this.bytesFor(maxTurnMs)) this.keepLastInput(maxTurnMs);
    if (this.path === 'cascaded') {
      if (this.turnDetection === 'vad') {
        for (const change of this.cascadeVad().push(audio)) this.onLocalSpeech(change);
        // Silence between turns is not kept, beyond the moment before speech that detectors miss.
        if (!this.userSpeaking) this.keepLastInput(prerollMs);
      }
      return;
    }
    this.forward({ type: 'append-audio', audio });
    // The endpoint says when speech starts one round trip late: keep a little more of the quiet.
    if (this.turnDetection === 'vad' && !this.userSpeaking) this.keepLastInput(prerollMs + serverVadSlackMs);
  }

  /** Ends the user's turn: the audio since the last turn is answered. */
  commit(): void {
    this.assertOpen();
    const audio = this.takeInputAudio();
    if (audio.length === 0) throw new InvalidRequestError('audio', 'nothing to commit: send audio with sendAudio() first');
    this.request({ audio });
  }

  /** Drops the audio sent since the last turn. */
  clearAudio(): void {
    this.assertOpen();
    this.inputAudio = [];
    this.inputBytes = 0;
    this.vad?.reset();
    if (this.path !== 'cascaded') this.forward({ type: 'clear-audio' });
  }

  /** A typed user message, answered at once (a response in progress is cancelled first). */
  sendText(text: string): void {
    this.assertOpen();
    if (typeof text !== 'string' || text.trim() === '') throw new InvalidRequestError('text', 'expected a non-empty string');
    this.request({ text });
  }

  /** Answers a `tool-call` event: sends the result as `function_call_output` and asks for a new response. */
  sendToolResult(callId: string, output: unknown): void {
    this.assertOpen();
    if (typeof callId !== 'string' || callId === '') throw new InvalidRequestError('callId', 'expected the callId of a tool-call event');
    this.request({ tool: { callId, output: typeof output === 'string' ? output : JSON.stringify(output ?? null) } });
  }

  /** Cancels the response in progress (on the realtime path: `response.cancel`). */
  cancel(): void {
    this.assertOpen();
    this.cancelCurrent('cancelled by the caller');
  }

  /** Ends the session: the socket closes, timers are cleared, calls in flight are aborted. Idempotent. */
  close(): Promise<void> {
    return this.end('client');
  }

  // -- start, connections ---------------------------------------------------------------------

  private async start(): Promise<void> {
    if (this.candidates.length === 0) {
      const reason = this.options.privacy === 'device-only' ? "privacy 'device-only' keeps the session on the device" : 'no realtime target';
      this.useCascade(reason, undefined);
      return;
    }
    const failures: string[] = [];
    for (const target of this.candidates) {
      const started = this.clock.now();
      try {
        const { connection, token } = await this.connect(target, []);
        if (this.closing || this.onCascade()) {
          await connection.close();
          return;
        }
        this.adopt(target, connection, token);
        return;
      } catch (error) {
        if (this.closing || this.onCascade()) return;
        const e = toInferlaneError(error, target.id);
        failures.push(`${target.id} ${e.code}`);
        this.connectStage = { stage: 'connect', target: target.id, ms: this.clock.now() - started, outcome: e.code === 'DEADLINE_EXCEEDED' ? 'timeout' : 'error', code: e.code };
      }
    }
    this.fallBack(`the realtime endpoint could not be used (${failures.join('; ')})`);
  }

  /** The failed connection attempt, shown on the first cascaded response's route. */
  private connectStage: RealtimeStage | undefined;

  /** One connection attempt, bounded by the budget. */
  private connect(target: Target, history: RealtimeHistoryItem[]): Promise<{ connection: RealtimeConnection; token: object }> {
    const controller = new AbortController();
    this.connectController = controller;
    const token = {};
    this.connectingToken = token;
    this.early = [];
    const timer = this.setTimer(() => controller.abort(new DeadlineExceededError(this.budgetMs, { target: target.id, detail: 'the realtime endpoint did not connect in time' })), this.budgetMs);
    return target
      .realtime!.connect(
        {
          instructions: this.options.instructions,
          voice: this.options.voice,
          tools: this.options.tools?.map(({ name, description, parameters }) => ({ name, description, parameters })),
          turnDetection: this.turnDetection,
          history,
          onEvent: (event) => {
            if (this.activeToken === token) this.onServerEvent(event);
            else if (this.connectingToken === token && event.type !== 'closed' && event.type !== 'session-ready') this.early.push(event);
          },
        },
        { signal: controller.signal },
      )
      .then((connection) => ({ connection, token }))
      .finally(() => {
        if (this.connectingToken === token) this.connectingToken = undefined;
        this.clearTimer(timer);
        if (this.connectController === controller) this.connectController = undefined;
      });
  }

  /** Events a connection reported before it was adopted (delivered right after). */
  private early: RealtimeServerEvent[] = [];

  private adopt(target: Target, connection: RealtimeConnection, token: object): void {
    const first = this.target === undefined;
    this.target = target;
    this.connection = connection;
    this.activeToken = token;
    this.path = 'realtime';
    if (first) {
      const limit = Math.min(this.options.maxDurationMs ?? Infinity, target.realtime!.maxSessionMs);
      this.setTimer(() => void this.end('session-limit'), Math.max(0, limit - (this.clock.now() - this.startedAt)));
    }
    for (const event of this.early.splice(0)) this.onServerEvent(event);
    this.emit({ type: 'session-ready', path: 'realtime', target: target.id });
    if (first) this.markReady('realtime');
    for (const command of this.waitingCommands.splice(0)) connection.send(command);
  }

  /** Sends now, or once the connection is ready. */
  private forward(command: RealtimeCommand): void {
    if (this.path === 'realtime' && this.connection) this.connection.send(command);
    else if (this.path !== 'cascaded') this.waitingCommands.push(command);
  }

  // -- responses ------------------------------------------------------------------------------

  /** A new turn asks for a response; one in progress is cancelled first (the new input wins). */
  private request(input: TurnInput): void {
    if (input.text !== undefined) this.noteUserText(input.text, false);
    if (this.current) {
      this.queued.push(input);
      // A tool result follows the response that called the tool (still finishing); anything else supersedes it.
      if (!input.tool) this.cancelCurrent('superseded by new input');
      return;
    }
    this.begin(input);
  }

  private begin(input: TurnInput, carried?: Pick<Pending, 'stages' | 'requestedAt'>): void {
    if (this.path === 'cascaded') {
      const pending = this.newPending(input, 'cascaded', carried);
      this.current = pending;
      this.cascadeRun = this.cascadeRun.then(() => this.runCascade(pending));
      return;
    }
    const pending = this.newPending(input, 'realtime', carried);
    this.current = pending;
    if (input.text !== undefined) this.forward({ type: 'add-text', text: input.text });
    else if (input.tool) this.forward({ type: 'add-tool-output', callId: input.tool.callId, output: input.tool.output });
    else if (input.audio) {
      // Live audio is already at the endpoint; only a replay (after a reconnect) sends it again.
      if (carried) this.forward({ type: 'append-audio', audio: input.audio });
      this.forward({ type: 'commit-audio' });
    }
    pending.committed = true;
    this.forward({ type: 'create-response' });
  }

  private newPending(input: TurnInput, path: RealtimePath, carried?: Pick<Pending, 'stages' | 'requestedAt'>): Pending {
    const pending: Pending = {
      input,
      path,
      requestedAt: carried?.requestedAt ?? this.clock.now(),
      transcript: '',
      stages: carried?.stages ?? (this.connectStage && path === 'cascaded' ? [this.connectStage] : []),
      fellBack: this.fellBack,
      reason: path === 'realtime' ? `realtime endpoint ${this.target?.id ?? ''}`.trim() : this.cascadeReason,
    };
    if (path === 'cascaded') this.connectStage = undefined;
    if (path === 'realtime') {
      const left = this.budgetMs - (this.clock.now() - pending.requestedAt);
      pending.budgetTimer = this.setTimer(() => this.onFirstAudioLate(pending), Math.max(0, left));
    }
    return pending;
  }

  private cancelCurrent(reason: string): void {
    const pending = this.current;
    if (!pending || pending.cancelReason) return;
    pending.cancelReason = reason;
    if (pending.path === 'cascaded') pending.controller?.abort();
    else if (pending.id !== undefined) this.forward({ type: 'cancel-response' });
  }

  /** The realtime endpoint missed the budget for this response's first audio: answer it on the cascaded path. */
  private onFirstAudioLate(pending: Pending): void {
    if (this.current !== pending || pending.firstAudioAt !== undefined || this.finished) return;
    pending.budgetTimer = undefined;
    const waited = this.clock.now() - pending.requestedAt;
    pending.stages.push({ stage: 'realtime', target: this.target?.id, ms: waited, outcome: 'timeout', code: 'DEADLINE_EXCEEDED' });
    if (pending.id !== undefined) this.connection?.send({ type: 'cancel-response' });
    this.current = undefined;
    this.fallBack(`the realtime endpoint's first audio missed the ${this.budgetMs} ms budget`, { input: this.cascadeInput(pending.input), carried: { stages: pending.stages, requestedAt: pending.requestedAt } });
  }

  /** What the cascaded path answers for a turn the realtime path started. */
  private cascadeInput(input: TurnInput): TurnInput {
    if (!input.tool) return input;
    // Text targets take no tools: the result becomes part of the user's words.
    return { text: `${this.unrecordedUser ?? ''} (the tool returned: ${input.tool.output})`.trim() };
  }

  private onServerEvent(event: RealtimeServerEvent): void {
    if (this.finished) return;
    const pending = this.current;
    switch (event.type) {
      case 'session-ready':
        return;
      case 'speech-started':
        this.userSpeaking = true;
        this.emit({ type: 'speech-started' });
        // Barge-in: the user talks over the answer.
        if (pending) this.cancelCurrent('barge-in');
        return;
      case 'speech-stopped':
        this.userSpeaking = false;
        this.emit({ type: 'speech-stopped' });
        return;
      case 'input-committed': {
        // Server VAD ended a turn; the response it creates is measured from here.
        if (!this.current) {
          const started = this.newPending({ audio: this.takeInputAudio() }, 'realtime');
          started.committed = true;
          this.current = started;
        }
        return;
      }
      case 'input-transcript':
        this.emit({ type: 'input-transcript', text: event.text });
        this.noteUserText(event.text, true);
        return;
      case 'response-started': {
        if (!pending || pending.id !== undefined) {
          // A response the endpoint started by itself (e.g. after a cancelled one).
          if (pending?.id !== undefined) return;
          this.current = this.newPending({}, 'realtime');
        }
        const current = this.current!;
        current.id = event.responseId;
        this.emit({ type: 'response-started', responseId: event.responseId, path: 'realtime' });
        if (current.cancelReason) this.forward({ type: 'cancel-response' });
        return;
      }
      case 'audio-delta': {
        if (!pending || pending.id !== event.responseId || pending.cancelReason) return;
        if (pending.firstAudioAt === undefined) {
          pending.firstAudioAt = this.clock.now();
          this.clearTimer(pending.budgetTimer);
          pending.budgetTimer = undefined;
        }
        const rate = this.target!.realtime!.sampleRate;
        const audio = rate === this.sampleRate ? event.audio : samplesToPcm16(resample(pcm16Samples(event.audio), rate, this.sampleRate));
        this.emit({ type: 'audio-delta', responseId: event.responseId, audio, sampleRate: this.sampleRate });
        return;
      }
      case 'transcript-delta':
        if (!pending || pending.id !== event.responseId || pending.cancelReason) return;
        pending.transcript += event.text;
        this.emit({ type: 'transcript-delta', responseId: event.responseId, text: event.text });
        return;
      case 'tool-call': {
        if (pending && pending.id === event.responseId) {
          // A function call is this response's answer: it arrived in time.
          this.clearTimer(pending.budgetTimer);
          pending.budgetTimer = undefined;
        }
        this.emit({ type: 'tool-call', responseId: event.responseId, callId: event.callId, name: event.name, arguments: event.arguments });
        const tool = this.options.tools?.find((candidate) => candidate.name === event.name);
        if (tool?.execute) void this.runTool(tool, event.callId, event.arguments);
        return;
      }
      case 'response-done': {
        if (!pending || pending.id !== event.responseId) return;
        pending.usage = event.usage;
        const status = event.status === 'completed' && pending.cancelReason ? 'cancelled' : event.status;
        pending.stages.push({ stage: 'realtime', target: this.target?.id, ms: this.clock.now() - pending.requestedAt, outcome: status === 'completed' ? 'ok' : status === 'cancelled' ? 'cancelled' : 'error' });
        if (status === 'completed' && pending.transcript) this.record(pending.transcript);
        this.finish(pending, status, pending.cancelReason);
        return;
      }
      case 'error':
        this.emit({ type: 'error', error: event.error });
        return;
      case 'closed':
        this.onConnectionClosed(event);
        return;
    }
  }

  private async runTool(tool: RealtimeSessionTool, callId: string, args: string): Promise<void> {
    let output: unknown;
    try {
      output = await tool.execute!(args ? JSON.parse(args) : {}, { callId });
    } catch (error) {
      output = { error: error instanceof Error ? error.message : String(error) };
    }
    if (!this.finished) this.sendToolResult(callId, output);
  }

  /** A response ended: report it with its route, then start what queued behind it. */
  private finish(pending: Pending, status: RealtimeResponseStatus, reason?: string): void {
    this.clearTimer(pending.budgetTimer);
    pending.budgetTimer = undefined;
    if (this.current === pending) this.current = undefined;
    const now = this.clock.now();
    const firstAudioMs = pending.firstAudioAt === undefined ? undefined : pending.firstAudioAt - pending.requestedAt;
    const route: RealtimeRoute = {
      path: pending.path,
      target: pending.path === 'realtime' ? this.target?.id : undefined,
      budgetMs: this.budgetMs,
      firstAudioMs,
      totalMs: now - pending.requestedAt,
      withinBudget: firstAudioMs !== undefined && firstAudioMs <= this.budgetMs,
      fellBack: pending.path === 'cascaded' && pending.fellBack,
      reason: pending.reason,
      stages: pending.stages,
    };
    const done: RealtimeSessionEvent = { type: 'response-done', responseId: pending.id ?? '', status, transcript: pending.transcript, route };
    if (pending.usage) done.usage = pending.usage;
    if (reason) done.reason = reason;
    this.emit(done);
    const next = this.queued.shift();
    if (next && !this.finished) this.begin(next);
  }

  // -- drops, reconnects, fallback -------------------------------------------------------------

  private onConnectionClosed(event: Extract<RealtimeServerEvent, { type: 'closed' }>): void {
    this.connection = undefined;
    this.activeToken = undefined;
    if (event.expected || this.finished || this.path !== 'realtime') return;
    if (event.sessionExpired) {
      void this.end('session-limit');
      return;
    }
    if (this.reconnects < (this.options.maxReconnects ?? 1)) {
      this.reconnects++;
      this.connectFlow = this.reconnect();
      return;
    }
    const interrupted = this.interrupt('the realtime socket dropped');
    this.fallBack('the realtime socket dropped again after its reconnects', interrupted);
  }

  /** The response a drop cut off: reported as failed, to be asked again. */
  private interrupt(reason: string): { input: TurnInput; carried: Pick<Pending, 'stages' | 'requestedAt'> } | undefined {
    const pending = this.current;
    if (!pending) return undefined;
    this.current = undefined;
    this.clearTimer(pending.budgetTimer);
    pending.budgetTimer = undefined;
    pending.stages.push({ stage: 'realtime', target: this.target?.id, ms: this.clock.now() - pending.requestedAt, outcome: 'error', code: 'NETWORK_ERROR' });
    if (pending.id !== undefined) this.finish(Object.assign({}, pending, { stages: [...pending.stages] }), 'failed', reason);
    // A replay keeps the turn's first request time: its route shows what the drop cost.
    return { input: pending.input, carried: { stages: pending.stages, requestedAt: pending.requestedAt } };
  }

  private async reconnect(): Promise<void> {
    const target = this.target!;
    const interrupted = this.interrupt('the realtime socket dropped; asking again after the reconnect');
    this.path = 'connecting';
    const started = this.clock.now();
    try {
      await this.records; // what the store holds is what the new connection starts with
      const history = (await this.conversation().messages()).filter((message) => message.role !== 'tool' && message.role !== 'system').map(({ role, content }) => ({ role: role as RealtimeHistoryItem['role'], content }));
      const { connection, token } = await this.connect(target, history);
      if (this.closing || this.onCascade()) {
        await connection.close();
        return;
      }
      this.adopt(target, connection, token);
      this.emit({ type: 'reconnected', target: target.id, restoredMessages: history.length, afterMs: this.clock.now() - started });
      if (interrupted) {
        interrupted.carried.stages.push({ stage: 'connect', target: target.id, ms: this.clock.now() - started, outcome: 'ok' });
        this.replay(interrupted);
      }
    } catch (error) {
      if (this.closing || this.onCascade()) return;
      const e = toInferlaneError(error, target.id);
      interrupted?.carried.stages.push({ stage: 'connect', target: target.id, ms: this.clock.now() - started, outcome: e.code === 'DEADLINE_EXCEEDED' ? 'timeout' : 'error', code: e.code });
      this.fallBack(`the realtime socket dropped and did not reconnect (${e.code})`, interrupted);
    }
  }

  private replay(interrupted: { input: TurnInput; carried: Pick<Pending, 'stages' | 'requestedAt'> }): void {
    const input = this.path === 'cascaded' ? this.cascadeInput(interrupted.input) : interrupted.input;
    if (this.current) this.queued.unshift(input);
    else this.begin(input, interrupted.carried);
  }

  /** Moves the session to the cascaded path for good (this session), with the turn in progress if any. */
  private fallBack(reason: string, turn?: { input: TurnInput; carried: Pick<Pending, 'stages' | 'requestedAt'> }): void {
    if (this.finished) return;
    const from = this.target?.id ?? this.candidates[0]?.id ?? '';
    const connection = this.connection;
    this.connection = undefined;
    this.activeToken = undefined;
    this.waitingCommands = [];
    this.connectController?.abort(new DeadlineExceededError(this.budgetMs, { target: from, detail: 'the session moved to the cascaded path' }));
    // The socket goes; close() waits for it through `closingConnections`.
    if (connection) this.closingConnections.push(connection.close());
    this.emit({ type: 'fallback', from: 'realtime', to: 'cascaded', target: from, reason, afterMs: this.clock.now() - this.startedAt });
    this.fellBack = true;
    this.useCascade(reason, turn);
  }

  private readonly closingConnections: Promise<void>[] = [];

  private useCascade(reason: string, turn?: { input: TurnInput; carried: Pick<Pending, 'stages' | 'requestedAt'> }): void {
    if (this.cascade === false) {
      this.emit({ type: 'error', error: new ProviderError(`the realtime path failed and the cascade is off: ${reason}`, { retryable: true }) });
      void this.end('failed');
      return;
    }
    this.path = 'cascaded';
    this.cascadeReason = reason;
    if (this.options.maxDurationMs !== undefined && this.target === undefined) {
      this.setTimer(() => void this.end('session-limit'), Math.max(0, this.options.maxDurationMs - (this.clock.now() - this.startedAt)));
    }
    this.emit({ type: 'session-ready', path: 'cascaded' });
    this.markReady('cascaded');
    // A turn asked for while connecting is answered here; audio that came meanwhile is listened to.
    this.waitingCommands = [];
    if (turn) this.replay(turn);
    else if (this.current) {
      const pending = this.current;
      this.current = undefined;
      this.clearTimer(pending.budgetTimer);
      this.begin(this.cascadeInput(pending.input), { stages: pending.stages, requestedAt: pending.requestedAt });
    }
    if (this.turnDetection === 'vad' && this.inputAudio.length > 0) for (const change of this.cascadeVad().push(concatBytes(this.inputAudio))) this.onLocalSpeech(change);
  }

  // -- the cascaded path ----------------------------------------------------------------------

  private cascadeVad(): EnergyVad {
    this.vad ??= new EnergyVad(this.sampleRate, this.options.vad);
    return this.vad;
  }

  private onLocalSpeech(change: 'speech-started' | 'speech-stopped'): void {
    this.userSpeaking = change === 'speech-started';
    this.emit({ type: change });
    if (change === 'speech-started') {
      if (this.current) this.cancelCurrent('barge-in');
      return;
    }
    const audio = this.takeInputAudio();
    if (audio.length > 0) this.request({ audio });
  }

  /** One cascaded response: transcription (for audio), the text stream, speech per sentence. */
  private async runCascade(pending: Pending): Promise<void> {
    if (this.current !== pending || this.finished) return;
    const cascade = this.cascade as CascadeOptions;
    const controller = new AbortController();
    pending.controller = controller;
    if (pending.cancelReason) controller.abort();
    const signal = controller.signal;
    const stageLatency = cascade.stageLatency ?? 'interactive';
    const privacy = this.options.privacy;
    pending.id = `cascade_${++this.responseCount}`;
    this.emit({ type: 'response-started', responseId: pending.id, path: 'cascaded' });
    let speech: Promise<void> = Promise.resolve();
    const speechStage: RealtimeStage = { stage: 'speech', ms: 0, outcome: 'ok' };
    let spoke = false;
    try {
      let text = pending.input.text;
      if (text === undefined) {
        const started = this.clock.now();
        const rate = cascade.transcribeSampleRate ?? defaultTranscribeRate;
        const wav = wavFromPcm16(resample(pcm16Samples(pending.input.audio ?? new Uint8Array(0)), this.sampleRate, rate), rate);
        try {
          const heard = await this.host.transcribe({ audio: wav, mediaType: 'audio/wav', latency: stageLatency, targets: cascade.transcribeTargets, privacy, abortSignal: signal });
          pending.stages.push({ stage: 'transcribe', target: heard.route.target, ms: this.clock.now() - started, outcome: 'ok' });
          text = heard.text.trim();
        } catch (error) {
          pending.stages.push(failedStage('transcribe', this.clock.now() - started, error, signal));
          throw error;
        }
        this.emit({ type: 'input-transcript', text });
        if (text === '') {
          this.finish(pending, 'incomplete', 'nothing was heard');
          return;
        }
      }
      const textStarted = this.clock.now();
      let firstChunkAt: number | undefined;
      let sentence = '';
      let textTarget: string | undefined;
      const maxChars = cascade.maxChunkChars ?? defaultChunkChars;
      const speak = (chunk: string) => {
        if (chunk.trim() === '') return;
        firstChunkAt ??= this.clock.now();
        speech = speech.then(() => this.synthesize(chunk, pending, speechStage, signal));
        speech.catch(() => undefined); // read below; a rejection waits there, not unhandled
      };
      try {
        const parts = this.conversation().stream(text, { targets: cascade.textTargets, latency: stageLatency, prefer: 'fastest', privacy, abortSignal: signal, maxOutputTokens: cascade.maxOutputTokens });
        for await (const part of parts) {
          if (part.type === 'text-delta') {
            pending.transcript += part.text;
            this.emit({ type: 'transcript-delta', responseId: pending.id, text: part.text });
            sentence += part.text;
            if (/[.!?;]\s*$/.test(sentence) || sentence.length >= maxChars) {
              speak(sentence);
              sentence = '';
            }
          } else if (part.type === 'finish') {
            textTarget = (part as { route?: { target: string } }).route?.target;
            pending.usage = part.usage;
          } else if (part.type === 'error') throw part.error;
        }
        speak(sentence);
        pending.stages.push({ stage: 'text', target: textTarget, ms: this.clock.now() - textStarted, firstMs: (firstChunkAt ?? this.clock.now()) - textStarted, outcome: 'ok' });
      } catch (error) {
        pending.stages.push(Object.assign(failedStage('text', this.clock.now() - textStarted, error, signal), { target: textTarget }));
        throw error;
      }
      spoke = true;
      await speech;
      pending.stages.push(speechStage);
      this.unrecordedUser = undefined; // the conversation's stream recorded the turn
      this.finish(pending, 'completed');
    } catch (error) {
      await speech.catch(() => undefined);
      if (spoke || speechStage.target) pending.stages.push(Object.assign(speechStage, failedStage('speech', speechStage.ms, error, signal), { target: speechStage.target }));
      if (signal.aborted) this.finish(pending, 'cancelled', pending.cancelReason);
      else {
        this.emit({ type: 'error', error });
        this.finish(pending, 'failed', InferlaneError.isInstance(error) ? error.code : 'PROVIDER_ERROR');
      }
    }
  }

  private async synthesize(text: string, pending: Pending, stage: RealtimeStage, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const started = this.clock.now();
    const cascade = this.cascade as CascadeOptions;
    const spoken = await this.host.generateSpeech({ text: text.trim(), voice: this.options.voice, format: 'wav', latency: cascade.stageLatency ?? 'interactive', targets: cascade.speechTargets, privacy: this.options.privacy, abortSignal: signal });
    const elapsed = this.clock.now() - started;
    stage.target = spoken.route.target;
    stage.ms += elapsed;
    stage.firstMs ??= elapsed;
    if (signal.aborted || this.finished) return;
    const { samples, sampleRate } = decodeWav(spoken.audio);
    pending.firstAudioAt ??= this.clock.now();
    this.emit({ type: 'audio-delta', responseId: pending.id!, audio: samplesToPcm16(resample(samples, sampleRate, this.sampleRate)), sampleRate: this.sampleRate });
  }

  // -- the conversation ------------------------------------------------------------------------

  private conversation(): Conversation {
    this.conversationObject ??= this.host.conversation(this.conversationId, this.options.instructions === undefined ? {} : { system: this.options.instructions });
    return this.conversationObject;
  }

  /** A user's words (typed or transcribed) wait for the answer they get, to be recorded with it. */
  private noteUserText(text: string, transcribed: boolean): void {
    if (text.trim() === '') return;
    if (transcribed && this.current === undefined && this.unrecordedUser === undefined && this.answeredWithoutUser) {
      // The transcript came after its answer was recorded (transcription runs beside the response).
      this.answeredWithoutUser = false;
      this.append([{ role: 'user', content: text }]);
      return;
    }
    this.unrecordedUser = text;
  }

  private answeredWithoutUser = false;

  /** Realtime path: the store learns each answered turn (the cascaded path's turns record themselves). */
  private record(answer: string): void {
    const messages: Message[] = [];
    if (this.unrecordedUser !== undefined) messages.push({ role: 'user', content: this.unrecordedUser });
    else this.answeredWithoutUser = true;
    this.unrecordedUser = undefined;
    messages.push({ role: 'assistant', content: answer });
    this.append(messages);
  }

  private append(messages: Message[]): void {
    const target = this.target?.id;
    this.records = this.records
      .then(() => this.conversation().append(messages, { target }))
      .catch((error: unknown) => this.emit({ type: 'error', error }));
  }

  // -- plumbing --------------------------------------------------------------------------------

  private bytesFor(ms: number): number {
    return Math.round((this.sampleRate * ms) / 1000) * 2;
  }

  /** Drops buffered input older than the last `ms` (whole samples). */
  private keepLastInput(ms: number): void {
    const keep = this.bytesFor(ms);
    if (this.inputBytes <= keep) return;
    const all = concatBytes(this.inputAudio);
    this.inputAudio = [all.slice(all.length - keep)];
    this.inputBytes = keep;
  }

  private takeInputAudio(): Uint8Array {
    const audio = concatBytes(this.inputAudio);
    this.inputAudio = [];
    this.inputBytes = 0;
    return audio;
  }

  private emit(event: RealtimeSessionEvent): void {
    if (!this.finished) this.queue.push(event);
  }

  private assertOpen(): void {
    if (this.closing) throw new InvalidRequestError('session', 'is closed; open a new one with client.realtime()');
  }

  private setTimer(callback: () => void, ms: number): unknown {
    const handle: unknown = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      callback();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  private clearTimer(handle: unknown): void {
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.timers.delete(handle);
  }

  private end(reason: 'client' | 'session-limit' | 'failed' | 'aborted'): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      for (const timer of this.timers) this.clock.clearTimeout(timer);
      this.timers.clear();
      this.removeAbortListener();
      const pending = this.current;
      if (pending) {
        pending.cancelReason ??= 'the session closed';
        pending.controller?.abort();
      }
      this.connectController?.abort(new InvalidRequestError('session', 'closed while connecting'));
      const connection = this.connection;
      this.connection = undefined;
      this.activeToken = undefined;
      if (connection) this.closingConnections.push(connection.close());
      this.queued = [];
      // Calls in flight settle (they were aborted), answered turns reach the store, sockets go.
      await this.connectFlow;
      await this.cascadeRun;
      await this.records;
      await Promise.all(this.closingConnections);
      if (pending?.id !== undefined && this.current === pending) this.finish(pending, 'cancelled', pending.cancelReason);
      this.emit({ type: 'closed', reason });
      this.finished = true;
      this.queue.end();
      this.markReady('closed');
    })();
    return this.closing;
  }
}

/** Creates a session on `host` (a client). `client.realtime(options)` calls this. */
export function realtimeSession(host: RealtimeHost, options: RealtimeSessionOptions = {}): RealtimeSession {
  return new RealtimeSession(host, options);
}

function realtimeTargets(targets: readonly Target[], only: string[] | undefined): Target[] {
  if (only === undefined) return targets.filter((target) => target.realtime !== undefined);
  return only.map((id) => targets.find((target) => target.id === id)).filter((target): target is Target => target?.realtime !== undefined);
}

function failedStage(stage: RealtimeStage['stage'], ms: number, error: unknown, signal: AbortSignal): RealtimeStage {
  if (signal.aborted) return { stage, ms, outcome: 'cancelled' };
  const code = InferlaneError.isInstance(error) ? error.code : 'PROVIDER_ERROR';
  return { stage, ms, outcome: code === 'DEADLINE_EXCEEDED' ? 'timeout' : 'error', code };
}

function validateOptions(host: RealtimeHost, options: RealtimeSessionOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidRequestError('options', 'client.realtime() takes an options object');
  resolveLatency(options.latency ?? 'interactive');
  if (options.turnDetection !== undefined && options.turnDetection !== 'vad' && options.turnDetection !== 'manual') throw new InvalidRequestError('turnDetection', `must be 'vad' or 'manual', got '${String(options.turnDetection)}'`);
  if (options.privacy !== undefined && options.privacy !== 'any' && options.privacy !== 'device-only') throw new InvalidRequestError('privacy', `must be 'any' or 'device-only'`);
  for (const field of ['sampleRate', 'maxDurationMs'] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))) throw new InvalidRequestError(field, 'must be a positive number');
  }
  if (options.maxReconnects !== undefined && (!Number.isInteger(options.maxReconnects) || options.maxReconnects < 0)) throw new InvalidRequestError('maxReconnects', 'must be a whole number, 0 or more');
  if (options.conversation !== undefined && (typeof options.conversation !== 'string' || options.conversation === '')) throw new InvalidRequestError('conversation', 'must be a non-empty conversation id');
  options.tools?.forEach((tool, index) => {
    if (typeof tool?.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(tool.name)) throw new InvalidRequestError(`tools[${index}].name`, 'must be 1-64 letters, digits, _ or -');
    if (tool.execute !== undefined && typeof tool.execute !== 'function') throw new InvalidRequestError(`tools[${index}].execute`, 'must be a function');
  });
  for (const id of options.targets ?? []) {
    const target = host.targets.find((candidate) => candidate.id === id);
    if (!target) throw new InvalidRequestError('targets', `no target '${id}' in this client`);
    if (!target.realtime) throw new InvalidRequestError('targets', `'${id}' has no realtime sessions (it is not a realtime target)`);
  }
  const cascade = options.cascade;
  if (cascade !== undefined && cascade !== false) {
    if (typeof cascade !== 'object' || cascade === null) throw new InvalidRequestError('cascade', 'must be an options object or false');
    if (cascade.stageLatency !== undefined) resolveLatency(cascade.stageLatency);
    for (const field of ['transcribeSampleRate', 'maxChunkChars', 'maxOutputTokens'] as const) {
      const value = cascade[field];
      if (value !== undefined && (!Number.isInteger(value) || value <= 0)) throw new InvalidRequestError(`cascade.${field}`, 'must be a positive whole number');
    }
  }
}
