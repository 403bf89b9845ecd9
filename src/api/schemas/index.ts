/** Zod schemas of the API's responses: what the OpenAPI document says each route answers. */
export { appResponseSchema, listAppsResponseSchema } from './app.ts';
export { errorResponseSchema, okResponseSchema } from './common.ts';
export {
  listMachinesResponseSchema,
  machineEventResponseSchema,
  machineResponseSchema,
  machineStateSchema,
  startResponseSchema,
  waitResponseSchema,
} from './machine.ts';
