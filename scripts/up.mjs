#!/usr/bin/env node
// `npm run up`: installs the npm dependencies when they are missing or stale, then
// runs `aloft up` (which installs the apt packages it needs, saying which). Plain
// JavaScript on purpose: it must run before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(join(root, 'package-lock.json')).mtimeMs;
if (stale) {
  console.log('Installing npm dependencies (npm ci)...');
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (ci.status !== 0) process.exit(ci.status ?? 1);
}
const up = spawnSync(process.execPath, [join(root, 'bin', 'aloft.js'), 'up', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(up.status ?? 1);
