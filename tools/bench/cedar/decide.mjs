// Cedar peer of mtdgate-bench:
//   node decide.mjs MODULE_DIR POLICY.cedar SAMPLE.jsonl
// MODULE_DIR holds node_modules/@cedar-policy/cedar-wasm. Each sample line is
// {"id","level","enrolled","groups"}; each device is decided with its own
// entities (the device and its groups). Prints "ID allow|deny" per device,
// then "# decisions N seconds S cedar VERSION api NAME": the time of the
// decision loop only (requests are built before it, output written after).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [modDir, policyPath, samplePath] = process.argv.slice(2);
if (!samplePath) {
  console.error('usage: node decide.mjs MODULE_DIR POLICY.cedar SAMPLE.jsonl');
  process.exit(64);
}
const require = createRequire(join(modDir, 'package.json'));
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

const policyText = readFileSync(policyPath, 'utf8');
const devices = readFileSync(samplePath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const action = { type: 'Action', id: 'access' };
const resource = { type: 'Resource', id: 'corporate' };

// Parse the policy set once when the binding can keep it (statefulIsAuthorized);
// otherwise every isAuthorized call parses it again.
const stateful = typeof cedar.preparsePolicySet === 'function' &&
  typeof cedar.statefulIsAuthorized === 'function';
if (stateful) {
  const r = cedar.preparsePolicySet('mtdgate', { staticPolicies: policyText });
  if (r.type !== 'success') {
    console.error('policy:', JSON.stringify(r.errors));
    process.exit(70);
  }
}
const calls = devices.map((d) => {
  const principal = { type: 'Device', id: d.id };
  const groups = d.groups.map((g) => ({ type: 'Group', id: g }));
  const entities = [
    { uid: principal, attrs: { level: d.level, enrolled: d.enrolled }, parents: groups },
    ...groups.map((g) => ({ uid: g, attrs: {}, parents: [] })),
  ];
  return stateful
    ? { principal, action, resource, context: {}, preparsedPolicySetId: 'mtdgate', entities }
    : { principal, action, resource, context: {}, policies: { staticPolicies: policyText }, entities };
});

const out = new Array(calls.length);
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls.length; i++) {
  const a = stateful ? cedar.statefulIsAuthorized(calls[i]) : cedar.isAuthorized(calls[i]);
  if (a.type !== 'success') {
    console.error(devices[i].id, JSON.stringify(a.errors));
    process.exit(70);
  }
  out[i] = a.response.decision;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;

const lines = devices.map((d, i) => `${d.id} ${out[i]}`);
lines.push(`# decisions ${calls.length} seconds ${secs} cedar ${cedar.getCedarVersion()}` +
  ` api ${stateful ? 'statefulIsAuthorized' : 'isAuthorized'}`);
process.stdout.write(lines.join('\n') + '\n');
