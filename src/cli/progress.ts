/**
 * A one-line progress bar for stderr, redrawn in place (`\r`) at most every 100 ms:
 *
 *     [##########----------]  48%  7.9M/16.8M  21.3M/s  0:01 left
 *
 * Only for a terminal: the commands create it when stderr is a TTY, and never otherwise.
 */
import { CliIO } from './command';

/** 1234567 → '1.2M'. */
export function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(Math.round(n));
}

/** Seconds as m:ss (or h:mm:ss). */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class ProgressBar {
  private last = -Infinity;
  private drawn = false;

  constructor(
    private readonly stream: CliIO['stderr'],
    private readonly intervalMs = 100,
  ) {}

  /** Redraws the bar for `done` of `total` after `seconds` (throttled unless `force`). */
  update(done: number, total: number, seconds: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs && done < total) return;
    this.last = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const rate = seconds > 0 ? done / seconds : 0;
    const left = rate > 0 ? (total - done) / rate : Infinity;
    const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}%  ${compact(done)}/${compact(total)}  ${compact(rate)}/s  ${clock(left)} left`;
    const columns = this.stream.columns ?? 80;
    const width = Math.max(10, Math.min(40, columns - tail.length - 3));
    const filled = Math.round(fraction * width);
    this.stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`);
    this.drawn = true;
  }

  /** Erases the bar (call before printing anything else). */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
