/**
 * Voice activity on the device, for sessions whose endpoint does not detect speech (the cascaded
 * path): an energy detector over 20 ms frames of PCM16, timed by the audio's own length (never by
 * a wall clock, so it behaves the same however fast audio arrives). `speech-started` once a frame
 * is louder than the threshold; `speech-stopped` after `silenceMs` of quieter frames.
 *
 * Imports: nothing.
 */

export interface VadSettings {
  /** RMS level (0..1 of full scale) above which a frame is speech. @default 0.05 (about -26 dBFS) */
  threshold?: number;
  /** Quiet audio after speech that ends the turn, ms. @default 200 (OpenAI's server VAD default) */
  silenceMs?: number;
}

export class EnergyVad {
  private readonly frameBytes: number;
  private readonly threshold: number;
  private readonly silenceFrames: number;
  private pending = new Uint8Array(0);
  private speaking = false;
  private quietFrames = 0;

  constructor(sampleRate: number, settings: VadSettings = {}) {
    this.frameBytes = Math.round(sampleRate / 50) * 2;
    this.threshold = settings.threshold ?? 0.05;
    this.silenceFrames = Math.max(1, Math.ceil((settings.silenceMs ?? 200) / 20));
  }

  /** Feeds audio; returns the transitions it contains, in order. */
  push(audio: Uint8Array): ('speech-started' | 'speech-stopped')[] {
    const joined = new Uint8Array(this.pending.length + audio.length);
    joined.set(this.pending);
    joined.set(audio, this.pending.length);
    const view = new DataView(joined.buffer);
    const events: ('speech-started' | 'speech-stopped')[] = [];
    let offset = 0;
    for (; offset + this.frameBytes <= joined.length; offset += this.frameBytes) {
      let energy = 0;
      for (let at = offset; at < offset + this.frameBytes; at += 2) {
        const sample = view.getInt16(at, true) / 32767;
        energy += sample * sample;
      }
      const voiced = Math.sqrt(energy / (this.frameBytes / 2)) > this.threshold;
      if (voiced) {
        this.quietFrames = 0;
        if (!this.speaking) {
          this.speaking = true;
          events.push('speech-started');
        }
      } else if (this.speaking && ++this.quietFrames >= this.silenceFrames) {
        this.speaking = false;
        this.quietFrames = 0;
        events.push('speech-stopped');
      }
    }
    this.pending = joined.slice(offset);
    return events;
  }

  /** Forgets a half-heard turn (the input buffer was cleared). */
  reset(): void {
    this.pending = new Uint8Array(0);
    this.speaking = false;
    this.quietFrames = 0;
  }
}
