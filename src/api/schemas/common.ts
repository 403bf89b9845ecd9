import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../lib/error-codes.ts';

/**
 * Every error the API answers: Fly's `ErrorResponse` (`error`) plus aloft's stable
 * `code` from the catalogue (src/lib/error-codes.ts).
 */
export const errorResponseSchema = z
  .object({
    error: z.string().meta({ description: 'What went wrong, why, and the value at fault.' }),
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).meta({ description: "aloft's error code (stable)." }),
  })
  .meta({ title: 'ErrorResponse' });

/** The answer of actions that only report success (stop, delete…). */
export const okResponseSchema = z.object({ ok: z.literal(true) }).meta({ title: 'OkResponse' });
