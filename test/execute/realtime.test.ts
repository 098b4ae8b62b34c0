/**
 * The realtime segment: hedged requests, first-token and idle deadlines, and streams that resume
 * on another target. Real `openai` client, local server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClientStreamPart } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let primary: OpenAIServer;
let secondary: OpenAIServer;

beforeAll(async () => {
  primary = await startOpenAIServer({ seed: 3 });
  secondary = await startOpenAIServer({ seed: 4 });
  await collect(client().stream({ prompt: 'warm up', latency: 2000 }));
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

function client(options: { hedgeRatio?: number; burst?: number; ttftMs?: number } = {}) {
  const expected = { ttftMs: options.ttftMs ?? 15, totalMs: 40 };
  return createClient({
    targets: [
      openai({ id: 'primary', model: 'm', kind: 'realtime', baseURL: primary.baseURL, apiKey: 'test', expected }),
      openai({ id: 'secondary', model: 'm', kind: 'realtime', baseURL: secondary.baseURL, apiKey: 'test', expected }),
    ],
    hedge: { ratio: options.hedgeRatio ?? 0.05, burst: options.burst ?? 2 },
    retry: { initialDelayMs: 5, maxDelayMs: 10 },
  });
}

async function collect(parts: AsyncIterable<ClientStreamPart>) {
  const all: ClientStreamPart[] = [];
  for await (const part of parts) all.push(part);
  const text = all.flatMap((p) => (p.type === 'text-delta' ? [p.text] : [])).join('');
  const finish = all.find((p) => p.type === 'finish') as Extract<ClientStreamPart, { type: 'finish' }> | undefined;
  return { all, text, route: finish?.route };
}

describe('hedging', () => {
  it('hedges a slow primary; the hedge wins and the loser connection closes', async () => {
    primary.script('/chat/completions', { latencyMs: 400, times: 100 });
    // A 5 ms prior: the hedge starts after ~10 ms, well inside the primary's share of the 90 ms
    // budget, so the hedge wins before that share runs out even on a loaded machine.
    const c = client({ ttftMs: 5 });
    const hedges: { winner: string }[] = [];
    c.on('hedge', (e) => hedges.push(e));
    const { text, route } = await collect(c.stream({ prompt: 'quick answer', latency: 90 }));
    expect(route?.target).toBe('secondary');
    expect(route?.hedged).toBe(true);
    expect(text).toContain('quick answer');
    expect(hedges).toEqual([expect.objectContaining({ primary: 'primary', hedge: 'secondary', winner: 'secondary' })]);
    await primary.waitFor((rs) => rs.length === 1 && rs[0].aborted);
    expect(route?.attempts.find((a) => a.target === 'primary')).toMatchObject({ outcome: 'aborted', message: 'lost the hedge' });
  });

  it('hedges unary generate calls too when asked', async () => {
    primary.script('/chat/completions', { latencyMs: 400, times: 100 });
    const result = await client().generate({ prompt: 'unary', latency: 300, hedge: true });
    expect(result.route).toMatchObject({ target: 'secondary', hedged: true });
    await primary.waitFor((rs) => rs[0]?.aborted === true);
  });

  it('a hedge that fails first does not end the call: the slower primary still answers', async () => {
    primary.script('/chat/completions', { latencyMs: 80, times: 1 });
    secondary.script('/chat/completions', { status: 500, times: 1 });
    const c = client();
    const hedges: { winner: string }[] = [];
    c.on('hedge', (e) => hedges.push(e));
    const result = await c.generate({ prompt: 'patience', latency: 1000, hedge: { afterMs: 10 } });
    expect(result.route).toMatchObject({ target: 'primary', hedged: true });
    expect(result.text).toContain('patience');
    expect(result.route.attempts.map((a) => [a.target, a.outcome, a.status])).toEqual([
      ['primary', 'ok', undefined],
      ['secondary', 'error', 500],
    ]);
    expect(hedges).toEqual([expect.objectContaining({ winner: 'primary' })]);
  });

  it('honours an explicit hedge delay', async () => {
    primary.script('/chat/completions', { latencyMs: 400, times: 100 });
    const c = client();
    const hedges: { afterMs: number }[] = [];
    c.on('hedge', (e) => hedges.push(e));
    const result = await c.generate({ prompt: 'explicit', latency: 2000, hedge: { afterMs: 120 } });
    expect(result.route).toMatchObject({ target: 'secondary', hedged: true });
    expect(hedges).toEqual([expect.objectContaining({ afterMs: 120 })]);
    // The secondary was not asked before the delay.
    const hedgeAttempt = result.route.attempts.find((a) => a.hedge)!;
    expect(hedgeAttempt.startMs).toBeGreaterThanOrEqual(115);
  });

  it('does not hedge when the primary is fast', async () => {
    const { route } = await collect(client().stream({ prompt: 'fast', latency: 90 }));
    expect(route).toMatchObject({ target: 'primary', hedged: false });
    expect(secondary.requests).toHaveLength(0);
  });

  it('the hedge budget stops hedging under a full outage', async () => {
    primary.script('/chat/completions', { hang: true, times: 1000 });
    secondary.script('/chat/completions', { hang: true, times: 1000 });
    const c = client({ hedgeRatio: 0.05, burst: 2 });
    const hedges: unknown[] = [];
    c.on('hedge', (e) => hedges.push(e));
    const requests = 60;
    const outcomes = await Promise.all(
      Array.from({ length: requests }, () => collect(c.stream({ prompt: 'x', latency: 60 })).then(() => 'ok', (e) => e.code)),
    );
    expect(outcomes.every((o) => o === 'DEADLINE_EXCEEDED')).toBe(true);
    // At most the burst plus 5% of requests were hedged.
    expect(hedges.length).toBeLessThanOrEqual(2 + Math.ceil(requests * 0.05));
    expect(hedges.length).toBeGreaterThan(0);
  });
});

describe('stream deadlines', () => {
  it('firstTokenMs fires when the first part is late, counting as the target failure', async () => {
    primary.script('/chat/completions', { stream: { firstChunkDelayMs: 2000 }, times: 100 });
    secondary.script('/chat/completions', { stream: { firstChunkDelayMs: 2000 }, times: 100 });
    const c = client();
    const started = performance.now();
    const error = await collect(c.stream({ prompt: 'late', latency: 1500, firstTokenMs: 150, hedge: false })).catch((e) => e);
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(error.message).toContain('150 ms');
    expect(performance.now() - started).toBeLessThan(150 + 60);
    await primary.waitFor((rs) => rs[0]?.aborted === true);
  });

  it('idleMs fires on a stalled stream and the stream resumes elsewhere', async () => {
    primary.script('/chat/completions', { stream: { interChunkMs: 600 }, times: 100 });
    const c = client();
    const { all, text, route } = await collect(c.stream({ prompt: 'alpha beta gamma delta', latency: 1500, idleMs: 150, hedge: false }));
    const resumed = all.find((p) => p.type === 'resumed');
    expect(resumed).toMatchObject({ fromTarget: 'primary', toTarget: 'secondary', reason: 'DEADLINE_EXCEEDED' });
    expect(route?.target).toBe('secondary');
    expect(text.length).toBeGreaterThan(0);
    await primary.waitFor((rs) => rs[0]?.aborted === true);
  });
});

describe("the caller's abort mid-stream", () => {
  it('closes the connection at once even with a backup target (the attempt has its own controller)', async () => {
    primary.script('/chat/completions', { stream: { interChunkMs: 400 }, times: 100 });
    const c = client();
    const controller = new AbortController();
    let abortedAt = 0;
    const error = await (async () => {
      for await (const part of c.stream({ prompt: 'one two three four', latency: 2000, hedge: false, abortSignal: controller.signal })) {
        if (part.type === 'text-delta' && abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    })().catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ABORTED');
    // The next chunk was 400 ms away; the abort must not wait for it (nor for idleMs).
    expect(performance.now() - abortedAt).toBeLessThan(300);
    await primary.waitFor((rs) => rs[0]?.aborted === true);
    expect(secondary.requests).toHaveLength(0);
  });
});

describe('idle deadline and a slow caller', () => {
  it('a caller that holds each part longer than idleMs does not trip it: only waiting on the provider counts', async () => {
    const c = client();
    const texts: string[] = [];
    let route: { target: string; attempts: { outcome: string }[] } | undefined;
    for await (const part of c.stream({ prompt: 'one two three four', latency: 2000, idleMs: 80, hedge: false })) {
      if (part.type === 'text-delta') {
        texts.push(part.text);
        // The caller is busy for twice the idle deadline between parts (a slow socket, say).
        await new Promise((resolve) => setTimeout(resolve, 160));
      }
      if (part.type === 'finish') route = part.route;
    }
    expect(texts.length).toBeGreaterThan(1);
    expect(route?.target).toBe('primary');
    expect(route?.attempts.map((attempt) => attempt.outcome)).toEqual(['ok']);
    expect(primary.requests.filter((request) => request.path.endsWith('/chat/completions'))).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });
});

describe('stream resumption', () => {
  it('a stream reset after 5 parts resumes on the secondary with the partial text as an assistant message', async () => {
    primary.script('/chat/completions', { stream: { resetAfterChunks: 5 }, times: 100 });
    const c = client();
    const { all, text, route } = await collect(c.stream({ prompt: 'one two three four five six seven eight nine ten', latency: 2000, hedge: false }));
    const resumedIndex = all.findIndex((p) => p.type === 'resumed');
    expect(resumedIndex).toBeGreaterThan(0);
    const partial = all.slice(0, resumedIndex).flatMap((p) => (p.type === 'text-delta' ? [p.text] : [])).join('');
    const continuation = all.slice(resumedIndex).flatMap((p) => (p.type === 'text-delta' ? [p.text] : [])).join('');
    expect(partial.length).toBeGreaterThan(0);
    expect(all[resumedIndex]).toMatchObject({ type: 'resumed', fromTarget: 'primary', toTarget: 'secondary', offset: partial.length });
    expect(text).toBe(partial + continuation);
    expect(route).toMatchObject({ target: 'secondary', fellBack: true });
    const sent = secondary.requests[0].body as { messages: { role: string; content: string }[] };
    expect(sent.messages.at(-1)).toEqual({ role: 'assistant', content: partial });
  });

  it('malformed SSE mid-stream also resumes rather than truncating silently', async () => {
    primary.script('/chat/completions', { stream: { truncateAfterChunks: 3 }, times: 100 });
    const { all, route } = await collect(client().stream({ prompt: 'a b c d e f g h', latency: 2000, hedge: false }));
    expect(all.some((p) => p.type === 'resumed')).toBe(true);
    expect(route?.target).toBe('secondary');
  });
});
