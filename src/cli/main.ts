#!/usr/bin/env node
/** The dynamesh command line. */
import { runSimDemo } from './demo-sim.js'

const USAGE = `usage: dynamesh <command>
  sim                                   run a simulated 5-node cluster in the terminal
`

export async function main(argv: string[]): Promise<number> {
  const [cmd] = argv
  switch (cmd) {
    case 'sim':
      await runSimDemo()
      return 0
    default:
      process.stderr.write(USAGE)
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  },
)
