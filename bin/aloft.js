#!/usr/bin/env node
// The `aloft` command. aloft is written in TypeScript and runs through tsx, so a clone
// works after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
