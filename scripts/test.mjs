#!/usr/bin/env node
/**
 * `npm test`: lint, type-check, then the suites. Tests talk to loopback only; as root the suites run
 * inside a new network namespace that has nothing but loopback (`unshare -n`), so WebRTC cannot
 * reach any other interface even by mistake.
 *
 * Without arguments it runs the in-process suites (unit, simulation, swarm, and the fuzz suites at their
 * small fixed-seed counts) in parallel, then the in-page suites inside Chromium
 * (vitest.browser.config.ts), then the multi-process and browser
 * suites (real peers, real WebRTC, pages in Chromium) one file at a time, so timing-sensitive peers
 * do not compete with the swarm for the CPU. Arguments go to a single vitest run instead.
 *
 * Browser suites never skip: without Chromium (`/usr/bin/chromium`, or CHROMIUM_PATH) they fail.
 */
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

const args = process.argv.slice(2).filter((a) => a !== '--no-checks')
if (!process.argv.includes('--no-checks')) {
  run('npx', ['eslint', '.'])
  run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'])
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const canIsolate = isRoot && spawnSync('unshare', ['-n', 'true']).status === 0
const vitest = (vitestArgs) => {
  if (canIsolate) run('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && exec npx vitest run "$@"', 'sh', ...vitestArgs])
  else run('npx', ['vitest', 'run', ...vitestArgs])
}
console.log(canIsolate ? 'suites run in a loopback-only network namespace' : 'suites run in the host namespace (ICE is filtered to loopback)')
if (args.length) vitest(args)
else {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  if (!existsSync(chromium)) {
    console.error(`Chromium not found at ${chromium}: the browser suites need it (apt-get install -y chromium)`)
    process.exit(1)
  }
  vitest(['test/unit', 'test/sim', 'test/fuzz'])
  vitest(['--config', 'vitest.browser.config.ts'])
  vitest(['test/cluster', 'test/browser', '--no-file-parallelism'])
}
