/**
 * The Chrome built-in AI adapter's mapping. Gemini Nano does not exist here, so `LanguageModel`
 * is a small stand-in of the browser API (a test double at the process edge) that follows the
 * Prompt API's shapes: availability(), create({ initialPrompts, monitor, signal }), prompt(),
 * promptStreaming() returning a ReadableStream of deltas, destroy(). See docs/on-device.md.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, ContextOverflowError, TargetUnavailableError } from '../../src/errors.js';
import type { CallContext, ModelProgressEvent, StreamPart } from '../../src/target.js';
import { chromeAI, type PromptApiMessage, type PromptApiStatic } from '../../providers/chrome-ai/index.js';
import { targetContract } from '../../src/testing.js';

function context(signal: AbortSignal = new AbortController().signal, events: ModelProgressEvent[] = []): CallContext {
  return { signal, deadline: Date.now() + 10_000, segment: 'interactive', emit: (_name, payload) => events.push(payload) };
}

function standIn(options: { availability?: string; reply?: string; downloadSteps?: number[]; failWith?: Error } = {}) {
  const sessions: { initialPrompts?: PromptApiMessage[]; prompts: string[]; destroyed: boolean }[] = [];
  const reply = options.reply ?? 'Hello from Gemini Nano';
  const api: PromptApiStatic = {
    availability: async () => (options.availability ?? 'available') as 'available',
    async create(createOptions = {}) {
      const monitor = new EventTarget();
      createOptions.monitor?.({ addEventListener: (type, listener) => monitor.addEventListener(type, (event) => listener(event as unknown as { loaded: number })) });
      for (const loaded of options.downloadSteps ?? []) monitor.dispatchEvent(Object.assign(new Event('downloadprogress'), { loaded, total: 1 }));
      const record = { initialPrompts: createOptions.initialPrompts, prompts: [] as string[], destroyed: false };
      sessions.push(record);
      return {
        contextUsage: 42,
        async prompt(input: string, promptOptions?: { signal?: AbortSignal }) {
          record.prompts.push(input);
          if (options.failWith) throw options.failWith;
          promptOptions?.signal?.throwIfAborted();
          return reply;
        },
        promptStreaming(input: string, promptOptions?: { signal?: AbortSignal }) {
          record.prompts.push(input);
          const words = reply.split(' ').map((word, index) => (index === 0 ? word : ` ${word}`));
          return new ReadableStream<string>({
            pull(controller) {
              if (promptOptions?.signal?.aborted) return controller.error(new DOMException('aborted', 'AbortError'));
              const word = words.shift();
              if (word === undefined) controller.close();
              else controller.enqueue(word);
            },
          });
        },
        destroy() {
          record.destroyed = true;
        },
      };
    },
  };
  return { api, sessions };
}

const conversation = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hi' },
  { role: 'assistant' as const, content: 'Hello.' },
  { role: 'user' as const, content: 'Where do you run?' },
];

describe('chrome-ai target', () => {
  it('maps availability, including downloading as downloadable and a missing API as unavailable', async () => {
    const signal = new AbortController().signal;
    for (const [raw, mapped] of [['available', 'available'], ['downloadable', 'downloadable'], ['downloading', 'downloadable'], ['unavailable', 'unavailable']]) {
      expect(await chromeAI({ languageModel: standIn({ availability: raw }).api }).available!(signal)).toBe(mapped);
    }
    expect(await chromeAI().available!(signal)).toBe('unavailable');
    await expect(chromeAI().doGenerate!({ messages: conversation }, context())).rejects.toBeInstanceOf(TargetUnavailableError);
  });

  it('puts the history in initialPrompts, prompts the last message, destroys the session', async () => {
    const { api, sessions } = standIn();
    const target = chromeAI({ languageModel: api });
    expect(target.kind).toBe('device');
    const result = await target.doGenerate!({ messages: conversation }, context());
    expect(result).toEqual({ text: 'Hello from Gemini Nano', finishReason: 'stop', usage: { totalTokens: 42 }, modelId: 'gemini-nano' });
    expect(sessions[0].initialPrompts).toEqual(conversation.slice(0, 3));
    expect(sessions[0].prompts).toEqual(['Where do you run?']);
    expect(sessions[0].destroyed).toBe(true);
  });

  it('streams deltas, honours stop sequences, and reports the download as model-progress', async () => {
    const { api, sessions } = standIn({ reply: 'one two three four', downloadSteps: [0, 0.5, 1] });
    const events: ModelProgressEvent[] = [];
    const parts: StreamPart[] = [];
    for await (const part of chromeAI({ languageModel: api }).doStream!({ messages: conversation, stop: [' three'] }, context(undefined, events))) parts.push(part);
    expect(parts.filter((part) => part.type === 'text-delta').map((part) => (part as { text: string }).text).join('')).toBe('one two');
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
    expect(events.map((event) => [event.status, event.progress])).toEqual([
      ['progress', 0],
      ['progress', 0.5],
      ['done', 1],
    ]);
    expect(sessions[0].destroyed).toBe(true);
  });

  it('ends an aborted stream with an AbortedError and frees the session', async () => {
    const { api, sessions } = standIn({ reply: 'one two three four' });
    const controller = new AbortController();
    const deltas: string[] = [];
    const consume = (async () => {
      for await (const part of chromeAI({ languageModel: api }).doStream!({ messages: conversation }, context(controller.signal))) {
        if (part.type === 'text-delta') {
          deltas.push(part.text);
          controller.abort();
        }
      }
    })();
    await expect(consume).rejects.toBeInstanceOf(AbortedError);
    expect(deltas).toEqual(['one']);
    expect(sessions[0].destroyed).toBe(true);
  });

  it('maps the API errors: QuotaExceededError to ContextOverflowError, NotAllowedError to TargetUnavailableError', async () => {
    const quota = Object.assign(new DOMException('too long', 'QuotaExceededError'), { requested: 9000, quota: 6144 });
    const overflow = await chromeAI({ languageModel: standIn({ failWith: quota }).api }).doGenerate!({ messages: conversation }, context()).catch((caught) => caught);
    expect(overflow).toBeInstanceOf(ContextOverflowError);
    expect(overflow).toMatchObject({ tokens: 9000, limit: 6144 });
    const denied = await chromeAI({ languageModel: standIn({ failWith: new DOMException('no', 'NotAllowedError') }).api })
      .doGenerate!({ messages: conversation }, context())
      .catch((caught) => caught);
    expect(denied).toBeInstanceOf(TargetUnavailableError);
  });
});

describe('chromeAI() keeps the target contract', () => {
  // The stand-in Prompt API answers every call the same way; it cannot be made to fail, so the
  // error check sends a call without messages.
  const checks = targetContract({ target: () => chromeAI({ languageModel: standIn().api }), deterministic: true });
  for (const check of checks) it(check.name, check.run);
});
