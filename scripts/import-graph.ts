/**
 * The import graph of the project, and the two rules `npm run lint` holds it to: no import cycles,
 * and nothing that runs on AWS reaching what must not run there. The second is checked on the graph
 * as esbuild resolves it: esbuild is the bundler of every Lambda and of the stage image, so its graph
 * is the one that ships (`import type` is gone from it, `import { type X }` is kept under
 * `verbatimModuleSyntax`, dynamic `import()` of a literal path is an edge). Cycles are searched in
 * that graph joined with every import and export declaration as TypeScript parses it, `import type`
 * included: a cycle of types costs nothing at run time, but it still ties the modules together (one
 * cannot move or be understood without the other), and a type import turned into a value import
 * later would make it a cycle that runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import ts from 'typescript';

/** Module → the modules it imports (both sorted). Project files are paths relative to the root. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** What a runtime entry must not reach. */
export interface ForbiddenImports {
  /** Package names (`aws-cdk-lib` forbids `aws-cdk-lib/aws-lambda` too). */
  readonly packages: readonly string[];
  /** Project paths relative to the root; one ending in `/` forbids the folder. */
  readonly paths: readonly string[];
}

/** A runtime entry reaching a forbidden module. */
export interface ForbiddenReach {
  readonly entry: string;
  /** The rule it breaks: a package name or a path of {@link ForbiddenImports}. */
  readonly forbidden: string;
  /** The shortest import chain from the entry to the first forbidden module on it. */
  readonly chain: readonly string[];
}

/** Everything {@link checkImports} found. */
export interface ImportReport {
  /** How many project files the cycle search covered. */
  readonly files: number;
  /** Each cycle as a chain that ends where it starts. */
  readonly cycles: readonly (readonly string[])[];
  /** The imports on those cycles that are of types only (`from → to`), gone from the bundles. */
  readonly typeOnlyImports: readonly string[];
  readonly entries: readonly string[];
  readonly forbidden: ForbiddenImports;
  readonly reaches: readonly ForbiddenReach[];
}

/** What {@link checkImports} checks. */
export interface ImportCheck {
  /** Absolute; every path below is relative to it. */
  readonly root: string;
  /** Folders whose `.ts` files (not `.d.ts`) are searched for cycles. */
  readonly dirs: readonly string[];
  /** Files bundled to run on AWS. */
  readonly entries: readonly string[];
  /** How they are bundled (aliases, main fields, …); see {@link reachableGraph}. */
  readonly bundling: BuildOptions;
  readonly forbidden: ForbiddenImports;
}

/** Both checks, every problem listed. */
export async function checkImports(check: ImportCheck): Promise<ImportReport> {
  const files = sourceFiles(check.root, check.dirs);
  const [projectGraph, bundleGraph] = await Promise.all([
    projectImportGraph(check.root, files),
    reachableGraph(check.root, check.entries, check.bundling, check.forbidden),
  ]);
  const declared = declaredImportGraph(check.root, files);
  const cycles = importCycles(joinedGraph(projectGraph, declared));
  const runtimeEdges = new Set(
    [...projectGraph].flatMap(([from, to]) => to.map((target) => edge(from, target))),
  );
  const typeOnlyImports = [
    ...new Set(
      cycles.flatMap((cycle) =>
        cycle
          .slice(1)
          .map((to, i) => edge(cycle[i]!, to))
          .filter((step) => !runtimeEdges.has(step)),
      ),
    ),
  ].sort();
  return {
    files: files.length,
    cycles,
    typeOnlyImports,
    entries: check.entries,
    forbidden: check.forbidden,
    reaches: check.entries.flatMap((entry) =>
      forbiddenReaches(bundleGraph.graph, entry, check.forbidden, bundleGraph.substitutes),
    ),
  };
}

/** The `.ts` files under `dirs` of `root`, relative to it, sorted. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  return dirs
    .flatMap((dir) =>
      readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).map((file) =>
        toPosix(path.join(dir, file)),
      ),
    )
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort();
}

/**
 * The imports between project files, each file bundled as an entry with every package left out:
 * what the files import of each other, nothing else.
 */
export async function projectImportGraph(root: string, files: readonly string[]): Promise<ImportGraph> {
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: [...files],
    outdir: path.join(root, '.import-graph'),
    bundle: true,
    write: false,
    metafile: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    logLevel: 'error',
  });
  return graphOf(metafile, { projectOnly: true });
}

