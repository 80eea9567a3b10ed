/**
 * CPU accounting: a stage declares how many cores one execution keeps busy, and the scheduler
 * starts it only when that many are free, so `--jobs 2` does not put two two-thread trainings on
 * a two-core machine. (A counting semaphore; p-queue limits the number of stages, this limits
 * their total weight.)
 */
export class CpuPool {
  private free: number;
  private readonly waiters: Array<{ n: number; wake: () => void }> = [];

  constructor(readonly capacity: number) {
    this.free = capacity;
  }

  async acquire(requested: number): Promise<() => void> {
    const n = Math.max(1, Math.min(requested, this.capacity));
    if (this.free >= n && this.waiters.length === 0) this.free -= n;
    else await new Promise<void>((wake) => this.waiters.push({ n, wake }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.free += n;
      this.drain();
    };
  }

  private drain(): void {
    // First come, first served: a large request is not starved by a stream of small ones.
    while (this.waiters.length > 0 && this.free >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      this.free -= w.n;
      w.wake();
    }
  }
}
