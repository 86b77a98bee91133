import { Context } from '@temporalio/activity';

/** Waits `seconds`, heartbeating each second so a dead worker is noticed within the heartbeat timeout. */
export async function holdWithHeartbeat(seconds: number): Promise<void> {
  const ctx = Context.current();
  for (let i = 0; i < seconds; i++) {
    ctx.heartbeat({ held: i });
    await ctx.sleep(1000);
  }
}
