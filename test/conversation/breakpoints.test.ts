import { describe, expect, it } from 'vitest';
import { cacheBreakpoints, promptCacheKey } from '../../src/conversation/breakpoints.js';
import type { CountedMessage } from '../../src/conversation/fit.js';

const turn = (systemTokens: number, turns: number): CountedMessage[] => {
  const messages: CountedMessage[] = [{ role: 'system', content: 's', tokens: systemTokens }];
  for (let index = 0; index < turns; index++) {
    messages.push({ role: 'user', content: `u${index}`, tokens: 200 });
    messages.push({ role: 'assistant', content: `a${index}`, tokens: 300 });
  }
  messages.push({ role: 'user', content: 'now', tokens: 50 });
  return messages;
};

describe('cacheBreakpoints', () => {
  it('marks the system message, the previous turn and the request end', () => {
    const messages = turn(2000, 3);
    expect(cacheBreakpoints(messages, 1024)).toEqual([0, messages.length - 2, messages.length - 1]);
  });

  it('skips prefixes below the minimum', () => {
    const messages = turn(500, 2); // prefix tokens: 500, 1000 after turn 1, 1500 after turn 2, 1550
    expect(cacheBreakpoints(messages, 1024)).toEqual([messages.length - 2, messages.length - 1]);
    expect(cacheBreakpoints(turn(100, 0), 1024)).toEqual([]);
  });

  it('never returns more than 4', () => {
    for (let turns = 0; turns < 20; turns++) expect(cacheBreakpoints(turn(5000, turns), 0).length).toBeLessThanOrEqual(4);
  });
});

describe('promptCacheKey', () => {
  it('is stable for a conversation and differs between conversations and system prompts', () => {
    expect(promptCacheKey('sys', 'user-1')).toBe(promptCacheKey('sys', 'user-1'));
    expect(promptCacheKey('sys', 'user-1')).not.toBe(promptCacheKey('sys', 'user-2'));
    expect(promptCacheKey('sys', 'user-1')).not.toBe(promptCacheKey('other', 'user-1'));
    expect(promptCacheKey('sys', 'user-1')).toMatch(/^il-[0-9a-f]{16}$/);
  });
});
