#!/usr/bin/env node
/**
 * `npm test`: lint, type-check, then every vitest suite. Tests talk to loopback only; as root the
 * suites run inside a new network namespace that has nothing but loopback (`unshare -n`), so WebRTC
 * cannot reach any other interface even by mistake. Extra arguments go to vitest.
 */
import { spawnSync } from 'node:child_process'

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

const vitestArgs = ['vitest', 'run', ...process.argv.slice(2)]
if (!process.argv.includes('--no-checks')) {
  run('npx', ['eslint', '.'])
  run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit'])
}
const args = vitestArgs.filter((a) => a !== '--no-checks')
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const canIsolate = isRoot && spawnSync('unshare', ['-n', 'true']).status === 0
if (canIsolate) {
  console.log('running the suites in a loopback-only network namespace')
  run('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && exec npx "$@"', 'sh', ...args])
} else {
  if (process.env.CI) console.log('not root: suites run in the host namespace (ICE is still filtered to loopback)')
  run('npx', args)
}
