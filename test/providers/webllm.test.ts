/**
 * The WebLLM adapter's mapping. WebLLM needs WebGPU, which this machine lacks, so the engine is a
 * small stand-in of the browser API's surface (a test double at the process edge), scripted per
 * test. See docs/on-device.md.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, InvalidRequestError, TargetUnavailableError } from '../../src/errors.js';
import { createClient } from '../../src/index.js';
import type { CallContext, ModelProgressEvent, StreamPart } from '../../src/target.js';
import { webllm, type WebLLMChunk, type WebLLMEngine, type WebLLMEngineFactory } from '../../providers/webllm/index.js';
import { targetContract } from '../../src/testing.js';

function context(signal: AbortSignal = new AbortController().signal, events: ModelProgressEvent[] = []): CallContext {
  return { signal, deadline: Date.now() + 10_000, segment: 'interactive', emit: (_name, payload) => events.push(payload) };
}

/** A stand-in engine: answers with `reply`, split in words when streaming; records what it was asked. */
function standIn(reply = 'Hello from the graphics card') {
  const requests: Record<string, unknown>[] = [];
  let interrupts = 0;
  let running = 0;
  let maxRunning = 0;
  let gate: Promise<void> = Promise.resolve();
  const engine: WebLLMEngine = {
    chat: {
      completions: {
        async create(request) {
          requests.push(request);
          const words = reply.split(' ').map((word, index) => (index === 0 ? word : ` ${word}`));
          const usage = { prompt_tokens: 11, completion_tokens: words.length, total_tokens: 11 + words.length };
          if (!request.stream) {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await gate;
            running--;
            return { choices: [{ message: { content: reply }, finish_reason: 'stop' }], usage, model: String(request.model ?? 'm') };
          }
          const interruptsAtStart = interrupts;
          return (async function* (): AsyncGenerator<WebLLMChunk> {
            for (const word of words) {
              await gate;
              if (interrupts > interruptsAtStart) return;
              yield { choices: [{ delta: { content: word }, finish_reason: null }] };
            }
            yield { choices: [{ delta: {}, finish_reason: 'stop' }] };
            yield { choices: [], usage };
          })();
        },
      },
    },
    interruptGenerate: () => void interrupts++,
  };
  const loads: string[] = [];
  const factory: WebLLMEngineFactory = async (model, config) => {
    loads.push(model);
    config.initProgressCallback({ progress: 0.5, text: 'Fetching param cache[1/2]' });
    config.initProgressCallback({ progress: 1, text: 'Finish loading on WebGPU' });
    return engine;
  };
  return {
    factory,
    requests,
    loads,
    interrupts: () => interrupts,
    maxRunning: () => maxRunning,
    hold() {
      let open!: () => void;
      gate = new Promise<void>((resolve) => (open = resolve));
      return () => open();
    },
  };
}

