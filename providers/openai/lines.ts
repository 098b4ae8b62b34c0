/**
 * Splits a byte stream into text lines as it arrives, so a batch output file of
 * hundreds of MB is never held as one string.
 */
export async function* readLines(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (!body) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let finished = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      // Walk the buffer with an index and cut the remainder once: slicing per line would
      // copy the rest of the chunk for every line (quadratic on large files).
      let start = 0;
      let newline = pending.indexOf('\n', start);
      while (newline !== -1) {
        const line = pending.slice(start, newline).replace(/\r$/, '');
        if (line.trim() !== '') yield line;
        start = newline + 1;
        newline = pending.indexOf('\n', start);
      }
      pending = pending.slice(start);
    }
    pending += decoder.decode();
    if (pending.trim() !== '') yield pending.replace(/\r$/, '');
    finished = true;
  } finally {
    // A consumer that stops early releases the connection instead of draining it.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
