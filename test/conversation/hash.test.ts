import { describe, expect, it } from 'vitest';
import { blockHashes, canonicalMessage, hash64, prefixHashes, prefixMatchScore, sharedPrefixLength } from '../../src/conversation/hash.js';
import type { Message } from '../../src/target.js';

function history(turns: number, seed = 'x'): Message[] {
  const messages: Message[] = [{ role: 'system', content: 'You are terse.' }];
  for (let turn = 0; turn < turns; turn++) {
    messages.push({ role: 'user', content: `${seed} question ${turn}` });
    messages.push({ role: 'assistant', content: `${seed} answer ${turn}` });
  }
  return messages;
}

describe('hash64', () => {
  it('is a 16-hex-digit value that differs for near-identical inputs and seeds', () => {
    const values = new Set(['', 'a', 'b', 'ab', 'ba', '\u0000', '\u0000\u0000', 'a'.repeat(1000), 'a'.repeat(1001)].map((text) => hash64(text)));
    expect(values.size).toBe(9);
    for (const value of values) expect(value).toMatch(/^[0-9a-f]{16}$/);
    expect(hash64('same', 1)).not.toBe(hash64('same', 2));
    expect(hash64('same')).toBe(hash64('same'));
  });

  it('has no collisions over 50,000 short distinct strings', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 50_000; index++) seen.add(hash64(`user-${index}`));
    expect(seen.size).toBe(50_000);
  });
});

describe('canonicalMessage', () => {
  it('keeps only role, content and name, with sorted keys', () => {
    const withExtras = { role: 'user', content: 'hi', id: 'msg_1', createdAt: 5 } as unknown as Message;
    expect(canonicalMessage(withExtras)).toBe('{"content":"hi","role":"user"}');
    expect(canonicalMessage({ name: 'ann', role: 'user', content: 'hi' })).toBe('{"content":"hi","name":"ann","role":"user"}');
  });
});

describe('prefixHashes', () => {
  it('gives the same chain for the same history, independently computed', () => {
    expect(prefixHashes(history(6))).toEqual(prefixHashes(history(6)));
    expect(new Set(prefixHashes(history(6))).size).toBe(13);
  });

  it('shares the prefix of a longer history', () => {
    const short = prefixHashes(history(3));
    const long = prefixHashes(history(6));
    expect(long.slice(0, short.length)).toEqual(short);
  });

  it('changes every later hash when an early message is edited, and none before it', () => {
    const original = history(6);
    const edited = original.map((message) => ({ ...message }));
    edited[2] = { ...edited[2], content: `${edited[2].content}!` };
    const before = prefixHashes(original);
    const after = prefixHashes(edited);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    for (let index = 2; index < before.length; index++) expect(after[index]).not.toBe(before[index]);
    expect(sharedPrefixLength(before, after)).toBe(2);
  });

  it('depends on the target and the tokenizer of the seed', () => {
    const messages = history(1);
    const base = prefixHashes(messages, { target: 'a', tokenizer: 'estimate' });
    expect(prefixHashes(messages, { target: 'b', tokenizer: 'estimate' })[0]).not.toBe(base[0]);
    expect(prefixHashes(messages, { target: 'a', tokenizer: 'gpt-tokenizer' })[0]).not.toBe(base[0]);
  });

  it('ignores fields outside role, content and name', () => {
    const messages = history(2);
    const decorated = messages.map((message, index) => ({ ...message, id: `m${index}`, at: index }));
    expect(prefixHashes(decorated)).toEqual(prefixHashes(messages));
  });
});

describe('blockHashes and prefixMatchScore', () => {
  it('hashes long text in fixed blocks so a shared beginning is counted', () => {
    const base = 'lorem ipsum '.repeat(100);
    const changedTail = `${base.slice(0, 640)}DIFFERENT${base.slice(649)}`;
    const left = blockHashes(base, 64);
    expect(left.length).toBe(Math.ceil(base.length / 64));
    expect(sharedPrefixLength(left, blockHashes(changedTail, 64))).toBe(10);
  });

  it('scores a partial match between histories', () => {
    const system = { role: 'system' as const, content: 'S'.repeat(2000) };
    const cached = [system, { role: 'user' as const, content: 'same start '.repeat(30) + 'old ending' }];
    const candidate = [system, { role: 'user' as const, content: 'same start '.repeat(30) + 'new ending that is longer' }];
    const score = prefixMatchScore(cached, candidate);
    expect(score).toBeGreaterThan(0.9);
    expect(score).toBeLessThan(1);
    expect(prefixMatchScore(candidate, candidate)).toBe(1);
    expect(prefixMatchScore([{ role: 'system', content: 'other' }], candidate)).toBe(0);
  });
});
