#!/usr/bin/env node
// Runs the whole suite with Node's test runner through tsx. Node 20's runner does not
// expand globs and passes with zero files, so we collect the files ourselves and refuse
// to run an empty list. Pass paths to run a subset: `npm test -- src/store`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'test', 'examples'];

function collect(path, out) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return out;
  }
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
  } else if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      collect(join(path, name), out);
    }
  }
  return out;
}

const files = roots.flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error(`npm test: no *.test.ts files under ${roots.join(', ')}; refusing to report an empty pass`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
