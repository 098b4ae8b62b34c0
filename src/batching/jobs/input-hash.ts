/**
 * The job's input hash over the stored item chunks, in order: tells a resubmission of identical
 * input apart. 'sha256:<hex>' (SHA-256 over the SHA-256 of each chunk's UTF-8) where Web Crypto is
 * there (Node, workers, browsers in secure contexts): native, several times faster than hashing in
 * JavaScript, which was a tenth of a 50,000-item submission. Elsewhere 'fnv1a64:<hex>', 64-bit
 * FNV-1a over the UTF-16 code units, pure. The prefix says which, so hashes are only ever compared
 * within one algorithm.
 *
 * Imports: nothing.
 */
const encoder = new TextEncoder();

export class InputHash {
  private readonly subtle = globalThis.crypto?.subtle;
  private readonly chunkDigests: Promise<ArrayBuffer>[] = [];
  private readonly fallback = new Fnv1a64();

  /** Adds the next chunk (its digest starts at once; `digest()` waits for all). */
  update(chunk: string): void {
    if (this.subtle) {
      const digest = this.subtle.digest('SHA-256', encoder.encode(chunk));
      digest.catch(() => {}); // a submission that fails before digest() leaves no unhandled rejection
      this.chunkDigests.push(digest);
    }
    else this.fallback.update(chunk);
  }

  async digest(): Promise<string> {
    if (!this.subtle) return `fnv1a64:${this.fallback.digest()}`;
    const digests = await Promise.all(this.chunkDigests);
    const joined = new Uint8Array(digests.length * 32);
    digests.forEach((digest, index) => joined.set(new Uint8Array(digest), index * 32));
    return `sha256:${hex(new Uint8Array(await this.subtle.digest('SHA-256', joined)))}`;
  }
}

function hex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

/** 64-bit FNV-1a over UTF-16 code units, as two 32-bit halves. */
class Fnv1a64 {
  private high = 0xcbf29ce4;
  private low = 0x84222325;

  update(text: string): void {
    for (let index = 0; index < text.length; index++) {
      this.low ^= text.charCodeAt(index);
      // Multiply by the 64-bit FNV prime 0x100000001b3 in 16-bit limbs.
      const lowLow = this.low & 0xffff;
      const lowHigh = this.low >>> 16;
      const a = lowLow * 0x1b3;
      const b = lowHigh * 0x1b3 + (a >>> 16);
      const newLow = ((b & 0xffff) << 16) | (a & 0xffff);
      const carry = b >>> 16;
      this.high = (Math.imul(this.high, 0x1b3) + (this.low << 8) + carry) >>> 0;
      this.low = newLow >>> 0;
    }
  }

  digest(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}
