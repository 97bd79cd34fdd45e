/** Bad input from a user (a file, a setting, an argument). Its message names what is wrong and where. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

export function isUserFacingError(e: unknown): e is Error {
  return e instanceof Error && (e.name === 'UserError' || e.name === 'ExperimentError');
}
