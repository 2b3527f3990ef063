export { renderTemplate, renderDeep, TemplateError } from './engine.ts';
export { buildTemplateContext, macros } from './context.ts';
export type { TemplateContextInput } from './context.ts';
export { TemplateDateTime, isoformat, strftime, strptime } from './datetime.ts';
