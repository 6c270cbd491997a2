import { readFileSync } from "node:fs";
import * as v from "valibot";
import { RealerError } from "../errors.ts";
import { issuePath } from "../issue-path.ts";
import { Secret } from "../secret.ts";
import { type Config, ConfigSchema } from "./schema.ts";

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = issuePath(issue);
  let message = issue.message;
  if (message.startsWith("Invalid key:")) {
    message = issue.input === undefined ? "is required" : "unknown field";
  } else {
    message = message.replace(/^Invalid type: Expected (.+) but received (.+)$/, "expected $1, got $2");
  }
  return path === "" ? message : `${path}: ${message}`;
}

/** Parses config text; `file` names the source in errors. */
export function parseConfig(text: string, file: string): Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RealerError("config", `Cannot read config ${file}: not valid JSON (${reason})`);
  }
  const result = v.safeParse(ConfigSchema, json);
  if (!result.success) {
    throw new RealerError("config", `Cannot load config ${file}: ${describeIssue(result.issues[0])}`);
  }
  return result.output;
}

/** Reads and validates the config file at `path`. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new RealerError(
      code === "EACCES" ? "permission" : "not-found",
      `Cannot read config ${path}: ${code === "ENOENT" ? "no such file" : code ?? "unreadable"}`,
      { cause: error },
    );
  }
  return parseConfig(text, path);
}

/** Reads the client secret from where the config says, never from the config itself. */
export function readClientSecret(config: Config, file: string, env: Readonly<Record<string, string | undefined>>): Secret {
  return readSecret(config.client_secret, "client_secret", file, env);
}

/** Reads a secret from the environment variable or file `source` names; `field` names it in errors. */
export function readSecret(
  source: { env: string } | { file: string },
  field: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Secret {
  let value: string | undefined;
  if ("env" in source) {
    value = env[source.env];
    if (value === undefined || value === "") {
      throw new RealerError("config", `Cannot load config ${file}: ${field}.env: environment variable ${source.env} is not set`);
    }
  } else {
    try {
      value = readFileSync(source.file, "utf8").trim();
    } catch {
      throw new RealerError("config", `Cannot load config ${file}: ${field}.file: cannot read ${source.file}`);
    }
    if (value === "") throw new RealerError("config", `Cannot load config ${file}: ${field}.file: ${source.file} is empty`);
  }
  return new Secret(value);
}

/** Reads the PEM CA the config names, or undefined to use the runtime's default roots. */
export function readCaFile(config: Config, file: string): string | undefined {
  if (config.ca_file === undefined) return undefined;
  try {
    return readFileSync(config.ca_file, "utf8");
  } catch {
    throw new RealerError("config", `Cannot load config ${file}: ca_file: cannot read ${config.ca_file}`);
  }
}
