/**
 * The executor with the real `openai` client against the local server: fallbacks, retries,
 * Retry-After, circuits, aborts and the latency budget.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, InferlaneError } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let primary: OpenAIServer;
let secondary: OpenAIServer;

beforeAll(async () => {
  primary = await startOpenAIServer({ seed: 1 });
  secondary = await startOpenAIServer({ seed: 2 });
  // Warm up: the first call in a process loads the openai client module; budgets below are about
  // steady-state behaviour, not module loading.
  await twoTargets().generate({ messages: [{ role: 'user', content: 'warm up' }] });
  primary.reset();
});
afterAll(async () => {
  await primary.close();
  await secondary.close();
});
afterEach(() => {
  primary.reset();
  secondary.reset();
});

const fast = { ttftMs: 20, totalMs: 30 };

function twoTargets(extra: { retry?: { initialDelayMs?: number; maxDelayMs?: number } } = {}) {
  return createClient({
    targets: [
      openai({ id: 'primary', model: 'm', baseURL: primary.baseURL, apiKey: 'sk-test-primary-secret-0000', expected: fast }),
      openai({ id: 'secondary', model: 'm', baseURL: secondary.baseURL, apiKey: 'test', expected: fast }),
    ],
    retry: { initialDelayMs: 10, maxDelayMs: 40, ...extra.retry },
  });
}

/** The primary alone, without retries: whatever happens to a call happens on it. */
function primaryOnly() {
  return createClient({ targets: [openai({ id: 'primary', model: 'm', baseURL: primary.baseURL, apiKey: 'test', expected: fast })], retry: { maxRetries: 0 } });
}

const messages = [{ role: 'user' as const, content: 'hello there' }];

/** Two targets, no retries, a 5 s circuit cooldown, and a clock whose `now` the test moves. */
function circuitClient(time: { now: number }) {
  return createClient({
    targets: [
      openai({ id: 'primary', model: 'm', baseURL: primary.baseURL, apiKey: 'test', expected: fast }),
      openai({ id: 'secondary', model: 'm', baseURL: secondary.baseURL, apiKey: 'test', expected: fast }),
    ],
    retry: { maxRetries: 0 },
    stats: { circuit: { cooldownMs: 5000 } },
    clock: { now: () => time.now, setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms), clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>) },
  });
}

