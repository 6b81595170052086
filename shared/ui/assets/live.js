// Piko's live pages. The server tells open pages (server-sent events on /events) when something
// may have changed; the page then fetches itself again and swaps the parts marked data-live-id.
// A slow poll also finds what other processes change. Without JavaScript the pages read the same,
// a reload away from the latest state.
(() => {
  const status = document.getElementById('live');
  let pollMs = 5000;
  let lastFetchMs = 0;
  let running = false;
  let again = false;
  let timer;

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
      say('live');
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

  if (!document.querySelector('[data-live-id]')) return;
  const events = new EventSource('/events');
  events.addEventListener('hello', (event) => {
    pollMs = Number(event.data) || pollMs;
    say('live');
    schedule();
  });
  events.addEventListener('change', () => void refresh());
  events.addEventListener('error', () => say('not live: reconnecting'));
  schedule();
})();
