#!/usr/bin/env node
// The dynamesh command line, compiled to dist/ by `npm run build` (run on install by `prepare`).
import '../dist/src/cli/main.js'
