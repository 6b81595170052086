/**
 * Refusing options nobody reads: a typo such as `catchupWindows` (or an option of a newer Piko) would
 * otherwise do nothing, silently, since TypeScript's checks are gone at run time (tsx strips types).
 */

/** Edits (insert, delete, substitute one character) that turn `a` into `b`: Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name closest to `name`, when it is close enough to be a typo: at most a third of its
 * length in edits (at least 2), case ignored; undefined otherwise.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  const allowed = Math.max(2, Math.floor(name.length / 3));
  return best && best.distance <= allowed ? best.name : undefined;
}

/**
 * One problem per own key of `options` that is not in `known`, each naming the nearest known option:
 * `unknown option "schedule.timzone"; did you mean "schedule.timezone"?`.
 * @param prefix put before each key, such as `'schedule.'`. @default ''
 */
export function unknownOptionProblems(options: object, known: readonly string[], prefix = ''): string[] {
  return Object.keys(options)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const nearest = nearestName(key, known);
      return nearest === undefined
        ? `unknown option ${JSON.stringify(prefix + key)}; the options are ${known.join(', ')}`
        : `unknown option ${JSON.stringify(prefix + key)}; did you mean ${JSON.stringify(prefix + nearest)}?`;
    });
}

/** A problem as a sentence, as sink problems are written: capital first letter, closing full stop. */
export function asSentence(problem: string): string {
  const capital = `${problem.charAt(0).toUpperCase()}${problem.slice(1)}`;
  return /[.?!]$/.test(capital) ? capital : `${capital}.`;
}
