/**
 * Chrome's built-in model (Gemini Nano) through the Prompt API, as a `device` target.
 *
 * The API shape followed (https://webmachinelearning.github.io/prompt-api/, Chrome 138+):
 * `LanguageModel.availability()` -> 'unavailable' | 'downloadable' | 'downloading' | 'available';
 * `LanguageModel.create({ initialPrompts, monitor, signal })` downloads the model when needed and
 * reports `downloadprogress` events (`loaded` is a fraction 0..1); `session.prompt(input, { signal })`,
 * `session.promptStreaming(input, { signal })` (a ReadableStream of text deltas), `session.destroy()`.
 *
 * One session per call: the conversation history goes in `initialPrompts`, the last message is
 * prompted, and the session is destroyed afterwards, so calls never leak context into each other.
 * Nothing here touches the network. Imports the provider kit (src/provider.ts) only.
 */
import { abortedCallError, ContextOverflowError, cutAtStop, InvalidRequestError, ProviderError, TargetUnavailableError, toInferlaneError } from '../../src/provider.js';
import type { Availability, CallContext, KvGeometry, Message, StreamPart, Target, TextCall, TextResult, Usage } from '../../src/provider.js';

/** The pieces of the Prompt API this adapter uses. */
export interface PromptApiMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}
export interface PromptApiSession {
  prompt(input: string, options?: { signal?: AbortSignal }): Promise<string>;
  promptStreaming(input: string, options?: { signal?: AbortSignal }): ReadableStream<string>;
  destroy(): void;
  /** Tokens used by the session's context (Chrome 140+; older builds call it `inputUsage`). */
  contextUsage?: number;
  inputUsage?: number;
  contextWindow?: number;
  inputQuota?: number;
}
export interface PromptApiMonitor {
  addEventListener(type: 'downloadprogress', listener: (event: { loaded: number; total?: number }) => void): void;
}
export interface PromptApiStatic {
  availability(options?: Record<string, unknown>): Promise<'unavailable' | 'downloadable' | 'downloading' | 'available'>;
  create(options?: {
    initialPrompts?: PromptApiMessage[];
    monitor?(monitor: PromptApiMonitor): void;
    signal?: AbortSignal;
    [option: string]: unknown;
  }): Promise<PromptApiSession>;
}

export interface ChromeAISettings {
  /** Unique id in a client. @default 'chrome-ai:gemini-nano' */
  id?: string;
  /** The Prompt API entry point. @default globalThis.LanguageModel */
  languageModel?: PromptApiStatic;
  /** Extra options for `availability()` and `create()`, e.g. `expectedInputs`. @default none */
  createOptions?: Record<string, unknown>;
  /** Latency priors, ms, replaced by measurements. @default { ttftMs: 300, totalMs: 2000 } */
  expected?: { ttftMs?: number; totalMs?: number };
  /** KV geometry for the router's memory check. @default none: Chrome manages the model's memory */
  kv?: KvGeometry;
  /** Context window, tokens. @default 6144 (Gemini Nano's per-session window in Chrome) */
  contextTokens?: number;
}

export interface ChromeAITarget extends Target {
  kind: 'device';
}

const availabilityMap: Record<string, Availability> = {
  available: 'available',
  downloadable: 'downloadable',
  downloading: 'downloadable',
  unavailable: 'unavailable',
};

