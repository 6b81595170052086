/**
 * A child process whose clock runs fast: libfaketime preloaded (`LD_PRELOAD`) with a speed
 * multiplier, so `Date`, timers and `setTimeout` in a Node child pass `speed` times faster from the
 * real time on (FACTS.md). For a child that must wait out the store's backoff (1 + 2 + 4 + 8 + 16 +
 * 30 s) or a lease's expiry in a test that takes seconds. The `faketime` package (Debian), which
 * `.ci/run` installs, brings the library.
 */
import { execFileSync } from 'node:child_process';

let library: string | undefined;

/** Where Debian's libfaketime put its preload library (`dpkg -L libfaketime`). */
export function fakeTimeLibrary(): string {
  if (library === undefined) {
    const files = execFileSync('dpkg', ['-L', 'libfaketime'], { encoding: 'utf8' }).split('\n');
    const found = files.find((file) => file.endsWith('/libfaketime.so.1'));
    if (!found) throw new Error('libfaketime.so.1 not found: apt-get install faketime');
    library = found;
  }
  return library;
}

/** The environment of a child whose clock starts now and runs `speed` times as fast. */
export function fastClockEnv(speed: number): Record<string, string> {
  return { LD_PRELOAD: fakeTimeLibrary(), FAKETIME: `+0 x${speed}` };
}