describe('fallback across targets', () => {
  it('retries 500s on the primary, then answers from the secondary', async () => {
    primary.script('/chat/completions', { status: 500, times: 10 });
    const client = twoTargets();
    const fallbacks: unknown[] = [];
    client.on('fallback', (e) => fallbacks.push(e));
    const result = await client.generate({ messages, latency: 'interactive' });
    expect(result.route.target).toBe('secondary');
    expect(result.text).toContain('hello there');
    expect(primary.requests.filter((r) => r.route === '/chat/completions')).toHaveLength(3); // 1 + maxRetries 2
    expect(result.route.attempts.map((a) => [a.target, a.outcome, a.status])).toEqual([
      ['primary', 'error', 500],
      ['primary', 'error', 500],
      ['primary', 'error', 500],
      ['secondary', 'ok', undefined],
    ]);
    expect(result.route.fellBack).toBe(true);
    expect(fallbacks).toHaveLength(1);
  });

  it('falls back after a connection reset without waiting', async () => {
    primary.script('/chat/completions', { reset: true, times: 10 });
    const result = await twoTargets().generate({ messages, latency: 1500 });
    expect(result.route.target).toBe('secondary');
    expect(result.route.attempts[0]).toMatchObject({ target: 'primary', code: 'NETWORK_ERROR' });
  });

  it('answers from the secondary within a 300 ms budget when the primary hangs', async () => {
    primary.script('/chat/completions', { hang: true, times: 10 });
    const client = twoTargets();
    const started = performance.now();
    const result = await client.generate({ messages, latency: 300 });
    const elapsed = performance.now() - started;
    expect(result.route.target).toBe('secondary');
    expect(elapsed).toBeLessThan(300 + 50); // scheduling noise only
    await primary.waitFor((rs) => rs.some((r) => r.route === '/chat/completions' && r.aborted));
  });

  it('ends with DEADLINE_EXCEEDED inside the budget when every target hangs', async () => {
    primary.script('/chat/completions', { hang: true, times: 10 });
    secondary.script('/chat/completions', { hang: true, times: 10 });
    const started = performance.now();
    const error = await twoTargets().generate({ messages, latency: 250 }).catch((e) => e);
    expect(InferlaneError.isInstance(error) && error.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(250 + 50);
    await primary.waitFor((rs) => rs.length === 1 && rs[0].aborted);
    // The secondary got whatever time was left; whatever it was sent, it no longer holds open.
    await secondary.waitFor((rs) => rs.every((r) => r.aborted));
  });

  it('does not fall back after a 400: the request itself is wrong', async () => {
    primary.script('/chat/completions', { status: 400, message: 'bad parameter' });
    const error = await twoTargets().generate({ messages }).catch((e) => e);
    expect(error.code).toBe('PROVIDER_ERROR');
    expect(error.status).toBe(400);
    expect(secondary.requests).toHaveLength(0);
    expect(primary.requests).toHaveLength(1);
  });

  it('honours Retry-After when it fits the budget', async () => {
    primary.script('/chat/completions', [{ status: 429, retryAfterMs: 200 }]);
    const retries: { delayMs: number }[] = [];
    const client = twoTargets();
    client.on('retry', (e) => retries.push(e));
    const started = performance.now();
    const result = await client.generate({ messages, latency: 2000 });
    expect(result.route.target).toBe('primary');
    expect(retries).toEqual([expect.objectContaining({ delayMs: 200, reason: 'retry-after' })]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(secondary.requests).toHaveLength(0);
  });

  it('skips to the next target when Retry-After would not fit the budget', async () => {
    primary.script('/chat/completions', [{ status: 429, retryAfterMs: 5000 }]);
    const started = performance.now();
    const result = await twoTargets().generate({ messages, latency: 1000 });
    expect(result.route.target).toBe('secondary');
    expect(performance.now() - started).toBeLessThan(500);
    expect(primary.requests).toHaveLength(1);
  });

  it('an attempt the whole budget ran out on timed out (DEADLINE_EXCEEDED, not ABORTED), and that is the budget\'s verdict: the circuit stays closed', async () => {
    primary.script('/chat/completions', { hang: true, times: 4 });
    const client = primaryOnly();
    const attempts: { outcome: string; code?: string; message?: string }[] = [];
    client.on('attempt', (attempt) => void attempts.push(attempt));
    for (let i = 0; i < 4; i++) {
      const error = await client.generate({ messages, latency: 150 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect((error as Error).message).toContain('primary error DEADLINE_EXCEEDED after');
    }
    expect(attempts).toEqual(
      Array.from({ length: 4 }, () => expect.objectContaining({ outcome: 'error', code: 'DEADLINE_EXCEEDED', message: 'the latency budget of 150 ms ran out: primary had not answered' })),
    );
    // Four timeouts in a row, each far past the target's usual 30 ms, yet the budget ended them:
    // the target is not shut out, and answers the next call that gives it time.
    expect(client.stats.circuit('primary', Date.now())).toBe('closed');
    expect((await client.generate({ messages, latency: 2000 })).route.target).toBe('primary');
    expect(primary.requests).toHaveLength(5);
    await client.close();
  });

  it('a primary that hangs past its share of the budget (the call goes on elsewhere) is charged: its circuit opens', async () => {
    primary.script('/chat/completions', { hang: true, times: 10 });
    const client = twoTargets();
    for (let i = 0; i < 3; i++) {
      const result = await client.generate({ messages, latency: 300, maxRetries: 0 });
      expect(result.route.attempts[0]).toMatchObject({ target: 'primary', outcome: 'error', code: 'DEADLINE_EXCEEDED' });
      expect(result.route.target).toBe('secondary');
    }
    expect(client.stats.circuit('primary', Date.now())).toBe('open');
    await client.close();
  });

  it('opens the circuit after repeated failures and half-opens after the cooldown', async () => {
    primary.script('/chat/completions', { status: 500, times: 100 });
    const time = { now: 1_000_000 };
    const client = circuitClient(time);
    for (let i = 0; i < 3; i++) expect((await client.generate({ messages })).route.target).toBe('secondary');
    expect(primary.requests).toHaveLength(3);
    const open = await client.generate({ messages });
    expect(open.route.attempts.map((a) => a.target)).toEqual(['secondary']);
    expect(primary.requests).toHaveLength(3);
    expect(client.explain({ messages }).rejected).toEqual([expect.objectContaining({ target: 'primary', code: 'circuit-open' })]);
    time.now += 5001; // cooldown over: one probe
    primary.reset();
    const probe = await client.generate({ messages });
    expect(probe.route.target).toBe('primary');
    expect(client.stats.circuit('primary', time.now)).toBe('closed');
  });

  it('a half-open circuit lets one probe through; a call meanwhile skips that target', async () => {
    primary.script('/chat/completions', { status: 500, times: 3 });
    const time = { now: 1_000_000 };
    const client = circuitClient(time);
    for (let i = 0; i < 3; i++) await client.generate({ messages });
    expect(client.stats.circuit('primary', time.now)).toBe('open');
    time.now += 5001;
    // The probe is slow; a second call starts while it is in flight.
    primary.script('/chat/completions', { latencyMs: 150, times: 1 });
    const probe = client.generate({ messages });
    await primary.waitFor((rs) => rs.length === 4);
    const meanwhile = await client.generate({ messages });
    expect(meanwhile.route.target).toBe('secondary');
    expect(meanwhile.route.attempts[0]).toMatchObject({ target: 'primary', outcome: 'skipped', message: 'circuit open' });
    expect(primary.requests).toHaveLength(4);
    expect((await probe).route.target).toBe('primary');
    expect(client.stats.circuit('primary', time.now)).toBe('closed');
  });

  it('opens the circuit at once on a 401 and never puts the key in errors or events', async () => {
    primary.script('/chat/completions', { status: 401, times: 5 });
    const client = twoTargets();
    const seen: string[] = [];
    for (const event of ['attempt', 'fallback', 'error', 'response', 'route'] as const) client.on(event, (e: unknown) => seen.push(JSON.stringify(e)));
    const result = await client.generate({ messages });
    expect(result.route.target).toBe('secondary');
    expect(client.stats.circuit('primary', Date.now())).toBe('open');
    expect(JSON.stringify(result.route)).not.toContain('sk-test-primary-secret');
    expect(seen.join('\n')).not.toContain('sk-test-primary-secret');
    expect(primary.requests[0].headers.authorization).toContain('sk-test-primary-secret'); // it was sent, to the server only
  });
});

describe('aborts', () => {
  it('abortSignal cancels the in-flight HTTP request and rejects with ABORTED', async () => {
    primary.script('/chat/completions', { hang: true });
    const client = twoTargets();
    const attempts: { outcome: string; code?: string }[] = [];
    client.on('attempt', (attempt) => void attempts.push(attempt));
    const controller = new AbortController();
    const pending = client.generate({ messages, abortSignal: controller.signal, latency: 'batch' });
    await primary.waitForRequests(1);
    controller.abort();
    const error = await pending.catch((e) => e);
    expect(error.code).toBe('ABORTED');
    // The caller's abort is an abort (it says nothing about the target), not a timeout.
    expect(attempts).toEqual([expect.objectContaining({ outcome: 'aborted', code: 'ABORTED' })]);
    expect(client.stats.circuit('primary', Date.now())).toBe('closed');
    await primary.waitFor((rs) => rs[0]?.aborted === true);
    expect(secondary.requests).toHaveLength(0);
  });
});

describe('streams', () => {
  it('a stream whose first part never comes within the budget timed out (DEADLINE_EXCEEDED) on its attempt too', async () => {
    primary.script('/chat/completions', { hang: true, times: 10 });
    const client = primaryOnly();
    const attempts: { outcome: string; code?: string }[] = [];
    client.on('attempt', (attempt) => void attempts.push(attempt));
    const error = await (async () => {
      for await (const part of client.stream({ messages, latency: 150 })) void part;
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(attempts).toEqual([expect.objectContaining({ outcome: 'error', code: 'DEADLINE_EXCEEDED' })]);
    await primary.waitFor((rs) => rs[0]?.aborted === true);
    await client.close();
  });

  it('falls back when the stream fails before its first part', async () => {
    primary.script('/chat/completions', { status: 503, times: 10 });
    const parts: string[] = [];
    let route;
    for await (const part of twoTargets().stream({ prompt: 'stream me please', latency: 2000 })) {
      if (part.type === 'text-delta') parts.push(part.text);
      if (part.type === 'finish') route = part.route;
    }
    expect(parts.join('')).toContain('stream me please');
    expect(route).toMatchObject({ target: 'secondary' });
  });

  it('ends with a typed error carrying the partial text when resumption is off', async () => {
    primary.script('/chat/completions', { stream: { resetAfterChunks: 3 } });
    const parts: string[] = [];
    const error = await (async () => {
      for await (const part of twoTargets().stream({ prompt: 'one two three four five six seven', onStreamFailure: 'error' })) {
        if (part.type === 'text-delta') parts.push(part.text);
      }
    })().catch((e) => e);
    expect(error.code).toBe('STREAM_INTERRUPTED');
    expect(parts.length).toBeGreaterThan(0);
    expect(error.partialText).toBe(parts.join(''));
    expect(secondary.requests).toHaveLength(0);
  });

  it('breaking out of for-await closes the connection', async () => {
    primary.script('/chat/completions', { stream: { interChunkMs: 30 } });
    for await (const part of twoTargets().stream({ prompt: 'a b c d e f g h i j k l m n o p' })) {
      if (part.type === 'text-delta') break;
    }
    await primary.waitFor((rs) => rs[0]?.aborted === true);
  });

  it('breaking out of for-await closes the connection when the target is the only one (the call signal itself)', async () => {
    primary.script('/chat/completions', { stream: { interChunkMs: 30 } });
    const client = createClient({ targets: [openai({ id: 'only', model: 'm', baseURL: primary.baseURL, apiKey: 'test', expected: fast })] });
    let deltas = 0;
    for await (const part of client.stream({ prompt: 'a b c d e f g h i j k l m n o p' })) {
      if (part.type === 'text-delta' && ++deltas === 2) break;
    }
    await primary.waitFor((rs) => rs[0]?.finishedAt !== undefined);
    expect(primary.requests[0].aborted).toBe(true);
    expect(deltas).toBe(2);
  });
});
