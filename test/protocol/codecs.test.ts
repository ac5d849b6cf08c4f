/** The datetime ("YYYY-MM-DD hh:mm:ss.ss") and n10,6 coordinate codecs. */
import t from 'tap';
import fc from 'fast-check';
import { FC_SEED } from '../helpers/seed.ts';
import { cutUtf8, formatRetinaDateTime, isRetinaDateTime, parseRetinaDateTime, isLatitude, isLongitude, formatCoordinate, utf8Bytes } from '../../src/protocol/index.ts';

t.test('datetime: format → parse round-trips to the hundredth of a second', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: Date.UTC(2199, 0, 1) }), fc.integer({ min: -720, max: 840 }), (ms, off) => {
    const s = formatRetinaDateTime(ms, off);
    if (!isRetinaDateTime(s)) throw new Error(`not a datetime: ${s}`);
    if (parseRetinaDateTime(s, off) !== ms - (ms % 10)) throw new Error(`${s} parsed to ${parseRetinaDateTime(s, off)}, not ${ms}`);
  }), { numRuns: 300, seed: FC_SEED });
  t.pass('300 datetimes round-tripped');
});

t.test('datetime: calendar errors and other shapes are rejected', async (t) => {
  for (const bad of ['2024-02-30 00:00:00.00', '2023-02-29 12:00:00.00', '2024-13-01 00:00:00.00', '2024-01-01 24:00:00.00',
    '2024-01-01T00:00:00.00', '2024-01-01 00:00:00.0', '2024-1-01 00:00:00.00', '', '2024-01-01 00:60:00.00']) {
    t.notOk(isRetinaDateTime(bad), bad);
  }
  t.ok(isRetinaDateTime('2024-02-29 23:59:59.99'));
  // Each calendar rule on its own (found by mutation testing, docs/MUTATION.md): the century
  // rule of leap years, 30-day months, and each field's lower and upper bound.
  for (const good of ['2000-02-29 00:00:00.00', '2023-02-28 00:00:00.00', '2024-04-30 00:00:00.00', '2024-01-31 00:00:00.00',
    '2024-12-31 00:00:00.00', '2024-01-01 00:00:00.00', '0999-06-15 12:30:30.50']) {
    t.ok(isRetinaDateTime(good), good);
  }
  for (const bad of ['1900-02-29 00:00:00.00', '2100-02-29 00:00:00.00', '2024-04-31 00:00:00.00', '2024-11-31 00:00:00.00',
    '2024-01-01 00:00:00.000', 'x2024-01-01 00:00:00.00', '2024-00-10 00:00:00.00', '2024-01-00 00:00:00.00', '2024-01-32 00:00:00.00', '2024-01-01 00:00:60.00']) {
    t.notOk(isRetinaDateTime(bad), bad);
  }
  // The standard's format is "YYYY-MM-DD hh:mm:ss.ss": the hundredths are part of it.
  t.notOk(isRetinaDateTime('2024-02-29 23:59:59'), 'hundredths are required');
  t.ok(Number.isNaN(parseRetinaDateTime('2024-02-29 23:59:59')), 'and not guessed at when parsing');
});

t.test('n10,6 longitude and latitude', async (t) => {
  t.ok(isLongitude('116.397128'));
  t.ok(isLongitude('-180.000000'));
  t.notOk(isLongitude('180.000001'));
  t.notOk(isLongitude('116.39712'), 'six decimals required');
  t.notOk(isLongitude('1e2'));
  t.ok(isLatitude('-89.999999'));
  t.notOk(isLatitude('90.000001'));
  fc.assert(fc.property(fc.double({ min: -90, max: 90, noNaN: true }), (d) => isLatitude(formatCoordinate(d))), { numRuns: 200, seed: FC_SEED });
  t.pass('200 formatted latitudes are valid');
});

t.test('utf8Bytes agrees with Buffer.byteLength', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (s) => utf8Bytes(s) === Buffer.byteLength(s, 'utf8')), { numRuns: 500, seed: FC_SEED });
  t.pass('500 strings measured alike');
});

t.test('utf8Bytes at each encoding boundary, and for surrogates paired, lone or reversed', async (t) => {
  for (const s of ['\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '😀', 'a😀b', '\ud83d', '\ud83da', '\ude00', '\ude00\ud83d', '\ud83d\ud83d\ude00', 'x\ud83d',
    // a low surrogate after a BMP character or another low one, a high one before a non-surrogate: no pairs
    '中\ude00', '\ude00\ude00', '\ud83d中', '\ud83d\ud83d']) {
    t.equal(utf8Bytes(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  }
});

t.test('cutUtf8: at most N bytes, on a character boundary, the longest such prefix', async (t) => {
  const seed = Number(process.env.RETINAD_FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const ch = fc.constantFrom('a', 'é', '中', '😀', ' ');
  fc.assert(fc.property(fc.array(ch, { maxLength: 200 }), fc.integer({ min: 0, max: 600 }), (cs, n) => {
    const s = cs.join('');
    const c = cutUtf8(s, n);
    if (!s.startsWith(c)) throw new Error('not a prefix');
    if (utf8Bytes(c) > n) throw new Error(`${utf8Bytes(c)} bytes > ${n}`);
    const next = [...s.slice(c.length)][0];
    if (next !== undefined && utf8Bytes(c + next) <= n) throw new Error('cut too early');
    if (c.length && /[\ud800-\udbff]$/.test(c)) throw new Error('split a surrogate pair');
  }), { seed, numRuns: 300 });
  t.pass(`300 strings cut (seed ${seed})`);
  t.equal(cutUtf8('中'.repeat(200), 512), '中'.repeat(170), '500 characters would be 1500 bytes; 170 are 510');
});

t.test('datetime: without an offset, the local time zone is used (east of UTC is ahead)', async (t) => {
  // Node re-reads TZ when it is assigned; the suite's own zone is put back after.
  const before = process.env.TZ;
  t.teardown(() => { if (before === undefined) delete process.env.TZ; else process.env.TZ = before; });
  process.env.TZ = 'Asia/Shanghai';
  t.equal(formatRetinaDateTime(0), '1970-01-01 08:00:00.00', 'UTC+8');
  t.equal(parseRetinaDateTime('1970-01-01 08:00:00.00'), 0);
  process.env.TZ = 'America/Sao_Paulo';
  t.equal(formatRetinaDateTime(Date.UTC(2024, 0, 1, 12)), '2024-01-01 09:00:00.00', 'UTC-3');
  t.equal(parseRetinaDateTime('2024-01-01 09:00:00.00'), Date.UTC(2024, 0, 1, 12));
  t.equal(formatRetinaDateTime(Date.UTC(999, 5, 15, 12, 30, 30, 509), 0), '0999-06-15 12:30:30.50', 'a year below 1000 has four digits; hundredths are cut, not rounded');
});