const ask = { messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hi' }] };

describe('webllm target', () => {
  it('maps a call to an OpenAI-shaped request and the reply back, reporting load progress', async () => {
    const engine = standIn();
    const target = webllm({ model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC', createEngine: engine.factory, hasWebGPU: () => true });
    expect(target.id).toBe('webllm:Qwen2.5-0.5B-Instruct-q4f16_1-MLC');
    expect(target.kind).toBe('device');
    expect(await target.available!(new AbortController().signal)).toBe('downloadable');
    const events: ModelProgressEvent[] = [];
    const result = await target.doGenerate!({ ...ask, maxOutputTokens: 20, temperature: 0.3, stop: ['\n'] }, context(undefined, events));
    expect(result).toEqual({
      text: 'Hello from the graphics card',
      finishReason: 'stop',
      usage: { inputTokens: 11, outputTokens: 5, totalTokens: 16 },
      modelId: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC',
    });
    expect(engine.requests[0]).toMatchObject({ messages: ask.messages, max_tokens: 20, temperature: 0.3, stop: ['\n'], stream: false });
    expect(events.map((event) => [event.status, event.progress])).toEqual([
      ['progress', 0.5],
      ['ready', 1],
    ]);
    expect(await target.available!(new AbortController().signal)).toBe('available');
    await target.doGenerate!(ask, context());
    expect(engine.loads).toHaveLength(1);
  });

  it('streams deltas, then usage, then finish', async () => {
    const engine = standIn('one two three');
    const target = webllm({ model: 'm', createEngine: engine.factory, hasWebGPU: () => true });
    const parts: StreamPart[] = [];
    for await (const part of target.doStream!(ask, context())) parts.push(part);
    expect(parts).toEqual([
      { type: 'text-delta', text: 'one' },
      { type: 'text-delta', text: ' two' },
      { type: 'text-delta', text: ' three' },
      { type: 'usage', usage: { inputTokens: 11, outputTokens: 3, totalTokens: 14 } },
      { type: 'finish', finishReason: 'stop', usage: { inputTokens: 11, outputTokens: 3, totalTokens: 14 } },
    ]);
    expect(engine.requests[0]).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('interrupts the engine when the signal aborts mid-stream and ends with an AbortedError', async () => {
    const engine = standIn('one two three four');
    const target = webllm({ model: 'm', createEngine: engine.factory, hasWebGPU: () => true });
    const controller = new AbortController();
    const deltas: string[] = [];
    const consume = (async () => {
      for await (const part of target.doStream!(ask, context(controller.signal))) {
        if (part.type === 'text-delta') {
          deltas.push(part.text);
          controller.abort();
        }
      }
    })();
    await expect(consume).rejects.toBeInstanceOf(AbortedError);
    expect(deltas).toEqual(['one']);
    expect(engine.interrupts()).toBeGreaterThanOrEqual(1);
    // The engine is free for the next call.
    expect((await target.doGenerate!(ask, context())).text).toBe('one two three four');
  });

  it('through the client: a caller that breaks out of a stream frees the engine for the next call', async () => {
    // The adapter holds the engine for a whole stream and frees it in its `finally`; the client
    // must close the adapter's stream when its caller stops reading, or every later call waits.
    const engine = standIn('one two three four');
    const target = webllm({ model: 'm', createEngine: engine.factory, hasWebGPU: () => true });
    const client = createClient({ targets: [target] });
    for await (const part of client.stream({ prompt: 'Hi' })) {
      if (part.type === 'text-delta') break;
    }
    expect(engine.interrupts()).toBeGreaterThanOrEqual(1);
    const next = await client.generate({ prompt: 'Hi again' });
    expect(next.text).toBe('one two three four');
    await client.close();
  });

  it('runs one generation at a time', async () => {
    const engine = standIn();
    const target = webllm({ model: 'm', createEngine: engine.factory, hasWebGPU: () => true });
    await target.load();
    const open = engine.hold();
    const calls = [target.doGenerate!(ask, context()), target.doGenerate!(ask, context()), target.doGenerate!(ask, context())];
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.requests).toHaveLength(1);
    open();
    await Promise.all(calls);
    expect(engine.requests).toHaveLength(3);
    expect(engine.maxRunning()).toBe(1);
  });

  it('is unavailable without WebGPU, and a failing engine load is a TargetUnavailableError', async () => {
    const noGpu = webllm({ model: 'm', createEngine: standIn().factory, hasWebGPU: () => false });
    expect(await noGpu.available!(new AbortController().signal)).toBe('unavailable');
    // Node has no navigator.gpu: the default check says unavailable too.
    expect(await webllm({ model: 'm' }).available!(new AbortController().signal)).toBe('unavailable');
    const broken = webllm({ model: 'm', hasWebGPU: () => true, createEngine: async () => Promise.reject(new Error('no adapter')) });
    const error = await broken.doGenerate!(ask, context()).catch((caught) => caught);
    expect(error).toBeInstanceOf(TargetUnavailableError);
    expect(error.target).toBe('webllm:m');
    // Without the optional package the lazy import fails the same way.
    await expect(webllm({ model: 'm', hasWebGPU: () => true }).doGenerate!(ask, context())).rejects.toBeInstanceOf(TargetUnavailableError);
  });

  it('validates its settings and calls', async () => {
    expect(() => webllm({ model: '' })).toThrow(InvalidRequestError);
    const target = webllm({ model: 'm', createEngine: standIn().factory, hasWebGPU: () => true });
    await expect(target.doGenerate!({ messages: [] }, context())).rejects.toMatchObject({ field: 'messages' });
  });
});

describe('webllm() keeps the target contract', () => {
  // The stand-in engine answers every call the same way; it cannot be made to fail, so the error
  // check sends a call without messages.
  const checks = targetContract({ target: () => webllm({ model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC', createEngine: standIn().factory, hasWebGPU: () => true }), deterministic: true });
  for (const check of checks) it(check.name, check.run);
});
