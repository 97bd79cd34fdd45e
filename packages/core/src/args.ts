/**
 * Strict command-line flags on top of `node:util` parseArgs: every CLI declares its flags, and an
 * unknown or misspelt flag, a missing value or a value given to a switch is a one-line UserError that
 * names the allowed flags. Flag names are kebab-case on the command line and camelCase in the result
 * (`--nx-output` → `nxOutput`), so `stringFlag(args, 'nxOutput')` reads them.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import type { ParsedArgs } from './cli.ts';
import { UserError } from './errors.ts';

type FlagKind = 'string' | 'boolean';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parses `argv` against `spec` (kebab-case names); a bad flag is a one-line UserError listing the allowed ones. */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const options = Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }]));
  const allowed = Object.keys(spec)
    .sort()
    .map((n) => `--${n}`)
    .join(', ');
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const msg = (e as Error).message.split('\n')[0];
    const flag = /'(-{1,2}[^'\s]+)/.exec(msg)?.[1];
    let text: string;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') text = `unknown option ${flag ?? msg}; allowed: ${allowed || '(none)'}`;
    else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      text = `${flag ?? 'option'}: ${/argument missing/.test(msg) ? 'needs a value' : 'takes no value'}; allowed: ${allowed}`;
    else text = `${msg}; allowed: ${allowed || '(none)'}`;
    throw new UserError(text);
  }
  const out: ParsedArgs = { _: [...parsed.positionals] };
  for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) out[camel(k)] = v as string | boolean;
  return out;
}
