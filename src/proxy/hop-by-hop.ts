/**
 * Headers that describe one connection, not the message (RFC 7230 §6.1), so a proxy
 * must not forward them. `expect` is answered by our own server (100-continue) and
 * `host` is handled separately, so neither is listed here.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The extra header names a `Connection` header lists ("Connection: close, X-Foo"
 * makes X-Foo hop-by-hop), lowercased. Undefined when there are none, which is the
 * common case and costs nothing.
 */
export function connectionListed(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  let listed: Set<string> | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive') continue;
    (listed ??= new Set()).add(name);
  }
  return listed;
}

/** True when `lowerName` must not cross the proxy. */
export function isHopByHop(lowerName: string, listed: Set<string> | undefined): boolean {
  return lowerName.startsWith('proxy-') || HOP_BY_HOP.has(lowerName) || (listed?.has(lowerName) ?? false);
}
