import { describe, expect, it } from 'vitest';
import { ContextOverflowError, InferlaneError } from '../../src/errors.js';
import { fitMessages, stableCut, type CountedMessage } from '../../src/conversation/fit.js';

/** A seeded PRNG so turn lengths vary but repeat. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

function conversation(turns: number, seed = 7): CountedMessage[] {
  const random = seeded(seed);
  const messages: CountedMessage[] = [{ role: 'system', content: 'system', tokens: 300 }];
  for (let turn = 0; turn < turns; turn++) {
    messages.push({ role: 'user', content: `q${turn}`, tokens: 20 + Math.floor(random() * 80) });
    messages.push({ role: 'assistant', content: `a${turn}`, tokens: 50 + Math.floor(random() * 250) });
  }
  return messages;
}

describe('fitMessages', () => {
  it('sends everything while it fits', () => {
    const messages = conversation(3);
    const fitted = fitMessages([...messages, { role: 'user', content: 'next', tokens: 10 }], { contextTokens: 8192 });
    expect(fitted.cut).toBe(0);
    expect(fitted.messages).toHaveLength(messages.length + 1);
  });

  it('never drops the system message and never sends a turn that starts with an assistant', () => {
    const messages = conversation(40);
    const fitted = fitMessages([...messages, { role: 'user', content: 'next', tokens: 10 }], { contextTokens: 4096, reserveOutputTokens: 512 });
    expect(fitted.cut).toBeGreaterThan(0);
    expect(fitted.messages[0]).toMatchObject({ role: 'system', content: 'system' });
    expect(fitted.messages[1].role).toBe('user');
    expect(fitted.tokens).toBeLessThanOrEqual(4096 - 512);
    expect(fitted.messages.at(-1)?.content).toBe('next');
  });

  it('keeps the same prefix for at least 10 consecutive turns after the window is first exceeded', () => {
    const all = conversation(200, 11);
    const options = { contextTokens: 8192, reserveOutputTokens: 1024 };
    let firstOverflow = -1;
    const prefixes: string[] = [];
    // Each turn sends history + the new user message; record the first kept message after the cut.
    for (let end = 2; end < all.length; end += 2) {
      const fitted = fitMessages(all.slice(0, end), options);
      if (fitted.cut > 0 && firstOverflow < 0) firstOverflow = prefixes.length;
      prefixes.push(`${fitted.cut}:${fitted.messages[1].content}`);
    }
    expect(firstOverflow).toBeGreaterThan(0);
    // Count how long each kept prefix lasts after the first overflow.
    const runs: number[] = [];
    let run = 1;
    for (let index = firstOverflow + 1; index < prefixes.length; index++) {
      if (prefixes[index] === prefixes[index - 1]) run++;
      else {
        runs.push(run);
        run = 1;
      }
    }
    expect(runs.length).toBeGreaterThan(2); // the window overflowed several times
    for (const length of runs) expect(length).toBeGreaterThanOrEqual(10);
  });

  it('agrees with itself across calls: the cut depends only on the history and the window', () => {
    const all = conversation(80, 3);
    const once = fitMessages(all.slice(0, 121), { contextTokens: 6000 });
    const again = fitMessages(all.slice(0, 121), { contextTokens: 6000 });
    expect(again).toEqual(once);
    expect(stableCut(all.slice(1, 121), 5000)).toBe(stableCut(all.slice(1, 121), 5000));
  });

  it("throws ContextOverflowError in 'error' mode", () => {
    const messages = conversation(40);
    let caught: unknown;
    try {
      fitMessages(messages, { contextTokens: 2048, mode: 'error' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ContextOverflowError);
    expect(InferlaneError.isInstance(caught) && caught.code).toBe('CONTEXT_OVERFLOW');
    expect((caught as ContextOverflowError).limit).toBe(2048 - 512);
  });

  it('throws when the newest message alone cannot fit', () => {
    const messages: CountedMessage[] = [
      { role: 'system', content: 's', tokens: 100 },
      { role: 'user', content: 'huge', tokens: 5000 },
    ];
    expect(() => fitMessages(messages, { contextTokens: 4096 })).toThrow(ContextOverflowError);
  });

  it("inserts the summary of the dropped turns in 'summarize' mode", () => {
    const messages = conversation(40);
    const cuts: number[] = [];
    const fitted = fitMessages(messages.concat({ role: 'user', content: 'next', tokens: 5 }), {
      contextTokens: 4096,
      mode: 'summarize',
      summaryFor: (cut) => {
        cuts.push(cut);
        return { role: 'system', content: `summary of ${cut}`, tokens: 40 };
      },
    });
    expect(fitted.summarized).toBe(true);
    expect(cuts).toEqual([fitted.cut]);
    expect(fitted.messages[1]).toMatchObject({ role: 'system', content: `summary of ${fitted.cut}` });
    expect(fitted.messages[2].role).toBe('user');
  });
});