export function chromeAI(settings: ChromeAISettings = {}): ChromeAITarget {
  const id = settings.id ?? 'chrome-ai:gemini-nano';
  const entry = (): PromptApiStatic | undefined =>
    settings.languageModel ?? (globalThis as { LanguageModel?: PromptApiStatic }).LanguageModel;

  const aborted = (signal: AbortSignal) => abortedCallError(id, signal);

  /** DOMException names of the Prompt API mapped onto our classes. */
  const mapError = (error: unknown, signal: AbortSignal): Error => {
    if (signal.aborted) return aborted(signal);
    const name = (error as { name?: string })?.name;
    const message = (error as { message?: string })?.message ?? String(error);
    if (name === 'AbortError') return aborted(signal);
    if (name === 'QuotaExceededError') {
      const { requested, quota } = error as { requested?: number; quota?: number };
      if (typeof requested === 'number' && typeof quota === 'number') return new ContextOverflowError(requested, quota, { target: id, cause: error });
      return new ProviderError(`${id}: the prompt does not fit the session's context`, { target: id, cause: error });
    }
    if (name === 'NotAllowedError' || name === 'NotSupportedError' || name === 'InvalidStateError' || name === 'OperationError')
      return new TargetUnavailableError(`${id}: the built-in model cannot run (${name}: ${message})`, { target: id, cause: error });
    return toInferlaneError(error, id);
  };

  /** History goes into `initialPrompts` (system first, as the API requires); the last message is prompted. */
  const split = (messages: Message[]): { initialPrompts: PromptApiMessage[]; input: string } => {
    if (!Array.isArray(messages) || messages.length === 0) throw new InvalidRequestError('messages', 'at least one message is required');
    const last = messages[messages.length - 1];
    const systems = messages.slice(0, -1).filter((message) => message.role === 'system');
    const rest = messages.slice(0, -1).filter((message) => message.role !== 'system');
    const initialPrompts: PromptApiMessage[] = [];
    // The API takes one system prompt, first: several are joined.
    if (systems.length > 0) initialPrompts.push({ role: 'system', content: systems.map((message) => message.content).join('\n\n') });
    for (const message of rest) initialPrompts.push({ role: message.role === 'assistant' ? 'assistant' : 'user', content: message.content });
    return { initialPrompts, input: last.content };
  };

  const openSession = async (call: TextCall, ctx: CallContext): Promise<{ session: PromptApiSession; input: string }> => {
    if (ctx.signal.aborted) throw aborted(ctx.signal);
    const api = entry();
    if (!api) throw new TargetUnavailableError(`${id}: this browser has no Prompt API (LanguageModel)`, { target: id });
    const { initialPrompts, input } = split(call.messages);
    try {
      const session = await api.create({
        ...settings.createOptions,
        initialPrompts,
        signal: ctx.signal,
        monitor(monitor) {
          monitor.addEventListener('downloadprogress', (event) => {
            const fraction = event.total ? event.loaded / event.total : event.loaded;
            ctx.emit('model-progress', { target: id, status: fraction >= 1 ? 'done' : 'progress', loaded: event.loaded, total: event.total ?? 1, progress: fraction });
          });
        },
      });
      return { session, input };
    } catch (error) {
      throw mapError(error, ctx.signal);
    }
  };

  const usageOf = (session: PromptApiSession): Usage | undefined => {
    const used = session.contextUsage ?? session.inputUsage;
    return typeof used === 'number' ? { totalTokens: used } : undefined;
  };


  return {
    id,
    kind: 'device',
    provider: 'chrome-ai',
    modalities: ['text'],
    limits: { contextTokens: settings.contextTokens ?? 6144 },
    expected: settings.expected ?? { ttftMs: 300, totalMs: 2000 },
    kv: settings.kv,

    async available() {
      const api = entry();
      if (!api) return 'unavailable';
      try {
        return availabilityMap[await api.availability(settings.createOptions)] ?? 'unavailable';
      } catch {
        return 'unavailable';
      }
    },

    async doGenerate(call, ctx): Promise<TextResult> {
      const { session, input } = await openSession(call, ctx);
      try {
        const raw = await session.prompt(input, { signal: ctx.signal });
        if (ctx.signal.aborted) throw aborted(ctx.signal);
        const { text } = cutAtStop(raw, call.stop);
        return { text, finishReason: 'stop', usage: usageOf(session), modelId: 'gemini-nano' };
      } catch (error) {
        throw mapError(error, ctx.signal);
      } finally {
        session.destroy();
      }
    },

    async *doStream(call, ctx): AsyncGenerator<StreamPart> {
      const { session, input } = await openSession(call, ctx);
      let reader: ReadableStreamDefaultReader<string> | undefined;
      try {
        reader = session.promptStreaming(input, { signal: ctx.signal }).getReader();
        let received = '';
        let emitted = 0;
        const holdBack = Math.max(0, ...(call.stop ?? []).map((sequence) => sequence.length - 1));
        for (;;) {
          const { value, done } = await reader.read();
          if (ctx.signal.aborted) throw aborted(ctx.signal);
          if (done) break;
          received += value;
          const { text, stopped } = cutAtStop(received, call.stop);
          const ready = stopped ? text.length : Math.max(emitted, received.length - holdBack);
          if (ready > emitted) yield { type: 'text-delta', text: text.slice(emitted, ready) };
          emitted = ready;
          if (stopped) {
            await reader.cancel().catch(() => undefined);
            break;
          }
        }
        const { text: final } = cutAtStop(received, call.stop);
        if (final.length > emitted) yield { type: 'text-delta', text: final.slice(emitted) };
        const usage = usageOf(session);
        if (usage) yield { type: 'usage', usage };
        yield { type: 'finish', finishReason: 'stop', usage };
      } catch (error) {
        throw mapError(error, ctx.signal);
      } finally {
        // Also runs when the consumer breaks out of `for await`: stop the model, free the session.
        await reader?.cancel().catch(() => undefined);
        session.destroy();
      }
    },
  };
}
