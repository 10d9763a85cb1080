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
function toRaw(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** True for a value `pulumi config set --secret` stored: `{ secure: <ciphertext> }`. */
function isEncrypted(value: unknown): boolean {
    return value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value;
}

/**
 * What an encrypted value stands in for offline, where it cannot be decrypted: an empty kubeconfig
 * for the kubeconfig (so the stack renders as one targeting an existing cluster), else the mask.
 */
export function encryptedStandIn(key: string): string {
    return key.endsWith(":kubeconfig") ? JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [], contexts: [], users: [] }) : "[secret]";
}

/** Top-level keys a Pulumi stack file may hold. */
const STACK_FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

/** The `config:` mapping of a stack or project file, refusing shapes Pulumi would not read as settings. */
function configBlock(file: string, document: any, allowed: string[] | undefined): Record<string, unknown> {
    const name = path.basename(file);
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
        throw new StackFileError(`${name} is not a YAML mapping; allowed values: top-level keys such as config:`);
    }
    const stray = allowed === undefined ? [] : Object.keys(document).filter((k) => !allowed.includes(k));
    if (stray.length > 0) {
        throw new StackFileError(`${name} has the top-level key${stray.length > 1 ? "s" : ""} ${stray.map((k) => `"${k}"`).join(", ")}, which a stack file does not have ` +
            `(allowed: ${allowed!.join(", ")}); settings go under "config:", indented by two spaces`);
    }
    const config = document.config ?? {};
    if (typeof config !== "object" || Array.isArray(config)) {
        throw new StackFileError(`${name}: "config:" is ${Array.isArray(config) ? "a list" : `the ${typeof config} ${JSON.stringify(config)}`}; ` +
            `allowed values: a mapping of settings, one "<key>: <value>" per line indented under config:`);
    }
    return config;
}

/** Qualifies a bare key with the project name, as `pulumi config set` does. */
export function qualify(key: string, project: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/**
 * Parses `key=value` overrides; the value may itself contain `=`. Kept in an object without a
 * prototype, so a key such as `__proto__` stays a key (and the program refuses it as unknown)
 * instead of vanishing into the object's prototype.
 */
export function parseOverrides(pairs: string[]): Record<string, string> {
    const overrides: Record<string, string> = Object.create(null);
    for (const pair of pairs) {
        const at = pair.indexOf("=");
        if (at <= 0) throw new StackFileError(`--config takes key=value, got "${pair}"`);
        overrides[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return overrides;
}

/** A stack's configuration and which of its keys are encrypted in the stack file. */
export interface StackSettingsFile {
    config: StackConfig;
    /**
     * Fully qualified keys encrypted in the stack file: secrets. Unless overridden, their values are
     * stand-ins, since they cannot be decrypted offline.
     */
    encrypted: string[];
}

/**
 * The configuration of `stack`: project defaults, the stack file (which must exist, as with the
 * CLI, unless the stack has no file and no settings of its own), and the overrides.
 */
export function loadStackConfig(stack: string, overrides: Record<string, string> = {}, root = PROJECT_ROOT): StackConfig {
    return loadStackSettings(stack, overrides, root).config;
}

/** {@link loadStackConfig}, also naming the encrypted values replaced by stand-ins (see {@link encryptedStandIn}). */
export function loadStackSettings(stack: string, overrides: Record<string, string> = {}, root = PROJECT_ROOT): StackSettingsFile {
    const projectFile = path.join(root, "Pulumi.yaml");
    const project = readYaml(projectFile);
    const config: StackConfig = {};
    const encrypted = new Set<string>();
    for (const [key, decl] of Object.entries<any>(configBlock(projectFile, project, undefined))) {
        const value = decl !== null && typeof decl === "object" && !Array.isArray(decl) ? decl.default ?? decl.value : decl;
        if (value !== undefined) config[qualify(key, project.name)] = toRaw(value);
    }
    const stackFile = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
        const known = fs.readdirSync(root).filter((f) => /^Pulumi\..+\.yaml$/.test(f)).map((f) => f.slice(7, -5));
        throw new StackFileError(`no stack "${stack}": ${path.basename(stackFile)} does not exist (stacks here: ${known.join(", ") || "none"})`);
    }
    for (const [key, value] of Object.entries(configBlock(stackFile, readYaml(stackFile), STACK_FILE_KEYS))) {
        const qualified = qualify(key, project.name);
        if (isEncrypted(value)) encrypted.add(qualified);
        config[qualified] = isEncrypted(value) ? encryptedStandIn(qualified) : toRaw(value);
    }
    for (const [key, value] of Object.entries(overrides)) {
        config[qualify(key, project.name)] = value;
    }
    return { config, encrypted: [...encrypted] };
}
