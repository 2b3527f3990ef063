/** The store's timestamps: ISO 8601 UTC with a Z, which sort as text in both dialects. */
export function nowIso(): string {
  return new Date().toISOString();
}
