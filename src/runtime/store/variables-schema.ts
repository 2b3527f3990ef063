/** The variables table (src/runtime/variables.ts), apart so the migrations import no store code. */
export const VARIABLES_SCHEMA_SQL = `
CREATE TABLE variables (
  key TEXT PRIMARY KEY,
  val TEXT NOT NULL,
  description TEXT,
  updated_at TEXT NOT NULL
);`;
