/** Helpers to stop waiting for a promise when a signal aborts, without leaking what it settles to later. */

/** Why `signal` aborted, as an Error. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as `signal` aborts, whichever
 * comes first. When the signal wins, a later rejection of `promise` is swallowed and a later value
 * is handed to `onLateValue` (to give it back), so nothing leaks and nothing is unhandled.
 * @param onLateValue called with a value that arrives after the abort. @default nothing is done
 */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  onLateValue?: (value: T) => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(abortReason(signal));
    };
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (aborted) void Promise.resolve(onLateValue?.(value)).catch(() => {});
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!aborted) reject(err);
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