/**
 * The imports between project files as TypeScript reads the declarations, without compiling: every
 * `import … from`, `import type … from`, `export … from` and `export type … from` whose module
 * resolves (as `tsc` resolves it: `moduleResolution: "Bundler"`, package.json `imports` such as
 * `#piko`) to one of `files`. Dynamic `import()` is left to esbuild's graph.
 */
export function declaredImportGraph(root: string, files: readonly string[]): ImportGraph {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    noEmit: true,
  };
  const project = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const absolute = path.join(root, file);
    const source = ts.createSourceFile(absolute, readFileSync(absolute, 'utf8'), ts.ScriptTarget.Latest);
    const targets = new Set<string>();
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const resolved = ts.resolveModuleName(specifier.text, absolute, options, ts.sys).resolvedModule;
      if (!resolved) continue;
      const target = toPosix(path.relative(root, resolved.resolvedFileName));
      if (project.has(target)) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Both graphs' edges in one. */
function joinedGraph(a: ImportGraph, b: ImportGraph): ImportGraph {
  const joined = new Map<string, string[]>();
  for (const graph of [a, b]) {
    for (const [from, to] of graph)
      joined.set(from, [...new Set([...(joined.get(from) ?? []), ...to])].sort());
  }
  return joined;
}

function edge(from: string, to: string): string {
  return `${from} → ${to}`;
}

/**
 * The modules the entries reach when bundled with `bundling`, packages included. The forbidden
 * packages are left out of the bundle (recorded as imports, never followed: aws-cdk-lib is large)
 * and never aliased away, so an entry that imports one is seen to, whatever stand-in the bundle
 * would carry. `substitutes` are the other aliases' stand-ins, which the bundler puts in, not the code.
 */
export async function reachableGraph(
  root: string,
  entries: readonly string[],
  bundling: BuildOptions,
  forbidden: ForbiddenImports,
): Promise<{ readonly graph: ImportGraph; readonly substitutes: ReadonlySet<string> }> {
  const alias = Object.fromEntries(
    Object.entries(bundling.alias ?? {}).filter(([name]) => !forbidden.packages.includes(name)),
  );
  const { metafile } = await build({
    ...bundling,
    alias,
    external: [...(bundling.external ?? []), ...forbidden.packages],
    packages: 'bundle',
    absWorkingDir: root,
    entryPoints: [...entries],
    outfile: undefined,
    outdir: path.join(root, '.import-graph'),
    bundle: true,
    write: false,
    metafile: true,
    logLevel: 'error',
  });
  const substitutes = new Set(
    Object.values(alias).map((target) =>
      moduleId(path.isAbsolute(target) ? path.relative(root, target) : target),
    ),
  );
  return { graph: graphOf(metafile, { projectOnly: false }), substitutes };
}

/**
 * The graph of a metafile: project files by their path, package files by `<package>/<path>`,
 * left-out imports by their specifier. With `projectOnly`, edges to anything but project files go.
 */
function graphOf(metafile: Metafile, { projectOnly }: { projectOnly: boolean }): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    const targets = new Set<string>();
    for (const record of imports) {
      if (projectOnly && (record.external || isPackageFile(record.path))) continue;
      // Node's built-ins are neither ours nor forbidden.
      if (record.external && isBuiltin(record.path)) continue;
      targets.add(record.external ? record.path : moduleId(record.path));
    }
    graph.set(moduleId(input), [...targets].sort());
  }
  return graph;
}

/**
 * Every import cycle: for each strongly connected component (Tarjan), the shortest cycles through
 * its files, until every file of it is on one. Each cycle starts at its smallest file and ends there.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  for (const component of stronglyConnectedComponents(graph)) {
    const members = new Set(component);
    const selfImporting = component.length === 1 && (graph.get(component[0]!) ?? []).includes(component[0]!);
    if (component.length === 1 && !selfImporting) continue;
    const covered = new Set<string>();
    for (const file of [...component].sort()) {
      if (covered.has(file)) continue;
      const cycle = shortestCycle(graph, file, members);
      for (const member of cycle) covered.add(member);
      cycles.push(cycle);
    }
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!) || a.length - b.length);
}

/** Tarjan's algorithm; components in no particular order. */
export function stronglyConnectedComponents(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    lowLink.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    components.push(component);
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components;
}

