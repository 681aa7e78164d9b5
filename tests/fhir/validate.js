// Reads one FHIR R4 JSON document on stdin and validates it against the FHIR 4.0.1 JSON schema:
// a Bundle without its entries' resources (the schema validators cannot follow contained
// resources), then each entry's resource by its own resourceType. Prints
// {"valid": bool, "errors": [...]} and exits 0 either way; a crash exits non-zero.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = path.join(path.dirname(require.resolve('@d4l/js-fhir-validator/package.json')), 'r4', 'js');
const validators = {};
function validatorFor(type) {
  if (!/^[A-Za-z]+$/.test(type || '')) return null;
  if (!(type in validators)) {
    const file = path.join(dir, `${type}.js`);
    const v = fs.existsSync(file) ? require(file) : null;
    validators[type] = v && (v.default || v);
  }
  return validators[type];
}

function check(resource, where, errors) {
  const v = validatorFor(resource && resource.resourceType);
  if (!v) {
    errors.push({ where, message: `no FHIR R4 resource type ${JSON.stringify(resource && resource.resourceType)}` });
    return;
  }
  if (!v(resource)) {
    for (const e of v.errors || []) errors.push({ where: where + e.instancePath, message: e.message, params: e.params });
  }
}

const doc = JSON.parse(fs.readFileSync(0, 'utf8'));
const errors = [];
if (doc.resourceType === 'Bundle') {
  const shell = { ...doc, entry: (doc.entry || []).map(({ resource, ...rest }) => rest) };
  check(shell, 'Bundle', errors);
  (doc.entry || []).forEach((e, i) => check(e.resource, `Bundle.entry[${i}].resource`, errors));
} else {
  check(doc, doc.resourceType || 'resource', errors);
}
process.stdout.write(JSON.stringify({ valid: errors.length === 0, errors }));
