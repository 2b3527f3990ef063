/** The global symbol name under which the runtime exposes its authoring API to compiled DAG files. */
export const HANGAR_API_KEY = 'hangar.api.v1';
