import { memoryStorage } from '../../src/storage/memory.js'
import { storageSuite } from '../suites/storage.js'

// Memory storage does not persist across close, so there is no reopen.
storageSuite('memory', async () => ({ storage: memoryStorage() }))
