import Database from 'better-sqlite3';
const db = new Database('/tmp/uiproto/big.db');
const t = (label, sql, ...p) => { const s = performance.now(); const r = db.prepare(sql).all(...p); return [label, r.length, Math.round(performance.now() - s)]; };
const A = Date.UTC(2025,0,1), B = A + 500000*60000;
const WIN = `SELECT status, interval_start, interval_end, rn, next_start FROM (
  SELECT status, interval_start, interval_end,
    ROW_NUMBER() OVER w AS rn, LEAD(status) OVER w AS next_status, LEAD(interval_start) OVER w AS next_start
  FROM piko_runs WHERE job_id = ? AND interval_start >= ? AND interval_start < ?
  WINDOW w AS (ORDER BY interval_start)) marked
WHERE next_status IS NULL OR next_status <> status OR next_start <> interval_end`;
const JOIN = `SELECT r.status, r.interval_start, r.interval_end FROM piko_runs r LEFT JOIN piko_runs n ON n.job_id = r.job_id AND n.interval_start = r.interval_end AND n.interval_start < ? WHERE r.job_id = ? AND r.interval_start >= ? AND r.interval_start < ? AND (n.status IS NULL OR n.status <> r.status)`;
const COUNT = `SELECT COUNT(*) FROM piko_runs WHERE job_id = ? AND interval_start >= ? AND interval_start < ?`;
for (let i = 0; i < 4; i++) console.log(t('window', WIN, 'big', A, B), t('join', JOIN, B, 'big', A, B), t('count', COUNT, 'big', A, B));
