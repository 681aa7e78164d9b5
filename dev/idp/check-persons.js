#!/usr/bin/env node
// Validates the synthetic persons fixture (persons.json) and prints each person's age.
//
//   node check-persons.js [path/to/persons.json] [--today YYYY-MM-DD]
//
// Checks: 11-digit pid with valid mod-11 check digits, synthetic month (+80),
// D-number day (+40) when the first digit is 4-7, century from the individual number,
// pid date == birth_date, unique pids, parents exist and are adults, field shapes.
// Exits 1 if anything is wrong. Node built-ins only.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let today = new Date().toISOString().slice(0, 10);
let file = join(dirname(fileURLToPath(import.meta.url)), 'persons.json');
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--today') today = args[(i += 1)];
  else file = args[i];
}
if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) {
  console.error(`bad --today ${today}`);
  process.exit(2);
}

/** Returns the two check digits for the first nine digits, or null if the individual number is unusable. */
function checkDigits(nine) {
  const d = [...nine].map(Number);
  const w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
  const w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
  let k1 = 11 - (w1.reduce((s, w, i) => s + w * d[i], 0) % 11);
  if (k1 === 11) k1 = 0;
  if (k1 === 10) return null;
  d.push(k1);
  let k2 = 11 - (w2.reduce((s, w, i) => s + w * d[i], 0) % 11);
  if (k2 === 11) k2 = 0;
  if (k2 === 10) return null;
  return `${k1}${k2}`;
}

/** Decodes a synthetic (Tenor-style, month + 80) fødselsnummer or D-number. Throws on error. */
function decodePid(pid) {
  if (!/^\d{11}$/.test(pid)) throw new Error('pid must be 11 digits');
  const expected = checkDigits(pid.slice(0, 9));
  if (expected === null || expected !== pid.slice(9)) throw new Error('invalid check digits');
  let day = Number(pid.slice(0, 2));
  let month = Number(pid.slice(2, 4));
  const yy = Number(pid.slice(4, 6));
  const ind = Number(pid.slice(6, 9));
  const dNumber = day > 40;
  if (dNumber) day -= 40;
  if (month <= 80) throw new Error('not a synthetic number (month must be + 80)');
  month -= 80;
  let year;
  if (ind <= 499) year = 1900 + yy;
  else if (ind >= 500 && yy <= 39) year = 2000 + yy;
  else if (ind >= 900 && yy >= 40) year = 1900 + yy;
  else throw new Error(`individual number ${ind} is not valid for year ${yy}`);
  const birth = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  const dt = new Date(`${birth}T00:00:00Z`);
  if (Number.isNaN(dt.getTime()) || dt.toISOString().slice(0, 10) !== birth) {
    throw new Error(`impossible date ${birth}`);
  }
  return { birth, dNumber, female: ind % 2 === 0 };
}

function ageOn(birth, day) {
  const [by, bm, bd] = birth.split('-').map(Number);
  const [ty, tm, td] = day.split('-').map(Number);
  return ty - by - (tm < bm || (tm === bm && td < bd) ? 1 : 0);
}

function main() {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const errors = [];
  if (doc.version !== 1) errors.push('version must be 1');
  const persons = Array.isArray(doc.persons) ? doc.persons : [];
  if (!persons.length) errors.push('persons must be a non-empty array');
  const byPid = new Map();
  for (const p of persons) {
    if (byPid.has(p.pid)) errors.push(`${p.pid}: duplicate pid`);
    byPid.set(p.pid, p);
  }
  const fields = ['pid', 'given_name', 'family_name', 'birth_date', 'address_id',
    'confidential_address', 'deceased', 'parents', 'description'];
  const isDate = (s) => typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s)
    && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;

  console.log(`persons: ${persons.length}, ages as of ${today}`);
  for (const p of persons) {
    const who = `${p.pid} ${p.given_name} ${p.family_name}`;
    const extra = Object.keys(p).filter((k) => !fields.includes(k));
    const missing = fields.filter((k) => !(k in p));
    if (extra.length) errors.push(`${who}: unknown fields ${extra.join(',')}`);
    if (missing.length) errors.push(`${who}: missing fields ${missing.join(',')}`);
    for (const k of ['given_name', 'family_name', 'address_id', 'description']) {
      if (typeof p[k] !== 'string' || !p[k]) errors.push(`${who}: ${k} must be a non-empty string`);
    }
    if (![null, '6', '7'].includes(p.confidential_address)) errors.push(`${who}: confidential_address must be null, "6" or "7"`);
    if (p.deceased !== null && !isDate(p.deceased)) errors.push(`${who}: deceased must be null or YYYY-MM-DD`);
    if (!isDate(p.birth_date)) errors.push(`${who}: birth_date must be YYYY-MM-DD`);
    let decoded;
    try {
      decoded = decodePid(p.pid);
      if (decoded.birth !== p.birth_date) errors.push(`${who}: pid encodes ${decoded.birth}, birth_date is ${p.birth_date}`);
    } catch (e) {
      errors.push(`${who}: ${e.message}`);
    }
    const age = ageOn(p.birth_date, today);
    if (!Array.isArray(p.parents)) {
      errors.push(`${who}: parents must be an array`);
    } else {
      if (age >= 18 && p.parents.length) errors.push(`${who}: adults must have no parents listed`);
      for (const parent of p.parents) {
        const q = byPid.get(parent);
        if (!q) errors.push(`${who}: parent ${parent} not in file`);
        else if (ageOn(q.birth_date, today) < 18) errors.push(`${who}: parent ${parent} is not an adult`);
      }
    }
    const notes = [
      decoded?.dNumber ? 'D-number' : 'fnr',
      age < 18 ? 'minor' : 'adult',
      p.confidential_address ? `confidential=${p.confidential_address}` : null,
      p.deceased ? `deceased ${p.deceased} (age at death ${ageOn(p.birth_date, p.deceased)})` : null,
      p.parents?.length ? `parents ${p.parents.join(',')}` : null,
    ].filter(Boolean).join(', ');
    console.log(`${p.pid}  age ${String(age).padStart(3)}  ${p.birth_date}  ${p.given_name} ${p.family_name}  [${p.address_id}; ${notes}]`);
  }
  if (errors.length) {
    for (const e of errors) console.error(`ERROR ${e}`);
    console.error(`${errors.length} error(s)`);
    process.exit(1);
  }
  console.log('all pids valid');
}

main();
