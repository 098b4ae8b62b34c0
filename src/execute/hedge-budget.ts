/**
 * A token bucket that caps hedged requests at a fraction of all requests (5% by default), so
 * hedging cannot double the load during an outage ("The Tail at Scale", Dean and Barroso).
 * Every request deposits `ratio` tokens; a hedge spends one.
 */
export interface HedgeBudgetSettings {
  /** Share of requests that may be hedged. @default 0.05 */
  ratio?: number;
  /** Tokens the bucket can hold (the largest burst of hedges). @default 2 */
  burst?: number;
}

export class HedgeBudget {
  private tokens: number;
  private readonly ratio: number;
  private readonly burst: number;

  constructor(settings: HedgeBudgetSettings = {}) {
    this.ratio = settings.ratio ?? 0.05;
    this.burst = settings.burst ?? 2;
    this.tokens = this.burst;
  }

  /** Called once per request that could be hedged. */
  deposit(): void {
    this.tokens = Math.min(this.burst, this.tokens + this.ratio);
  }

  /** Takes one token when there is one. */
  take(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  available(): number {
    return this.tokens;
  }
}
