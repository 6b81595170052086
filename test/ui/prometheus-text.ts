/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), strict enough to fail a
 * test on malformed output: every sample belongs to a family declared by `# TYPE`, label values are
 * quoted with their escapes, values are numbers, `NaN` or `±Inf`.
 */

/** One sample line. */
export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

/** Parses the text; throws on the first line that is not valid. */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const families = new Map<string, string>();
  const samples: PrometheusSample[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) families.set(type[1]!, type[2]!);
      else if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line))
        throw new Error(`line ${index + 1}: bad comment: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not a sample: ${line}`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const family = families.has(name)
      ? name
      : SUFFIXES.map((suffix) => (name.endsWith(suffix) ? name.slice(0, -suffix.length) : '')).find((base) =>
          families.has(base),
        );
    if (!family) throw new Error(`line ${index + 1}: sample ${name} has no # TYPE`);
    samples.push({
      name,
      labels: parseLabels(labelText ?? '', index + 1),
      value: parseValue(valueText, index + 1),
    });
  }
  return samples;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) throw new Error(`line ${line}: bad labels: {${text}}`);
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
    if (match[3] === '') break;
  }
  return labels;
}

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) || Number.isNaN(value)) {
    throw new Error(`line ${line}: bad value ${text}`);
  }
  return value;
}

/** The one sample named `name` with exactly these labels (among others it may have none). */
export function sampleValue(
  samples: readonly PrometheusSample[],
  name: string,
  labels: Readonly<Record<string, string>>,
): number | undefined {
  const keys = Object.keys(labels);
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === keys.length &&
      keys.every((key) => sample.labels[key] === labels[key]),
  );
  if (found.length > 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}
