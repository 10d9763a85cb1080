// Assembles a stack's configuration the way the Pulumi CLI does: Pulumi.yaml project defaults,
// then Pulumi.<stack>.yaml, then `--config key=value` overrides (like `pulumi config set`).
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** A stack configuration: fully qualified keys (`project:key`, `gcp:project`) to raw strings. */
export type StackConfig = Record<string, string>;

/** The project root: the nearest directory above this file holding Pulumi.yaml (run from source or bin/). */
export const PROJECT_ROOT = (() => {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) return path.join(__dirname, "..");
    }
})();

/** Raised when the stack files cannot be read as Pulumi would. */
export class StackFileError extends Error {}

/** The project name in Pulumi.yaml. */
export function projectName(root = PROJECT_ROOT): string {
    return readYaml(path.join(root, "Pulumi.yaml")).name;
}

function readYaml(file: string): any {
    try {
        return parse(fs.readFileSync(file, "utf8")) ?? {};
    } catch (e) {
        throw new StackFileError(`cannot read ${path.basename(file)}: ${(e as Error).message}`);
    }
}

/** Config values are strings to the program; lists and maps arrive as JSON, as `pulumi config` stores them. */
function toRaw(key: string, value: unknown): string {
    if (value && typeof value === "object" && "secure" in (value as object)) {
        throw new StackFileError(`${key} is an encrypted secret, which cannot be decrypted offline; override it with --config ${key.split(":").pop()}=<value>`);
    }
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** Qualifies a bare key with the project name, as `pulumi config set` does. */
export function qualify(key: string, project: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/** Parses `key=value` overrides; the value may itself contain `=`. */
export function parseOverrides(pairs: string[]): Record<string, string> {
    const overrides: Record<string, string> = {};
    for (const pair of pairs) {
        const at = pair.indexOf("=");
        if (at <= 0) throw new StackFileError(`--config takes key=value, got "${pair}"`);
        overrides[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return overrides;
}

/**
 * The configuration of `stack`: project defaults, the stack file (which must exist, as with the
 * CLI, unless the stack has no file and no settings of its own), and the overrides.
 */
export function loadStackConfig(stack: string, overrides: Record<string, string> = {}, root = PROJECT_ROOT): StackConfig {
    const project = readYaml(path.join(root, "Pulumi.yaml"));
    const config: StackConfig = {};
    for (const [key, decl] of Object.entries<any>(project.config ?? {})) {
        const value = decl !== null && typeof decl === "object" && !Array.isArray(decl) ? decl.default ?? decl.value : decl;
        if (value !== undefined) config[qualify(key, project.name)] = toRaw(key, value);
    }
    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        const known = fs.readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice(7, -5));
        throw new StackFileError(`no stack "${stack}": ${path.basename(stackFile)} does not exist (stacks here: ${known.join(", ") || "none"})`);
    }
    for (const [key, value] of Object.entries(readYaml(stackFile).config ?? {})) {
        config[qualify(key, project.name)] = toRaw(key, value);
    }
    for (const [key, value] of Object.entries(overrides)) {
        config[qualify(key, project.name)] = value;
    }
    return config;
}
