import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/errors.js'
import { levelStorage } from '../../src/storage/level.js'
import { storageSuite } from '../suites/storage.js'

storageSuite('level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dynamesh-level-'))
  return {
    storage: await levelStorage(dir),
    reopen: () => levelStorage(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

describe('levelStorage specifics', () => {
  it('wraps an open failure as STORAGE_FAILED with a cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dynamesh-level-'))
    const first = await levelStorage(dir)
    try {
      // LevelDB locks its directory: a second open in the same process fails.
      const err = await levelStorage(dir).catch((e: unknown) => e)
      expect(isDynameshError(err, 'STORAGE_FAILED')).toBe(true)
      expect((err as Error).cause).toBeDefined()
    } finally {
      await first.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses to create a missing database when told not to', async () => {
    const dir = join(tmpdir(), `dynamesh-level-missing-${process.pid}-${Date.now()}`)
    const err = await levelStorage(dir, { createIfMissing: false }).catch((e: unknown) => e)
    expect(isDynameshError(err, 'STORAGE_FAILED')).toBe(true)
    await rm(dir, { recursive: true, force: true })
  })
})
