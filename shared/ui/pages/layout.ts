import { html } from 'hono/html';
import type { Html } from './html.ts';

/** What every page has around its content. */
export interface LayoutOptions {
  /** The page's title, before "· Piko". */
  readonly title: string;
  /** Links above the heading, from the overview down: label and path (the last one without). */
  readonly crumbs?: readonly (readonly [string, string | undefined])[];
  /** A message from the action that led here. */
  readonly notice?: string;
  /** A problem to show above the content (a refused action). */
  readonly problem?: string;
  readonly body: Html;
}

/**
 * The page around the content: one stylesheet and one script, both served by Piko, no inline
 * script or style (the content security policy forbids them). Without JavaScript every page reads
 * the same; with it, the parts marked `data-live-id` follow the state (assets/live.js).
 */
export function layout(options: LayoutOptions): Html {
  const crumbs = options.crumbs ?? [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Piko</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/piko.css">
<script src="/assets/live.js" defer></script>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Piko</a>
  <nav aria-label="Main"><a href="/">Jobs</a> <a href="/backfills">Backfills</a></nav>
  <span id="live" class="live" role="status" aria-live="polite"></span>
</header>
<main id="content" tabindex="-1">
${
  crumbs.length > 0
    ? html`<nav class="crumbs" aria-label="Breadcrumb"><ol>${crumbs.map(([label, href]) =>
        href ? html`<li><a href="${href}">${label}</a></li>` : html`<li aria-current="page">${label}</li>`,
      )}</ol></nav>`
    : ''
}
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${options.problem ? html`<p class="problem" role="alert">${options.problem}</p>` : ''}
${options.body}
</main>
</body>
</html>`;
}

/** A page for a request that cannot be answered: what is wrong, and the way back. */
export function errorPage(title: string, message: string): Html {
  return layout({
    title,
    body: html`<h1>${title}</h1><p class="problem" role="alert">${message}</p><p><a href="/">Back to the jobs</a></p>`,
  });
}
