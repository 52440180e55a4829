#!/usr/bin/env node
// A launcher kept in the repository so that a fresh clone's `pnpm install` can link `rds-iam` before
// dist/ is built.
require('../dist/bin.js');
