/**
 * The package's public entries resolve through its `exports` map once built: `dynamesh`,
 * `dynamesh/sim` and `dynamesh/node`, with the names the README documents.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('package exports', () => {
  it('builds and resolves dynamesh, dynamesh/sim and dynamesh/node by name', () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' })
    const script = `
      const main = await import('dynamesh'); const sim = await import('dynamesh/sim'); const node = await import('dynamesh/node')
      console.log(JSON.stringify({ main: Object.keys(main).sort(), sim: Object.keys(sim).sort(), node: Object.keys(node).sort() }))`
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, string[]>
    expect(out.main).toEqual(expect.arrayContaining(['createNode', 'memoryStorage', 'DynameshError', 'loadIdentity']))
    expect(out.sim).toEqual(expect.arrayContaining(['createSimNetwork', 'History', 'lostWrites', 'divergentPartitions']))
    expect(out.node).toEqual(expect.arrayContaining(['levelStorage', 'createWebRtcTransport', 'startHttpServer', 'startSignalServer']))
  }, 120_000)
})
