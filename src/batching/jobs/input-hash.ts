/**
 * The job's input hash: 64-bit FNV-1a over the UTF-16 code units of the stored item chunks.
 * Pure, runs everywhere; tells a resubmission of identical input apart.
 *
 * Imports: nothing.
 */
export class InputHash {
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
