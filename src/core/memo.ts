/**
 * A bounded memo of a pure function of a string: what a process computes over and over for the same
 * ids (a browser tab for its peers; a simulation for thousands of nodes sharing the same ids). When
 * full it starts again empty: it only ever saves work, never changes an answer.
 */
export function memoByString<V>(limit: number, compute: (key: string) => V): (key: string) => V {
  const cache = new Map<string, V>()
  return (key) => {
    let v = cache.get(key)
    if (v === undefined) {
      if (cache.size >= limit) cache.clear()
      v = compute(key)
      cache.set(key, v)
    }
    return v
  }
}
