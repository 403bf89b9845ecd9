/** Orderings the Store's lists promise, as the SQLite store's ORDER BY clauses give them. */

/** Byte order of two strings, as SQLite compares text. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `ORDER BY created_at, id`. */
export function byCreation(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  return a.createdAt - b.createdAt || compareText(a.id, b.id);
}
