// Piko's live pages. The server tells open pages (server-sent events on /events) when something
// may have changed; the page then fetches itself again and swaps the parts marked data-live-id.
// A slow poll also finds what other processes change. Without JavaScript the pages read the same,
// a reload away from the latest state.
(() => {
  // A page a POST answered in place (a refused action) reads its canonical page from now on: the
  // live refresh and a reload GET that, not the action's address.
  const canonical = document.querySelector('link[rel="canonical"]')?.getAttribute('href');
  if (canonical && canonical !== location.pathname) history.replaceState(null, '', canonical);

  const status = document.getElementById('live');
  let pollMs = 5000;
  let lastFetchMs = 0;
  let running = false;
  let again = false;
  let timer;
  // What the stream said of a runtime that is stopping: a page refreshed meanwhile is not "live".
  let stopped;

  const say = (text) => {
    if (status && status.textContent !== text) status.textContent = text;
  };

  // A part being edited (focus in a field, or a field changed) is left alone.
  const isBusy = (region) => {
    const active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    for (const field of region.querySelectorAll('input, textarea')) {
      if (field.type !== 'hidden' && field.value !== field.defaultValue) return true;
    }
    return false;
  };

  // Where focus was, to put it back on the same link or control after the swap.
  const focusKey = (region) => {
    const active = document.activeElement;
    if (!active || !region.contains(active)) return undefined;
    if (active.id) return `#${CSS.escape(active.id)}`;
    const href = active.getAttribute('href');
    return href ? `[href="${CSS.escape(href)}"]` : undefined;
  };

  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    const started = performance.now();
    try {
      const response = await fetch(location.href, {
        headers: { 'X-Piko-Live': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!response.ok) {
        say(`not live: the page answered ${response.status}`);
        return;
      }
      const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
      for (const region of document.querySelectorAll('[data-live-id]')) {
        const next = fresh.querySelector(`[data-live-id="${CSS.escape(region.dataset.liveId)}"]`);
        if (!next || next.innerHTML === region.innerHTML || isBusy(region)) continue;
        const key = focusKey(region);
        region.innerHTML = next.innerHTML;
        if (key) region.querySelector(key)?.focus();
      }
      say(stopped ?? 'live');
    } catch {
      say('not live: piko is not answering; trying again');
    } finally {
      lastFetchMs = performance.now() - started;
      running = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  // Poll slowly, and never more than a tenth of the time a page takes to make.
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        if (!document.hidden) void refresh();
        schedule();
      },
      Math.max(pollMs, lastFetchMs * 10),
    );
  };

  // Forms marked data-inline post in place: the answer's part of the same data-inline-id replaces
  // the form's, and its live parts and notice replace this page's (without JavaScript they post
  // as any form does, and the answer is the next page).
  const swapNotice = (fresh) => {
    const main = document.querySelector('main');
    const current = main?.querySelector(':scope > .notice');
    const next = fresh.querySelector('main > .notice');
    if (next) {
      if (current) current.replaceWith(next);
      else main?.querySelector(':scope > .crumbs')?.after(next);
    } else current?.remove();
    return next;
  };

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-inline')) return;
    event.preventDefault();
    const region = form.closest('[data-inline-id]');
    const submitter = event.submitter;
    const body = new URLSearchParams(new FormData(form, submitter));
    if (submitter) submitter.disabled = true;
    try {
      const response = await fetch(form.action, { method: 'POST', body, credentials: 'same-origin' });
      const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
      const next = region && fresh.querySelector(`[data-inline-id="${CSS.escape(region.dataset.inlineId)}"]`);
      if (region && next) region.innerHTML = next.innerHTML;
      else if (region) {
        // Refused before the page (no token): say why beside the form.
        const problem = document.createElement('p');
        problem.className = 'problem';
        problem.setAttribute('role', 'alert');
        problem.textContent = `Refused (${response.status}): ${fresh.querySelector('.problem')?.textContent ?? response.statusText}`;
        region.querySelector(':scope > .problem')?.remove();
        region.querySelector('h2')?.after(problem);
      }
      for (const part of document.querySelectorAll('[data-live-id]')) {
        const replacement = fresh.querySelector(`[data-live-id="${CSS.escape(part.dataset.liveId)}"]`);
        if (replacement && replacement.innerHTML !== part.innerHTML) part.innerHTML = replacement.innerHTML;
      }
      const notice = response.redirected ? swapNotice(fresh) : undefined;
      const focus = region?.querySelector('[data-focus]') ?? notice;
      if (focus) {
        if (!focus.hasAttribute('tabindex')) focus.setAttribute('tabindex', '-1');
        focus.focus();
      }
    } catch {
      say('not live: piko is not answering; try again');
    } finally {
      if (submitter?.isConnected) submitter.disabled = false;
    }
  });

  // The mark form's range from the grid: a row's "mark…" link fills it in place; shift-selecting
  // two cells of the timeline (click or Enter) fills it with the range from one to the other.
  let anchor;
  const fillMark = (from, to) => {
    const fromField = document.getElementById('mark-from');
    const toField = document.getElementById('mark-to');
    if (!fromField || !toField) return false;
    fromField.value = from;
    toField.value = to;
    return true;
  };
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a') : null;
    if (!link) return;
    if (link.dataset.markFrom && fillMark(link.dataset.markFrom, link.dataset.markTo)) {
      event.preventDefault();
      document.getElementById('mark-range-reason')?.focus();
      return;
    }
    if (!event.shiftKey || !link.matches('.timeline a.cell') || link.classList.contains('s-future')) return;
    if (!document.getElementById('mark-from')) return;
    event.preventDefault();
    const cells = [...document.querySelectorAll('.timeline a.cell')];
    if (!anchor?.isConnected) anchor = link;
    const [first, last] = [cells.indexOf(anchor), cells.indexOf(link)].sort((a, b) => a - b);
    const chosen = cells.slice(first, last + 1);
    for (const cell of cells) cell.classList.toggle('selected', chosen.includes(cell));
    fillMark(chosen[0].dataset.start, chosen[chosen.length - 1].dataset.end);
    say(`selected ${chosen.length} cell${chosen.length === 1 ? '' : 's'} for the mark form`);
  });

  if (!document.querySelector('[data-live-id]')) return;

  // One /events stream for all of this origin's pages: a browser opens at most six connections
  // to one host, and a stream per tab held them all once six tabs were open (pages and actions
  // then waited for ever). The tab holding the lock listens and tells the others on a
  // BroadcastChannel; when it closes, another takes the lock and the stream over.
  const listen = (tell) => {
    const events = new EventSource('/events');
    let said = 'live';
    let stopping = false;
    events.addEventListener('hello', (event) => {
      pollMs = Number(event.data) || pollMs;
      said = 'live';
      stopping = false;
      tell({ kind: 'hello', pollMs, status: said });
    });
    events.addEventListener('change', () => tell({ kind: 'change' }));
    // The runtime beside the UI is stopping (or gave up): its actions are refused from now on.
    events.addEventListener('stopping', (event) => {
      said =
        event.data === 'failed'
          ? 'not live: piko has stopped running; actions are refused'
          : 'piko is stopping: actions are refused';
      stopping = true;
      tell({ kind: 'status', status: said, stopping });
    });
    events.addEventListener('error', () => {
      said = 'not live: reconnecting';
      tell({ kind: 'status', status: said });
    });
    return () => ({ status: said, stopping });
  };
  const hear = (message) => {
    if (message.kind === 'change') void refresh();
    if (message.pollMs) pollMs = message.pollMs;
    if (message.kind === 'hello') stopped = undefined;
    if (message.stopping) stopped = message.status;
    if (message.status) say(message.status);
    if (message.kind === 'hello') schedule();
  };
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('piko-live') : undefined;
  if (channel && navigator.locks) {
    // Set in the tab that holds the stream: what it says now, for a tab that opens later.
    let streamStatus;
    channel.onmessage = (event) => {
      if (event.data.kind === 'ask') {
        if (streamStatus) channel.postMessage({ kind: 'hello', pollMs, ...streamStatus() });
      } else hear(event.data);
    };
    void navigator.locks.request(
      'piko-live-events',
      () =>
        new Promise(() => {
          // Held until this page goes away.
          streamStatus = listen((message) => {
            hear(message);
            channel.postMessage(message);
          });
        }),
    );
    channel.postMessage({ kind: 'ask' });
  } else {
    listen(hear);
  }
  schedule();
})();
