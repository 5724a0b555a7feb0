#!/usr/bin/env node
// The `berth` command of package.json's bin: runs src/cli/main.ts through tsx, so that `npx berth`
// works in a clone right after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
