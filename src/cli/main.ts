#!/usr/bin/env node
/** The dynamesh command line. */
import { runSimDemo } from './demo-sim.js'
import { NODE_USAGE, runNode } from './node.js'
import { SIGNAL_USAGE, runSignal } from './signal.js'
import { logger } from './util.js'

const USAGE = `usage: dynamesh <command>
  sim                                  a simulated 5-node cluster in the terminal
  start [--peers 3] [...]              a local cluster: signaling, Node peers and a status page
  signal [--host H] [--port P]         the signaling server
  node --signal URL [...]              a Node peer (LevelDB, WebRTC, HTTP API)
  put KEY VALUE | get KEY | del KEY | cluster  [--http 127.0.0.1:PORT]   talk to a peer's HTTP API
${SIGNAL_USAGE}
${NODE_USAGE}
`

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  switch (cmd) {
    case 'sim':
      await runSimDemo()
      return 0
    case 'signal':
      return runSignal(rest, logger('signal'))
    case 'node':
      return runNode(rest, logger('node', rest.includes('--quiet')))
    case 'start':
      return (await import('./start.js')).runStart(rest, logger('start'))
    case 'put':
    case 'get':
    case 'del':
    case 'cluster': {
      const { runClientCommand } = await import('../http/client.js')
      return runClientCommand(argv, (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`))
    }
    default:
      process.stderr.write(USAGE)
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`dynamesh: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  },
)
