/**
 * A running fingerprint of a run: two 32-bit FNV-1a hashes over every line fed to it. Two runs
 * with the same fingerprint saw the same messages and the same events at the same virtual times.
 */
export class Fingerprint {
  private a = 0x811c9dc5
  private b = 0x01000193 ^ 0x5bd1e995
  count = 0

  add(line: string): void {
    let a = this.a
    let b = this.b
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13)
    }
    this.a = Math.imul(a ^ 0x0a, 0x01000193)
    this.b = b
    this.count++
  }

  /** 16 hex digits. */
  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0')
  }
}