/** The shortest cycle from `start` back to it through `within` (breadth first), rotated to its smallest file. */
function shortestCycle(graph: ImportGraph, start: string, within: ReadonlySet<string>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const next of graph.get(node) ?? []) {
      if (!within.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return rotatedToSmallest(path);
      }
      if (parent.has(next)) continue;
      parent.set(next, node);
      queue.push(next);
    }
  }
  throw new Error(`${start} is in a strongly connected component but on no cycle`);
}

/** `[b, c, a]` → `[a, b, c, a]`: the cycle from its smallest file back to it. */
function rotatedToSmallest(cycle: readonly string[]): string[] {
  const first = cycle.indexOf([...cycle].sort()[0]!);
  const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
  return [...rotated, rotated[0]!];
}

/**
 * Every import by which `entry` reaches `forbidden`: for each import of a forbidden module by a file
 * the entry reaches, the shortest chain to that file (breadth first), then the forbidden module. A
 * chain stops there: what a forbidden module imports in turn is not reported again.
 */
export function forbiddenReaches(
  graph: ImportGraph,
  entry: string,
  forbidden: ForbiddenImports,
  substitutes: ReadonlySet<string> = new Set(),
): ForbiddenReach[] {
  const reaches: ForbiddenReach[] = [];
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const chainTo = (node: string): string[] => {
    const chain = [node];
    for (let up = parent.get(node); up !== undefined; up = parent.get(up)) chain.unshift(up);
    return chain;
  };
  const queue = [entry];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const next of graph.get(node) ?? []) {
      const rule = substitutes.has(next) ? undefined : forbiddenRule(next, forbidden);
      if (rule !== undefined) {
        reaches.push({ entry, forbidden: rule, chain: [...chainTo(node), next] });
      } else if (!parent.has(next)) {
        parent.set(next, node);
        queue.push(next);
      }
    }
  }
  return reaches;
}

/** The rule of `forbidden` that `module` breaks, if any. */
function forbiddenRule(module: string, forbidden: ForbiddenImports): string | undefined {
  const name = packageName(module);
  return (
    forbidden.packages.find((forbiddenPackage) => forbiddenPackage === name) ??
    forbidden.paths.find((rule) => (rule.endsWith('/') ? module.startsWith(rule) : module === rule))
  );
}

/**
 * The report as `npm run lint` prints it: one line when all is well, else every cycle and every
 * forbidden chain, numbered.
 */
export function formatImportReport(report: ImportReport): string {
  const forbidden = [...report.forbidden.packages, ...report.forbidden.paths].join(', ');
  const problems = report.cycles.length + report.reaches.length;
  if (problems === 0) {
    return (
      `Imports: no cycles among ${report.files} files; ${report.entries.length} runtime entries ` +
      `(${report.entries.join(', ')}) reach none of ${forbidden}.`
    );
  }
  const lines = [`Imports: ${problems} problem${problems === 1 ? '' : 's'}.`];
  if (report.cycles.length > 0) {
    lines.push(
      '',
      `Import cycles (${report.cycles.length}): break each by moving what both files need into a module both may import.`,
    );
    const typeOnly = new Set(report.typeOnlyImports);
    report.cycles.forEach((cycle, i) => {
      const steps = cycle.map((file, at) =>
        at > 0 && typeOnly.has(edge(cycle[at - 1]!, file)) ? `${file} (import type)` : file,
      );
      lines.push(`  ${i + 1}. ${steps.join('\n     → ')}`);
    });
  }
  if (report.reaches.length > 0) {
    lines.push(
      '',
      `Runtime entries reaching what must not run on AWS (${report.reaches.length}; forbidden: ${forbidden}):`,
    );
    report.reaches.forEach((reach, i) => {
      lines.push(`  ${i + 1}. ${reach.entry} reaches ${reach.forbidden}:`);
      lines.push(`     ${reach.chain.join('\n     → ')}`);
    });
  }
  return lines.join('\n');
}

/** A metafile path as a graph node: `node_modules/…/x/y.js` → `x/y.js`, backslashes to slashes. */
function moduleId(file: string): string {
  const posix = toPosix(file);
  const at = posix.lastIndexOf('node_modules/');
  return at === -1 ? posix : posix.slice(at + 'node_modules/'.length);
}

function isPackageFile(file: string): boolean {
  return toPosix(file).includes('node_modules/');
}

/** `@scope/name/x` → `@scope/name`; `name/x` → `name`. */
function packageName(module: string): string {
  const parts = module.split('/');
  return module.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);
}

function toPosix(file: string): string {
  return file.split(path.sep).join('/');
}
